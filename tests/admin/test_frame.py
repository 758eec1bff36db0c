"""The admin's frame: 403 pages with a way back, no "View site", a favicon, no empty error box on job pages,
and actions only for the roles that may run them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from backoffice.background.jobs import ItemSpec, create_job
from tests.factories import AccountFactory, OrderFactory
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db


def test_403_is_in_the_admin_frame_with_a_way_back():
    order = OrderFactory(account=AccountFactory(name="shop"))
    client = Client()
    client.force_login(role_user("ship", "Shipping"))
    before = reverse("admin:orders_order_change", args=[order.pk])
    response = client.get(
        reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk]),
        HTTP_REFERER=f"http://testserver{before}",
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert "Reverb back office" in html and 'id="denied-back"' in html and before in html


def test_no_view_site_link_and_a_favicon():
    client = Client()
    client.force_login(role_user("m", "Manager"))
    html = client.get(reverse("admin:index")).content.decode()
    assert "View site" not in html
    assert 'rel="icon"' in html and "favicon.svg" in html
    assert (Path(settings.BASE_DIR) / "backoffice/static/backoffice/favicon.svg").exists()


def test_job_page_has_no_empty_error_box(admin_client, settings):
    settings.WORKER_BACKEND = "none"
    job = create_job("tests.echo", title="Echo", items=[ItemSpec("a", label="A")])
    html = admin_client.get(reverse("admin:backoffice_bulkjob_change", args=[job.pk])).content.decode()
    assert 'id="job-error" hidden' in html and 'class="errornote"' not in html


def test_viewer_cannot_verify_the_connection():
    account = AccountFactory(name="shop")
    url = reverse("admin:backoffice_reverbaccount_changelist")
    viewer = Client()
    viewer.force_login(role_user("v", "Viewer"))
    assert 'value="verify_connection"' not in viewer.get(url).content.decode()
    manager = Client()
    manager.force_login(role_user("m", "Manager"))
    assert 'value="verify_connection"' in manager.get(url).content.decode()
    assert account.pk
