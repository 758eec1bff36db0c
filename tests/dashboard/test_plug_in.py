"""The dashboard and the inbox show what the apps add from AppConfig.ready(): the core names no app."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backoffice.models import SyncRun
from backoffice.pages import dashboard, inbox
from tests.factories import AccountFactory
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db


def test_the_apps_fill_the_dashboard_and_the_inbox() -> None:
    assert dashboard.QUEUES.keys() == ["orders", "refunds", "messaging", "automation"]
    assert dashboard.PANELS.keys() == ["catalogue", "offers", "payouts-reports"]
    assert dashboard.CHARTS.keys() == ["sales", "refunds", "payouts"]
    assert inbox.kinds() == ["refund", "offer", "conversation"]
    assert inbox.DEADLINES.keys() == ["refund", "offer"]


def test_a_queue_and_an_inbox_source_an_app_adds_show_without_a_core_edit(admin_client, monkeypatch) -> None:
    account = AccountFactory()
    SyncRun.objects.create(
        account=account, resource="listings", status=SyncRun.Status.FAILED, started_at=timezone.now()
    )
    queues, sources = dashboard.QUEUES.copy(), inbox.SOURCES.copy()
    queues.add(lambda user, now: [dashboard.Queue("runs", "Failed runs", 1, "/runs/")], key="runs")
    sources.add(
        inbox.Source(
            "run",
            "Failed runs",
            "backoffice.view_syncrun",
            lambda: SyncRun.objects.filter(status=SyncRun.Status.FAILED),
            F("started_at"),
            lambda r, user, now: inbox.Item(
                "run", "Run", r.started_at, None, "", r.resource, None, "", "/runs/", "Open", r.account
            ),
        ),
        key="run",
    )
    monkeypatch.setattr(dashboard, "QUEUES", queues)
    monkeypatch.setattr(inbox, "SOURCES", sources)

    html = admin_client.get(reverse("admin:index")).content.decode()
    assert 'data-queue="runs"' in html and "Failed runs" in html
    page = admin_client.get(reverse("cs_inbox"), {"kind": "run"})
    assert [i.what for i in page.context["items"]] == ["listings"]


def test_the_index_links_the_inbox_only_for_who_may_see_a_kind_of_it() -> None:
    client = Client()
    client.force_login(role_user("nobody", None))
    assert reverse("cs_inbox") not in client.get(reverse("admin:index")).content.decode()
    client.force_login(role_user("cs", "Customer service"))
    assert 'id="inbox-link"' in client.get(reverse("admin:index")).content.decode()
