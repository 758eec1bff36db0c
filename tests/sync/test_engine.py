"""The engine and the pull runner against a scripted client (the emulator end-to-end is in test_sync_demo)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.models import SyncLogEntry, SyncRun
from backoffice.sync.engine import link_related as runner_link_related
from backoffice.sync.engine import upsert_page
from backoffice.sync.runner import AccountDisabled, sync_account, sync_resource
from bench.goals.sync import WRITE_RE
from listings.models import Listing
from listings.sync import map_listing
from messaging.models import Conversation, Message
from orders.models import Order
from payouts.models import Payout, PayoutLineItem
from tests.factories import AccountFactory, listing_payload, money, order_payload
from tests.sync.fakes import Boom, FakeClient

pytestmark = pytest.mark.django_db


def rows(payloads):
    return [(*map_listing(p), p) for p in payloads]


def writes(queries):
    """INSERT/UPDATE statements on mirror tables (sync bookkeeping excluded)."""
    return [
        q["sql"]
        for q in queries
        if (write := WRITE_RE.match(q["sql"]))
        and write.group(1).upper() in ("INSERT", "UPDATE")
        and "backoffice_syncrun" not in q["sql"]
        and "backoffice_synclogentry" not in q["sql"]
        and "backoffice_ratebudget" not in q["sql"]  # the shared rate budget and its usage counters
        and "backoffice_apiusage" not in q["sql"]
    ]


# ---- upsert_page --------------------------------------------------------------------------------------


def test_a_partial_read_never_blanks_a_mirror_column():
    """GET /listings/{id} leaves sku and slug out (API-NOTES 16.1.1): absent is "not told", so the upsert
    keeps the columns; a full row and a partial row in one page each write what they told."""
    account = AccountFactory()
    upsert_page(Listing, account, rows([listing_payload(1, slug="1001-guitar"), listing_payload(2)]))
    public = {k: v for k, v in listing_payload(1, title="Retitled").items() if k not in ("sku", "slug")}
    result = upsert_page(Listing, account, rows([public, listing_payload(2, title="Full row")]))
    assert result.updated == 2
    one, two = Listing.objects.get(reverb_id="1001"), Listing.objects.get(reverb_id="1002")
    assert (one.title, one.sku, one.slug) == ("Retitled", "SKU-1", "1001-guitar")
    assert (two.title, two.sku) == ("Full row", "SKU-2")
    new = {k: v for k, v in listing_payload(3).items() if k != "sku"}
    upsert_page(Listing, account, rows([new]))  # a new row takes the column defaults for what it lacks
    assert Listing.objects.get(reverb_id="1003").sku == ""


@pytest.mark.parametrize("size", [1, 50])
def test_upsert_page_constant_queries(size, django_assert_num_queries):
    account = AccountFactory()
    page = rows([listing_payload(n) for n in range(size)])
    # SELECT existing keys/hashes + one INSERT ... ON CONFLICT, on either database.
    with django_assert_num_queries(2):
        result = upsert_page(Listing, account, page)
    assert result.created == size
    changed = rows([listing_payload(n, title=f"New {n}") for n in range(size)])
    with django_assert_num_queries(2):
        result = upsert_page(Listing, account, changed)
    assert result.updated == size
    with django_assert_num_queries(1):  # nothing changed: the SELECT only
        result = upsert_page(Listing, account, changed)
    assert result.unchanged == size


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the insert-first path is PostgreSQL's")
def test_a_first_pull_inserts_without_looking_first(django_assert_num_queries):
    """After a page of only new rows, the next is inserted first (ON CONFLICT DO NOTHING RETURNING): one
    statement a page. A page that was not all new is then finished the usual way, with exact counts."""
    account = AccountFactory()
    run = 7  # the pages of one sync run
    with django_assert_num_queries(2):  # look-up + insert: nothing guessed yet
        upsert_page(Listing, account, rows([listing_payload(n) for n in range(50)]), run=run)
    with django_assert_num_queries(1):  # the insert alone
        second = upsert_page(Listing, account, rows([listing_payload(n) for n in range(50, 100)]), run=run)
    assert (second.created, second.updated, second.unchanged) == (50, 0, 0)
    assert len(second.changed_keys) == 50
    before = Listing.objects.get(reverb_id="1000")
    mixed = [listing_payload(n, title=f"New {n}") for n in range(0, 20)]  # changed
    mixed += [listing_payload(n) for n in range(20, 40)]  # unchanged
    mixed += [listing_payload(n) for n in range(100, 110)]  # new
    with django_assert_num_queries(3):  # the insert, then the look-up and update of the rest
        third = upsert_page(Listing, account, rows(mixed), run=run)
    assert (third.created, third.updated, third.unchanged) == (10, 20, 20)
    assert sorted(third.changed_keys) == sorted([str(1000 + n) for n in [*range(20), *range(100, 110)]])
    after = Listing.objects.get(reverb_id="1000")
    assert after.title == "New 0" and after.first_synced_at == before.first_synced_at
    assert Listing.objects.filter(account=account).count() == 110
    with django_assert_num_queries(1):  # no longer guessed new: the look-up only (nothing changed)
        fourth = upsert_page(Listing, account, rows([listing_payload(n) for n in range(40, 50)]), run=run)
    assert fourth.unchanged == 10
    with django_assert_num_queries(2):  # another run (or no run: a webhook's re-read) guesses nothing
        upsert_page(Listing, account, rows([listing_payload(n) for n in range(200, 250)]), run=8)


def test_upsert_create_update_unchanged():
    account = AccountFactory()
    first = upsert_page(Listing, account, rows([listing_payload(1), listing_payload(2)]))
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    listing = Listing.objects.get(reverb_id="1001")
    created_at, synced_at = listing.first_synced_at, listing.last_synced_at
    assert listing.price == Decimal("101.00") and listing.raw["sku"] == "SKU-1"

    second = upsert_page(
        Listing, account, rows([listing_payload(1, price=money("99.50")), listing_payload(2)])
    )
    assert (second.created, second.updated, second.unchanged) == (0, 1, 1)
    assert second.changed_keys == ["1001"]
    listing.refresh_from_db()
    assert listing.price == Decimal("99.50")
    assert listing.first_synced_at == created_at and listing.last_synced_at >= synced_at
    assert Listing.objects.count() == 2


def test_upsert_same_key_twice_in_a_page_last_wins():
    account = AccountFactory()
    result = upsert_page(Listing, account, rows([listing_payload(1), listing_payload(1, title="Later")]))
    assert result.created == 1
    assert Listing.objects.get().title == "Later"


def test_keys_are_per_account():
    a, b = AccountFactory(), AccountFactory()
    upsert_page(Listing, a, rows([listing_payload(1)]))
    assert upsert_page(Listing, b, rows([listing_payload(1)])).created == 1
    assert Listing.objects.count() == 2


# ---- runner: listings (complete scans) ---------------------------------------------------------------


def test_full_scan_creates_then_skips_unchanged_with_no_writes():
    account = AccountFactory()
    client = FakeClient(listings=[[listing_payload(n) for n in range(3)], [listing_payload(3)]])
    run = sync_resource(account, "listings", client=client)
    assert (run.status, run.pages, run.fetched, run.created, run.requests) == ("success", 2, 4, 4, 2)
    assert client.calls[0] == ("listings", {"state": "all"})
    with CaptureQueriesContext(connection) as ctx:
        again = sync_resource(account, "listings", client=client)
    assert (again.unchanged, again.created, again.updated, again.missing) == (4, 0, 0, 0)
    assert writes(ctx.captured_queries) == []


def test_missing_only_after_a_complete_scan_and_cleared_on_return():
    account = AccountFactory()
    all_four = [[listing_payload(n) for n in range(4)]]
    sync_resource(account, "listings", client=FakeClient(listings=all_four))

    # A scan that fails part-way marks nothing missing (and keeps the page it landed).
    broken = FakeClient(listings=[[listing_payload(0, title="Changed")], Boom("503")])
    run = sync_resource(account, "listings", client=broken)
    assert run.status == "failed" and "Boom: 503" in run.error
    assert run.missing == 0 and not Listing.objects.filter(missing=True).exists()
    assert Listing.objects.get(reverb_id="1000").title == "Changed"

    # A complete scan without listing 3 marks it missing; nothing is deleted.
    run = sync_resource(
        account, "listings", client=FakeClient(listings=[[listing_payload(n) for n in range(3)]])
    )
    assert run.missing == 1
    gone = Listing.objects.get(reverb_id="1003")
    assert gone.missing and gone.missing_since is not None
    assert Listing.objects.count() == 4

    # It comes back: missing is cleared.
    run = sync_resource(account, "listings", client=FakeClient(listings=all_four))
    gone.refresh_from_db()
    assert not gone.missing and gone.missing_since is None
    assert run.updated == 1  # the returning row is written, the others are unchanged


def test_malformed_record_is_logged_and_the_rest_of_the_page_lands():
    account = AccountFactory()
    bad = listing_payload(2, price={"amount": "a lot", "currency": "USD"})
    client = FakeClient(listings=[[listing_payload(1), bad, listing_payload(3)]])
    run = sync_resource(account, "listings", client=client)
    assert run.status == "partial"
    assert (run.created, run.failed) == (2, 1)
    assert set(Listing.objects.values_list("reverb_id", flat=True)) == {"1001", "1003"}
    entry = SyncLogEntry.objects.get()
    assert (entry.run, entry.resource, entry.status, entry.reverb_id, entry.sku) == (
        run,
        "listings",
        "failed",
        "1002",
        "SKU-2",
    )
    assert "price.amount" in entry.message
    assert entry.raw == bad
    assert entry.web_url == "https://reverb.com/item/1002-guitar"
    # The failed record's key counts as seen: a complete scan does not mark it missing.
    assert run.missing == 0


def test_keyless_malformed_record_prevents_marking_missing():
    account = AccountFactory()
    sync_resource(account, "listings", client=FakeClient(listings=[[listing_payload(1), listing_payload(2)]]))
    run = sync_resource(
        account, "listings", client=FakeClient(listings=[[listing_payload(1), {"title": "?"}]])
    )
    assert run.failed == 1 and run.missing == 0
    assert not Listing.objects.filter(missing=True).exists()


def test_disabled_account_is_refused_and_never_called():
    account = AccountFactory(enabled=False)
    client = FakeClient(listings=[[listing_payload(1)]])
    with pytest.raises(AccountDisabled):
        sync_resource(account, "listings", client=client)
    with pytest.raises(AccountDisabled):
        sync_account(account, client=client)
    assert client.calls == [] and client.request_count == 0
    assert not SyncRun.objects.exists()


# ---- runner: orders (incremental) --------------------------------------------------------------------


def test_incremental_overlap_window_and_no_missing_on_incremental(settings):
    settings.REVERB_SYNC_OVERLAP_MINUTES = 24 * 60
    account = AccountFactory()
    client = FakeClient(orders=[[order_payload(1), order_payload(2)]])
    first = sync_resource(account, "orders", client=client)
    assert first.full and first.since is None
    assert client.calls[-1] == ("orders", {"kind": "all", "updated_start": None})

    client.collections["orders"] = [[order_payload(1, status="shipped")]]  # order 2 unchanged: not returned
    second = sync_resource(account, "orders", client=client)
    assert client.calls[-1][1]["updated_start"] == first.started_at - timedelta(hours=24)
    assert second.since == first.started_at - timedelta(hours=24) and not second.full
    assert (second.updated, second.missing) == (1, 0)
    assert not Order.objects.filter(missing=True).exists()

    third = sync_resource(account, "orders", client=client)  # the window starts at the last success
    assert client.calls[-1][1]["updated_start"] == second.started_at - timedelta(hours=24)

    # A failed run does not move the watermark.
    client.collections["orders"] = [Boom("timeout")]
    assert sync_resource(account, "orders", client=client).status == "failed"
    sync_resource(account, "orders", client=client)
    assert client.calls[-1][1]["updated_start"] == third.started_at - timedelta(hours=24)

    # --full: a complete scan again, which may mark missing.
    client.collections["orders"] = [[order_payload(1, status="shipped")]]
    full = sync_resource(account, "orders", full=True, client=client)
    assert client.calls[-1][1]["updated_start"] is None
    assert full.full and full.missing == 1


def test_refunds_ask_for_every_state_incrementally():
    account = AccountFactory()
    client = FakeClient(refund_requests=[[]])
    sync_resource(account, "refunds", client=client)
    sync_resource(account, "refunds", client=client)
    states = client.calls[-1][1]["state"]
    assert {"pending_seller_response", "approved", "denied", "conditionally_approved"} <= set(states)
    assert client.calls[-1][1]["updated_start"] is not None


# ---- links -------------------------------------------------------------------------------------------


def test_order_is_linked_to_its_listing_when_the_listing_arrives():
    account = AccountFactory()
    sync_resource(account, "orders", client=FakeClient(orders=[[order_payload(1), order_payload(9)]]))
    assert Order.objects.filter(listing__isnull=False).count() == 0  # never invented
    sync_resource(account, "listings", client=FakeClient(listings=[[listing_payload(1)]]))
    linked = Order.objects.get(order_number="5001")
    assert linked.listing == Listing.objects.get(reverb_id="1001")
    assert Order.objects.get(order_number="5009").listing is None
    assert Listing.objects.count() == 1


def test_an_order_whose_listing_is_mirrored_is_linked_in_its_first_write(monkeypatch):
    """The link is resolved inside the page's one upsert: the link step after the run rewrites no row."""
    account, other = AccountFactory(), AccountFactory()
    sync_resource(account, "listings", client=FakeClient(listings=[[listing_payload(1), listing_payload(2)]]))
    sync_resource(other, "listings", client=FakeClient(listings=[[listing_payload(9)]]))  # not ours
    relinked = []

    def counted(model, account, link):
        relinked.append(runner_link_related(model, account, link))
        return relinked[-1]

    monkeypatch.setattr("backoffice.sync.runner.link_related", counted)
    orders = [[order_payload(1), order_payload(2), order_payload(9), order_payload(3, product_id="")]]
    with CaptureQueriesContext(connection) as ctx:
        sync_resource(account, "orders", client=FakeClient(orders=orders))
    assert relinked and set(relinked) == {0}  # the link steps ran, and found nothing left to link
    inserts = [WRITE_RE.match(sql).groups() for sql in writes(ctx.captured_queries)]
    assert inserts.count(("INSERT", "orders_order")) == 1
    linked = {o.order_number: o.listing for o in Order.objects.select_related("listing")}
    assert linked["5001"] == Listing.objects.get(account=account, reverb_id="1001")
    assert linked["5002"] == Listing.objects.get(account=account, reverb_id="1002")
    assert linked["5009"] is None and linked["5003"] is None


def test_a_pull_never_moves_nor_clears_a_link():
    """An existing link stays as it is (the link step only ever fills an empty one), also when a later
    payload names another product or leaves product_id out; an empty one is filled by the next write."""
    account = AccountFactory()
    sync_resource(account, "listings", client=FakeClient(listings=[[listing_payload(1), listing_payload(2)]]))
    first = Listing.objects.get(reverb_id="1001")
    partial = {k: v for k, v in order_payload(3, status="shipped").items() if k != "product_id"}
    pages = [[order_payload(1), order_payload(3, product_id="")]]
    sync_resource(account, "orders", client=FakeClient(orders=pages))
    assert Order.objects.get(order_number="5003").listing is None
    moved = [[order_payload(1, product_id="1002", status="shipped"), partial]]
    sync_resource(account, "orders", client=FakeClient(orders=moved))
    assert Order.objects.get(order_number="5001").listing == first
    assert Order.objects.get(order_number="5003").status == "shipped"
    assert Order.objects.get(order_number="5003").listing is None
    filled = [[order_payload(3, product_id="1002", status="delivered")]]
    sync_resource(account, "orders", client=FakeClient(orders=filled))
    assert Order.objects.get(order_number="5003").listing == Listing.objects.get(reverb_id="1002")


# ---- children: messages, payout line items -----------------------------------------------------------


def conversation(n, updated="2026-10-03T12:00:00-05:00"):
    return {
        "id": n,
        "subject": f"Question {n}",
        "unread": True,
        "updated_at": updated,
        "other_party": {"id": 7, "name": "Ada"},
        "listing": {"id": 1001},
    }


def test_messages_fetched_only_for_new_or_changed_conversations():
    account = AccountFactory()
    client = FakeClient(conversations=[[conversation(1), conversation(2)]])
    for n in (1, 2):
        client.details[str(n)] = {
            **conversation(n),
            "messages": [
                {
                    "id": n * 10,
                    "body": "Hi",
                    "created_at": "2026-10-03T11:00:00-05:00",
                    "sender": {"name": "Ada"},
                }
            ],
        }
    run = sync_resource(account, "conversations", client=client)
    assert [c for c in client.calls if c[0] == "get_conversation"] == [
        ("get_conversation", {"id": 1}),
        ("get_conversation", {"id": 2}),
    ]
    (messages_run,) = run.children
    assert (messages_run.resource, messages_run.created, messages_run.requests) == ("messages", 2, 2)
    assert run.requests == 1
    assert Message.objects.get(reverb_id="10").conversation == Conversation.objects.get(reverb_id="1")

    client.calls.clear()
    client.collections["conversations"] = [
        [conversation(1), conversation(2, updated="2026-10-04T09:00:00-05:00")]
    ]
    client.details["2"]["messages"].append(
        {"id": 21, "body": "Still there?", "created_at": "2026-10-04T09:00:00-05:00"}
    )
    sync_resource(account, "conversations", client=client)
    assert [c for c in client.calls if c[0] == "get_conversation"] == [("get_conversation", {"id": 2})]
    assert Message.objects.filter(conversation__reverb_id="2").count() == 2


def payout(n):
    return {
        "total": money("50.00"),
        "created_at": "2026-10-05T08:00:00-05:00",
        "_links": {"line_items": {"href": f"http://reverb.test/api/my/payouts/{n}/line_items"}},
    }


def test_payout_line_items_followed_for_new_payouts_and_all_on_full():
    account = AccountFactory()
    client = FakeClient(payouts=[[payout(54), payout(55)]])
    for n in (54, 55):
        client.collections[f"line_items:http://reverb.test/api/my/payouts/{n}/line_items"] = [
            [{"order_number": "5001", "total": money("45.00")}]
        ]
    sync_resource(account, "orders", client=FakeClient(orders=[[order_payload(1)]]))
    run = sync_resource(account, "payouts", client=client)
    assert (run.created, run.requests) == (2, 1)
    assert run.children[0].created == 2 and run.children[0].requests == 2
    item = PayoutLineItem.objects.get(reverb_id="54:5001")
    assert item.payout == Payout.objects.get(reverb_id="54")
    assert item.order == Order.objects.get(order_number="5001")

    client.calls.clear()
    again = sync_resource(account, "payouts", client=client)
    assert again.children == [] and [c[0] for c in client.calls] == ["payouts"]

    client.calls.clear()
    sync_resource(account, "payouts", client=client, full=True)
    assert len([c for c in client.calls if c[0].startswith("line_items:")]) == 2


def test_child_fetch_failure_is_logged_and_retried_next_run():
    account = AccountFactory()
    client = FakeClient(conversations=[[conversation(1)]])  # no detail scripted: KeyError on fetch
    run = sync_resource(account, "conversations", client=client)
    assert run.children[0].failed == 1
    assert SyncLogEntry.objects.get(resource="messages").reverb_id == "1"
    client.details["1"] = {**conversation(1), "messages": []}
    client.calls.clear()
    sync_resource(account, "conversations", client=client)
    assert ("get_conversation", {"id": 1}) in client.calls
