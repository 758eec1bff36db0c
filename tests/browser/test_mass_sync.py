"""Start a mass sync from the account admin, watch the job page's progress bar reach 100% without a
reload, and open the per-item report and a resource's sync run from it."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.models import BulkJob, ReverbAccount
from backoffice.sync import registry
from emulator import Emulator
from emulator.server import start_in_thread, stop
from tests.conftest import EMULATOR_TEST_PACE, EMULATOR_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served_emulator() -> Any:
    emulator = Emulator(token=EMULATOR_TOKEN, seed=1, size="tiny", **EMULATOR_TEST_PACE)
    emulator.faults.slow_rate = 1.0  # every answer a little slow, so there is progress to watch
    emulator.faults.slow_seconds = 0.05
    server, origin = start_in_thread(emulator)
    yield f"{origin}/api"
    stop(server)


def test_mass_sync_progress_bar_reaches_the_end(
    page: Any, live_server: Any, admin_user: Any, admin_login: Any, served_emulator: str, settings: Any
) -> None:
    settings.WORKER_BACKEND = "thread"  # the live server's process runs the job
    settings.REVERB_RATE_PER_SECOND = 50.0
    settings.REVERB_RATE_BURST = 5
    account = ReverbAccount(name="browser-shop", api_url=served_emulator, currency="USD")
    account.set_token(EMULATOR_TOKEN)
    account.save()

    admin_login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/backoffice/reverbaccount/")
    page.check(f"input[name=_selected_action][value='{account.pk}']")
    page.select_option("select[name=action]", "mass_sync")
    page.click("button[name=index]")

    job = BulkJob.objects.get(account=account)
    page.wait_for_url(f"{live_server.url}/admin/backoffice/bulkjob/{job.pk}/change/")
    page.evaluate("window.__noReload = true")  # gone if the page reloads
    first = int(page.get_attribute("#job-progress", "value") or 0)
    page.wait_for_selector('#job-state[data-state="succeeded"]', timeout=60_000)
    assert page.evaluate("window.__noReload") is True, "the page reloaded"
    assert first < 100, "the job finished before there was progress to watch"
    assert page.get_attribute("#job-progress", "value") == "100"
    assert page.inner_text("#job-percent") == "100%"
    assert page.inner_text("#job-succeeded") == str(len(registry.order()))
    assert page.inner_text("#job-failed") == "0"
    assert page.locator("#job-cancel").is_hidden() or page.locator("#job-cancel").count() == 0

    rows = page.locator("#job-items tbody tr")
    assert rows.count() == len(registry.order())
    for n in range(rows.count()):
        assert "Succeeded" in rows.nth(n).inner_text()
    assert "fetched" in rows.first.inner_text()

    # The report: reload the job page (as anyone opening it later) and follow a row to its sync run.
    page.reload()
    assert page.locator("#job-items tbody tr").count() == len(registry.order())
    page.locator("#job-items tbody tr").first.get_by_role("link", name="open").click()
    page.wait_for_url(f"{live_server.url}/admin/backoffice/syncrun/*/change/")
    assert "listings" in page.content()

    page.goto(f"{live_server.url}/admin/backoffice/bulkjob/")
    assert "Mass sync of browser-shop" in page.inner_text("#result_list")
