"""The nightly reconciliation end to end against the emulator: what changed behind the mirror's back is
repaired and reported, with the fields that differed; failures and conflicts are left for a person and
emailed; a second run is clean."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.management import call_command

from backoffice.models import ReconciliationFinding, ReconciliationReport, ReverbAccount
from backoffice.reverb.client import ReverbClient
from backoffice.reverb.ratelimit import UnlimitedRateLimiter
from backoffice.roles import MANAGER
from backoffice.sync import registry
from backoffice.sync.reconcile import reconcile_account
from backoffice.sync.runner import sync_account
from emulator import core
from emulator.faults import Faults
from listings.models import Listing
from orders.models import Order
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

Action = ReconciliationFinding.Action
State = ReconciliationReport.State


_BUILD_CLIENT = ReverbAccount.client  # the real one, even while a test patches it with fast_client


def fast_client(account: ReverbAccount) -> ReverbClient:
    return _BUILD_CLIENT(account, rate_limiter=UnlimitedRateLimiter(), sleep=lambda s: None)


def simulate(emulator: Any, event: str, **params: Any) -> dict[str, Any]:
    with emulator.lock:
        return core.SIMULATIONS[event](emulator, params)


@pytest.fixture
def account(emulator: Any) -> ReverbAccount:
    account = AccountFactory(name="main-shop")
    runs = sync_account(account, client=fast_client(account))
    assert all(run.ok for run in runs)
    return account


@pytest.fixture
def manager(account: ReverbAccount) -> User:
    """A Manager of the account (the summary goes to the shop's people: backoffice/people.py)."""
    user = User.objects.create_user("mona", "mona@example.com", "x")
    user.groups.add(Group.objects.get_or_create(name=MANAGER)[0])
    account.members.add(user)
    User.objects.create_user("no-mail", "", "x").groups.add(Group.objects.get(name=MANAGER))
    return user


def reconcile(account: ReverbAccount) -> ReconciliationReport:
    return reconcile_account(account, client=fast_client(account))


def findings(report: ReconciliationReport, **filters: Any) -> list[tuple[str, ...]]:
    rows = report.findings.filter(**filters).values_list(
        "resource", "object_key", "field", "ours", "theirs", "action"
    )
    return sorted(rows)


def live_listing(emulator: Any) -> dict[str, Any]:
    return next(x for x in emulator.state("listings")["listings"] if x["state"]["slug"] == "live")


def listing_without_offers(emulator: Any) -> dict[str, Any]:
    """A live listing no negotiation points at: the emulator's /my/listings/negotiations fails (KeyError)
    when a listing with a negotiation has been deleted."""
    with emulator.lock:
        offered = {n["listing_id"] for n in emulator.store.table("negotiations").values()}
    return next(
        x
        for x in emulator.state("listings")["listings"]
        if x["state"]["slug"] == "live" and x["id"] not in offered
    )


def test_nothing_changed_is_clean_and_not_emailed(account: ReverbAccount, manager: User) -> None:
    report = reconcile(account)
    assert report.state == State.CLEAN
    assert report.findings.count() == 0
    assert set(report.counts) >= set(registry.order())
    assert report.counts["listings"]["checked"] == Listing.objects.filter(account=account).count() > 0
    assert all(
        c["created"] == c["updated"] == c["missing"] == c["failures"] == 0 for c in report.counts.values()
    )
    assert report.finished_at is not None and not report.emailed
    assert mail.outbox == []


def test_price_changed_behind_the_mirrors_back_is_repaired(account: ReverbAccount, emulator: Any) -> None:
    listing = live_listing(emulator)
    old = Listing.objects.get(account=account, reverb_id=str(listing["id"])).price
    simulate(emulator, "listing_changed", listing_id=listing["id"], price="1234.50")

    report = reconcile(account)

    assert report.state == State.REPAIRED
    assert findings(report) == [
        ("listings", str(listing["id"]), "price", f"{old:f}", "1234.50", Action.REPAIRED)
    ]
    assert report.counts["listings"]["updated"] == 1
    assert Listing.objects.get(account=account, reverb_id=str(listing["id"])).price == Decimal("1234.50")
    assert reconcile(account).state == State.CLEAN  # repaired for good


def test_new_and_changed_orders(account: ReverbAccount, emulator: Any) -> None:
    existing = emulator.state("orders")["orders"][0]
    simulate(emulator, "order_changed", order_number=existing["order_number"], status="received")
    before = Order.objects.get(account=account, reverb_id=existing["order_number"]).status
    assert before != "received"
    new = simulate(emulator, "new_order", listing_id=live_listing(emulator)["id"])

    report = reconcile(account)

    orders = report.findings.filter(resource="orders")
    created = orders.get(action=Action.CREATED)
    assert created.object_key == str(new["order_number"])
    assert created.object_label  # a title or SKU a person recognises
    status = orders.get(object_key=existing["order_number"], field="status")
    assert (status.ours, status.theirs, status.action) == (before, "received", Action.REPAIRED)
    assert report.counts["orders"]["created"] == 1 and report.counts["orders"]["updated"] >= 1
    assert Order.objects.filter(account=account, reverb_id=str(new["order_number"])).exists()


def test_listing_deleted_is_marked_missing(account: ReverbAccount, emulator: Any) -> None:
    listing = listing_without_offers(emulator)
    simulate(emulator, "listing_deleted", listing_id=listing["id"])

    report = reconcile(account)

    assert report.state == State.REPAIRED
    finding = report.findings.get(resource="listings", action=Action.MARKED_MISSING)
    assert finding.object_key == str(listing["id"]) and finding.object_label == listing["title"]
    assert report.counts["listings"]["missing"] == 1
    row = Listing.objects.get(account=account, reverb_id=str(listing["id"]))
    assert row.missing and row.missing_since is not None  # kept, not deleted


def test_record_failures_are_reported_and_emailed(
    account: ReverbAccount, emulator: Any, monkeypatch: pytest.MonkeyPatch, manager: User, settings: Any
) -> None:
    import dataclasses

    settings.ADMINS = [("Ops", "ops@example.com")]
    bad_id = str(live_listing(emulator)["id"])
    resource = registry.get("listings")

    def mapper(payload: Any) -> Any:
        if str(payload.get("id")) == bad_id:
            raise ValueError("price is not a number")
        return resource.mapper(payload)

    monkeypatch.setitem(registry.resources(), "listings", dataclasses.replace(resource, mapper=mapper))
    report = reconcile(account)

    assert report.state == State.NEEDS_ATTENTION
    failed = report.findings.get(action=Action.FAILED)
    assert (failed.resource, failed.object_key) == ("listings", bad_id)
    assert "price is not a number" in failed.reason
    assert report.counts["listings"]["failures"] == 1
    assert report.emailed
    # The shop's Manager gets what needs a person; the operators (ADMIN_EMAILS) counts and the link only.
    assert [m.to for m in mail.outbox] == [["mona@example.com"], ["ops@example.com"]]
    link = f"/admin/backoffice/reconciliationreport/{report.pk}/"
    for message in mail.outbox:
        assert "main-shop" in message.subject and "needs a person" in message.subject
        assert link in message.body
    assert bad_id in mail.outbox[0].body and "Needs a person:\n" in mail.outbox[0].body
    assert bad_id not in mail.outbox[1].body and "Needs a person: 1 finding(s)" in mail.outbox[1].body


def test_a_scan_that_fails_fails_the_report(account: ReverbAccount, emulator: Any, manager: User) -> None:
    emulator.faults = Faults(rate_5xx=1.0)
    report = reconcile(account)
    assert report.state == State.FAILED
    assert "listings" in report.error
    assert report.findings.filter(resource="listings", action=Action.FAILED, object_key="").exists()
    assert not Listing.objects.filter(missing=True).exists()  # an unfinished scan marks nothing missing
    assert report.emailed and len(mail.outbox) == 1


def test_remote_change_on_a_pending_local_edit_is_left_for_a_person(
    account: ReverbAccount, emulator: Any, manager: User
) -> None:
    from listings import editing

    listing = live_listing(emulator)
    row = Listing.objects.get(account=account, reverb_id=str(listing["id"]))
    editing.record_edits(row, {"price": "999.00"})
    row.save(update_fields=["pending_changes"])
    simulate(emulator, "listing_changed", listing_id=listing["id"], price="1500.00")

    report = reconcile(account)

    assert report.state == State.NEEDS_ATTENTION
    left = report.findings.get(action=Action.LEFT_FOR_PERSON)
    assert (left.resource, left.object_key, left.field) == ("listings", str(listing["id"]), "price")
    assert (left.ours, left.theirs) == ("999.00", "1500.00")
    assert report.counts["listings"]["conflicts"] == 1
    row.refresh_from_db()
    assert row.pending_changes["price"]["value"] == "999.00"  # the local edit is not lost
    assert row.price == Decimal("1500.00")  # the mirror shows Reverb's value
    assert len(mail.outbox) == 1 and "Needs a person" in mail.outbox[0].body


def test_disabled_account_is_not_reconciled(account: ReverbAccount) -> None:
    from backoffice.sync.runner import AccountDisabled

    account.enabled = False
    account.save()
    with pytest.raises(AccountDisabled):
        reconcile(account)
    assert not ReconciliationReport.objects.exists()


def test_resuming_a_report_skips_the_resources_done(account: ReverbAccount, emulator: Any) -> None:
    report = ReconciliationReport.objects.create(account=account, counts={"listings": {"checked": 7}})
    listing = live_listing(emulator)
    simulate(emulator, "listing_changed", listing_id=listing["id"], price="1.00")
    done = reconcile_account(account, client=fast_client(account), report=report)
    assert done.pk == report.pk and done.counts["listings"] == {"checked": 7}
    assert "orders" in done.counts and not done.findings.filter(resource="listings").exists()


def test_reconcile_command(account: ReverbAccount, emulator: Any, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(emulator, "listing_changed", listing_id=live_listing(emulator)["id"], title="Renamed")
    call_command("reconcile", "--account", "main-shop")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("main-shop: Repaired (checked=")
    assert any(line.startswith("  listings: checked=") and "updated=1" in line for line in out)
    report = ReconciliationReport.objects.get()
    assert report.findings.get().field == "title"


# ---- the admin ------------------------------------------------------------------------------------------


def make_report(account: ReverbAccount, findings_count: int, **fields: Any) -> ReconciliationReport:
    report = ReconciliationReport.objects.create(
        account=account,
        state=fields.get("state", State.NEEDS_ATTENTION),
        counts={
            "listings": {
                "checked": 10,
                "created": 1,
                "updated": 2,
                "missing": 0,
                "conflicts": 1,
                "failures": findings_count,
            }
        },
    )
    ReconciliationFinding.objects.bulk_create(
        ReconciliationFinding(
            report=report,
            resource="listings",
            object_key=str(i),
            object_label=f"<b>Guitar {i}</b>",
            field="price",
            ours="1.00",
            theirs="2.00",
            action=Action.FAILED,
            reason=f"reason {i}",
        )
        for i in range(findings_count)
    )
    return report


def count_queries(client: Any, url: str) -> tuple[int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_report_admin_pages_render_with_constant_queries(client: Any, emulator: Any) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    shop = AccountFactory(name="other-shop")
    small, big = make_report(shop, 3), make_report(shop, 40)
    for _ in range(3):
        make_report(shop, 1)

    url = "/admin/backoffice/reconciliationreport/"
    few, html = count_queries(client, url)
    assert html.index(f"/{big.pk}/change/") < html.index(f"/{small.pk}/change/")  # newest first
    for _ in range(10):
        make_report(shop, 1)
    many, _ = count_queries(client, url)
    assert few == many
    filtered, html = count_queries(client, f"{url}?state__exact=attention&account__id__exact={shop.pk}")
    assert f"/{big.pk}/change/" in html

    page = f"{url}{{}}/change/"
    q_small, html = count_queries(client, page.format(small.pk))
    assert "Guitar 2" in html and "<b>Guitar" not in html  # labels are escaped
    q_big, html = count_queries(client, page.format(big.pk))
    assert q_small == q_big
    assert "reason 39" in html or "page=2" in html
    _, html = count_queries(client, page.format(big.pk) + "?resource=orders")
    assert "No findings" in html
    assert client.get(page.format(big.pk) + "?action=bogus").status_code == 200
    assert client.get(page.format(999999)).status_code == 404
    # read only
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{big.pk}/delete/").status_code == 403


def test_report_admin_needs_view_permission(client: Any, emulator: Any) -> None:
    report = make_report(AccountFactory(name="x-shop"), 1)
    staff = User.objects.create_user("staff", "", "x", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/admin/backoffice/reconciliationreport/{report.pk}/change/").status_code == 403
