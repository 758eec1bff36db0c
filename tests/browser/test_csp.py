"""The Content-Security-Policy holds in a real browser: no violation on the dashboard, changelists and
the pages with scripts, and the behaviour moved out of inline handlers still works."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from backoffice.background.jobs import ItemSpec, create_job
from tests.factories import AccountFactory, ListingFactory, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_no_csp_violation_on_the_main_pages(page, live_server, admin_user, admin_login, settings) -> None:
    settings.JOBS_BACKEND = "none"
    account = AccountFactory(name="shop")
    ListingFactory(account=account)
    order = OrderFactory(account=account)
    job = create_job("listings.push", title="t", items=[ItemSpec("1", "one")], account=account)
    problems = watch(page)
    admin_login(page, live_server, admin_user)
    assert page.locator("#dashboard").is_visible()
    # The stylesheet applies (the dashboard's tables are full width through a class).
    width = page.eval_on_selector("#work-queues", "t => getComputedStyle(t).width")
    assert width != "auto"
    for name, args in [
        ("admin:orders_order_changelist", []),
        ("admin:listings_listing_changelist", []),
        ("admin:backoffice_syncrun_changelist", []),
        ("admin:django_q_schedule_changelist", []),
        ("admin:orders_order_packing_slip", [order.pk]),
        ("admin:backoffice_bulkjob_change", [job.pk]),
    ]:
        response = page.goto(live_server.url + reverse(name, args=args))
        assert response.ok and "content-security-policy" in {k.lower() for k in response.headers}
        page.wait_for_load_state("load")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


def test_cancel_asks_on_the_confirmation_page(page, live_server, admin_user, admin_login, settings) -> None:
    settings.JOBS_BACKEND = "none"
    job = create_job("listings.push", title="t", items=[ItemSpec("1", "one")], account=AccountFactory())
    problems = watch(page)
    admin_login(page, live_server, admin_user)
    page.goto(live_server.url + reverse("admin:backoffice_bulkjob_change", args=[job.pk]))
    page.click("#job-cancel input[type=submit]")
    assert "items not sent yet are cancelled" in page.inner_text("#will-send")
    job.refresh_from_db()
    assert not job.cancel_requested  # asked, nothing done yet
    page.click("#confirm-yes")
    page.wait_for_selector(".messagelist")
    job.refresh_from_db()
    assert job.cancel_requested
    assert not problems, problems
