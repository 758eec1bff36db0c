"""Webhooks: the receiver stores first and answers at once; processing re-reads through the client and
upserts idempotently; failures stay visible and replay; registration, rotation and the admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.background import webhooks
from backoffice.models import ApiCall, ReverbAccount, WebhookDelivery
from listings.models import Listing
from orders.models import Order, Payment
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

State = WebhookDelivery.State
BASE = "https://office.example.com"


@pytest.fixture
def account(emulator: Any) -> ReverbAccount:
    return AccountFactory(name="hook-shop")


@pytest.fixture
def inline(settings: Any) -> None:
    settings.WORKER_BACKEND = "inline"


@pytest.fixture
def manual(settings: Any) -> None:
    settings.WORKER_BACKEND = "none"


def first(emulator: Any, collection: str) -> dict[str, Any]:
    return emulator.state(collection)[collection][0]


Post = Callable[..., Any]


@pytest.fixture
def post(client: Client, account: ReverbAccount, django_capture_on_commit_callbacks: Any) -> Post:
    """POST a webhook; on-commit callbacks (the enqueue) run as they would after a real commit."""

    def _post(body: Any, topic: str | None = "listings/update", secret: str | None = None) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        headers = {"HTTP_X_REVERB_TOPIC": topic} if topic else {}
        url = reverse("reverb_webhook", args=[secret or account.webhook_secret])
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=data, content_type="application/json", **headers)

    return _post


# ---- receiving -----------------------------------------------------------------------------------------


def test_reread_not_trusted_the_mirror_gets_reverbs_price(inline: None, post: Post, emulator: Any) -> None:
    real = first(emulator, "listings")
    fake = {**real, "price": {"amount": "1.00", "currency": "USD"}, "title": "FAKE"}
    response = post(fake)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.error) == (State.PROCESSED, 1, "")
    assert (delivery.object_type, delivery.object_key) == ("listings", str(real["id"]))
    assert json.loads(delivery.body)["title"] == "FAKE"  # stored exactly as received
    assert delivery.headers["X-Reverb-Topic"] == "listings/update"
    row = Listing.objects.get(reverb_id=str(real["id"]))
    assert str(row.price) == real["price"]["amount"] != "1.00"
    assert row.title == real["title"] != "FAKE"


def test_unknown_secret_is_a_bare_404_and_stores_nothing(post: Post, client: Client) -> None:
    response = post({"id": 1}, secret="not-a-secret")
    assert response.status_code == 404
    assert response.content == b""
    assert not WebhookDelivery.objects.exists()


def test_only_post(client: Client, account: ReverbAccount) -> None:
    response = client.get(reverse("reverb_webhook", args=[account.webhook_secret]))
    assert response.status_code == 405
    assert not WebhookDelivery.objects.exists()


def test_receiver_is_one_select_and_one_insert(manual: None, post: Post, emulator: Any) -> None:
    body = first(emulator, "listings")
    post(body)  # warm up (session, content types)
    with CaptureQueriesContext(connection) as queries:
        assert post(body).status_code == 200
    sql = [q["sql"].split()[0] for q in queries.captured_queries]
    assert sql.count("SELECT") == 1 and sql.count("INSERT") == 1, sql
    assert WebhookDelivery.objects.filter(state=State.RECEIVED).count() == 2


def test_processing_failure_keeps_the_delivery_and_replay_fixes_it(
    inline: None, emulator: Any, post: Post, account: ReverbAccount
) -> None:
    account.set_token("wrong-token")
    account.save()
    order = first(emulator, "orders")
    assert post(order, topic="orders/update").status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.FAILED and delivery.attempts == 1
    assert "401" in delivery.error and "UnauthorizedError" in delivery.error
    assert json.loads(delivery.body) == order
    assert not Order.objects.exists()

    account.set_token("test-token-0123456789")
    account.save()
    assert webhooks.replay([delivery.pk]) == {"processed": 1}
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.error) == (State.PROCESSED, 2, "")
    assert Order.objects.get().order_number == str(order["order_number"])


def test_malformed_body_is_stored_failed(inline: None, post: Post) -> None:
    assert post("{not json", topic="orders/create").status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.body == "{not json"
    assert delivery.state == State.FAILED and "not JSON" in delivery.error


@pytest.mark.parametrize(
    ("body", "error"),
    [([1, 2], "not an object"), ({"title": "what am I"}, "looks like no known object")],
)
def test_unreadable_bodies_say_why(inline: None, post: Post, body: Any, error: str) -> None:
    post(body, topic=None)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.FAILED and error in delivery.error


def test_not_utf8_is_stored_failed(inline: None, post: Post) -> None:
    post(b'{"id": "\xff"}')
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.FAILED and "UTF-8" in delivery.error


def test_a_nul_byte_is_a_clear_400_and_stored_safely(inline: None, post: Post, emulator: Any) -> None:
    """PostgreSQL's text columns take no NUL: the body used to crash the view with a 500 there."""
    listing = first(emulator, "listings")
    response = post(json.dumps(listing).encode().replace(b'"id"', b'"i\x00d"', 1))
    assert response.status_code == 400 and b"NUL" in response.content
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.FAILED and "NUL" in delivery.error
    assert "\x00" not in delivery.body and '"id"' in delivery.body


def test_topic_inferred_from_shape_without_header(inline: None, post: Post, emulator: Any) -> None:
    order, payment, listing = (first(emulator, c) for c in ("orders", "payments", "listings"))
    for body in (order, payment, listing):
        assert post(body, topic=None).status_code == 200
    got = {(d.object_type, d.object_key, d.state) for d in WebhookDelivery.objects.all()}
    assert got == {
        ("orders", str(order["order_number"]), State.PROCESSED),
        ("payments", str(payment["id"]), State.PROCESSED),
        ("listings", str(listing["id"]), State.PROCESSED),
    }
    assert Order.objects.count() == Payment.objects.count() == 1
    # The listing delivered, and the one the order sold or restocked (re-read with the order).
    from orders.sync import STOCK_STATUSES

    sold = {str(order["product_id"])} if order["status"] in STOCK_STATUSES else set()
    assert set(Listing.objects.values_list("reverb_id", flat=True)) == {str(listing["id"]), *sold}


def test_topic_without_an_object_is_ignored(inline: None, post: Post) -> None:
    post({"app": "x"}, topic="app/uninstalled")
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.IGNORED and "app/uninstalled" in delivery.error


def test_disabled_account_stores_as_ignored(
    inline: None, post: Post, account: ReverbAccount, emulator: Any
) -> None:
    ReverbAccount.objects.filter(pk=account.pk).update(enabled=False)
    assert post(first(emulator, "listings")).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.IGNORED and delivery.attempts == 0
    assert webhooks.replay([delivery.pk]) == {"skipped": 1}
    assert not Listing.objects.exists()


def test_body_cap(settings: Any, inline: None, post: Post) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    response = post({"id": 1, "padding": "x" * 200})
    assert response.status_code == 413
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.FAILED and "larger than 100 bytes" in delivery.error
    assert delivery.body == ""
    assert post({"id": 1}, topic="app/uninstalled").status_code == 200  # under the cap: accepted


def test_reverb_404_is_processed_with_a_note(inline: None, post: Post) -> None:
    post({"id": 99999999, "make": "Nobody"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == State.PROCESSED
    assert "404" in delivery.error and "reconciliation" in delivery.error
    assert not Listing.objects.exists()


# ---- idempotence ---------------------------------------------------------------------------------------


def test_same_delivery_twice_converges_with_no_extra_writes(manual: None, post: Post, emulator: Any) -> None:
    listing = first(emulator, "listings")
    post(listing)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.process_delivery(delivery.pk).endswith("processed created")
    row = Listing.objects.get()

    # Not taken again by a plain worker run (a duplicate task): attempts stay at 1.
    assert webhooks.process_delivery(delivery.pk).endswith("nothing to do")
    delivery.refresh_from_db()
    assert delivery.attempts == 1

    table = Listing._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        assert webhooks.process_delivery(delivery.pk, replay=True).endswith("processed unchanged")
    writes = [
        q["sql"] for q in queries.captured_queries if table in q["sql"] and "SELECT" not in q["sql"][:7]
    ]
    assert writes == []
    assert Listing.objects.get().last_synced_at == row.last_synced_at

    post(listing)  # a second delivery for the same object
    assert webhooks.process_pending() == 1
    assert Listing.objects.count() == 1
    assert WebhookDelivery.objects.filter(state=State.PROCESSED).count() == 2


def test_a_change_on_reverb_lands_on_the_next_delivery(manual: None, post: Post, emulator: Any) -> None:
    listing = first(emulator, "listings")
    post(listing)
    webhooks.process_pending()
    emulator.store.table("listings")[listing["id"]]["title"] = "Renamed on Reverb"
    post(listing)
    webhooks.process_pending()
    assert Listing.objects.get().title == "Renamed on Reverb"


def test_a_twin_received_during_the_reread_gets_its_own_later_reread(
    manual: None,
    post: Post,
    emulator: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Twins received before a re-read started are settled by it; one received while it runs may say
    something that re-read did not see, so it is re-read after it (its own task), not dropped."""
    order = first(emulator, "orders")
    post(order, topic="orders/update")
    post(order, topic="orders/update")
    early = WebhookDelivery.objects.order_by("pk").last()
    reread, reads = webhooks.reread, []

    def reread_while_one_more_arrives(client: Any, target: Any) -> dict[str, Any]:
        reads.append(target)
        if len(reads) == 1:
            post(order, topic="orders/paid")  # arrives during the first re-read (stored only: "none")
            settings.WORKER_BACKEND = "inline"  # the follow-up task runs here
        return reread(client, target)

    monkeypatch.setattr(webhooks, "reread", reread_while_one_more_arrives)
    first_pk = WebhookDelivery.objects.order_by("pk").first().pk
    with django_capture_on_commit_callbacks(execute=True):  # the follow-up is sent after the commit
        assert webhooks.handle(first_pk)[0] == State.PROCESSED
    assert len(reads) == 2  # the first re-read, then the late twin's own
    rows = {row.pk: row for row in WebhookDelivery.objects.all()}
    late = max(rows)
    assert (rows[early.pk].covered_by_id, rows[early.pk].attempts) == (first_pk, 0)
    assert rows[early.pk].error == f"settled by the re-read of delivery {first_pk}"
    assert (rows[late].state, rows[late].covered_by_id, rows[late].attempts) == (State.PROCESSED, None, 1)


# ---- admin ---------------------------------------------------------------------------------------------


def test_admin_replay_action(
    admin_client: Client, inline: None, post: Post, emulator: Any, settings: Any
) -> None:
    settings.REVERB_MAX_RETRIES = 0
    emulator.faults.rate_5xx = 1.0
    post(first(emulator, "payments"), topic="payments/create")
    failed = WebhookDelivery.objects.get()
    assert failed.state == State.FAILED and "503" in failed.error
    emulator.faults.rate_5xx = 0.0
    url = reverse("admin:backoffice_webhookdelivery_changelist")
    response = admin_client.post(
        url, {"action": "replay_deliveries", "_selected_action": [failed.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Replayed: 1 processed." in response.content.decode()
    failed.refresh_from_db()
    assert failed.state == State.PROCESSED and failed.attempts == 2
    assert Payment.objects.count() == 1


def test_admin_changelist_constant_queries_and_escaped_body(
    admin_client: Client, manual: None, post: Post, emulator: Any
) -> None:
    url = reverse("admin:backoffice_webhookdelivery_changelist")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries.captured_queries)

    post("<script>alert(1)</script>")
    one = count()
    for _ in range(20):
        post(first(emulator, "listings"))
    assert count() == one
    bad = WebhookDelivery.objects.filter(body__startswith="<script>").get()
    page = admin_client.get(
        reverse("admin:backoffice_webhookdelivery_change", args=[bad.pk])
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    searched = admin_client.get(url, {"q": str(first(emulator, "listings")["id"])}).content.decode()
    assert "20 results" in searched or searched.count("field-object_key") == 20


def test_account_page_shows_the_webhook_url(admin_client: Client, account: ReverbAccount) -> None:
    page = admin_client.get(reverse("admin:backoffice_reverbaccount_change", args=[account.pk]))
    assert f"http://testserver/webhooks/reverb/{account.webhook_secret}/" in page.content.decode()


def test_rotate_secret_asks_first_then_the_old_url_404s(
    admin_client: Client, inline: None, account: ReverbAccount, post: Post
) -> None:
    old = account.webhook_secret
    url = reverse("admin:backoffice_reverbaccount_changelist")
    data = {"action": "rotate_webhook_secret", "_selected_action": [account.pk]}
    confirm = admin_client.post(url, data)
    assert confirm.status_code == 200 and "Rotate webhook secret?" in confirm.content.decode()
    account.refresh_from_db()
    assert account.webhook_secret == old

    done = admin_client.post(url, {**data, "confirmed": "yes"}, follow=True)
    assert "the old URL now answers 404" in done.content.decode()
    account.refresh_from_db()
    assert account.webhook_secret != old
    assert post({"id": 1}, topic="app/uninstalled", secret=old).status_code == 404
    assert post({"id": 1}, topic="app/uninstalled", secret=account.webhook_secret).status_code == 200


# ---- registration --------------------------------------------------------------------------------------


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("reverb_account", "webhooks", *args, stdout=out)
    return out.getvalue()


def registered(emulator: Any) -> set[tuple[str, str]]:
    return {(h["topic"], h["url"]) for h in emulator.store.table("webhooks").values()}


def test_register_skips_existing_lists_and_unregisters(emulator: Any, account: ReverbAccount) -> None:
    url = webhooks.webhook_url(account, BASE)
    assert url == f"{BASE}/webhooks/reverb/{account.webhook_secret}/"
    out = run(account.name, "--register", "--base-url", BASE + "/")
    assert out.count(" registered") == len(webhooks.TOPICS) == 7
    assert "orders/paid" in webhooks.TOPICS  # the one topic a seller token could register (API-NOTES 16.5)
    assert registered(emulator) == {(topic, url) for topic in webhooks.TOPICS}

    again = run(account.name, "--register", "--base-url", BASE)
    assert again.count("already registered") == 7
    assert len(emulator.store.table("webhooks")) == 7

    listing = run(account.name)
    assert listing.count("(ours)") == 7 and "orders/create" in listing

    removed = run(account.name, "--unregister")
    assert removed.count("removed") == 7
    assert registered(emulator) == set()


def test_register_after_rotation_replaces_the_old_urls(emulator: Any, account: ReverbAccount) -> None:
    emulator.store.table("webhooks")[1] = {  # someone else's registration is left alone
        "id": 1,
        "url": "https://other.example.com/hook",
        "topic": "orders/create",
        "created_at": emulator.store.now(),
    }
    run(account.name, "--register", "--base-url", BASE)
    old = webhooks.webhook_url(account, BASE)
    webhooks.rotate_secret(account)
    assert "(ours, old secret: 404s)" in run(account.name)
    out = run(account.name, "--register", "--base-url", BASE)
    assert out.count("(an old secret's URL)") == 7
    new = webhooks.webhook_url(account, BASE)
    assert new != old
    assert registered(emulator) == {(t, new) for t in webhooks.TOPICS} | {
        ("orders/create", "https://other.example.com/hook")
    }


def test_personal_token_refused_explains_oauth(emulator: Any, account: ReverbAccount) -> None:
    emulator.store.webhooks_require_oauth = True
    with pytest.raises(CommandError) as refused:
        run(account.name, "--register", "--base-url", BASE)
    text = str(refused.value)
    assert "Please log in via Oauth to create webhooks" in text
    assert "OAuth app" in text and "personal access token" in text and "polling" in text
    assert webhooks.webhook_url(account, BASE) in text
    assert registered(emulator) == set()


def test_invalid_topic_reported_per_topic(
    emulator: Any, account: ReverbAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "TOPICS", ("orders/create", "orders/bogus"))
    with pytest.raises(CommandError, match="1 webhook call"):
        run(account.name, "--register", "--base-url", BASE)
    assert registered(emulator) == {("orders/create", webhooks.webhook_url(account, BASE))}
    results = webhooks.register(account, BASE)
    bogus = next(r for r in results if r.topic == "orders/bogus")
    assert bogus.outcome == "failed" and "topic does not have a valid value" in bogus.detail


def test_optional_topics_reverb_does_not_offer_are_tolerated(emulator: Any, account: ReverbAccount) -> None:
    """A seller token may register only orders/paid (API-NOTES 16.5): the others' 400 is "not offered"."""
    from emulator import shop

    only_paid = ("orders/paid",)
    original = shop.WEBHOOK_TOPICS
    shop.WEBHOOK_TOPICS = only_paid
    try:
        results = webhooks.register(account, BASE)
        out = run(account.name, "--register", "--base-url", BASE)
    finally:
        shop.WEBHOOK_TOPICS = original
    outcomes = {r.topic: r.outcome for r in results}
    assert outcomes.pop("orders/paid") == "registered"
    assert set(outcomes.values()) == {"not offered"}
    assert registered(emulator) == {("orders/paid", webhooks.webhook_url(account, BASE))}
    assert "already registered" in out


def test_register_needs_a_base_url(account: ReverbAccount) -> None:
    with pytest.raises(CommandError, match="--base-url"):
        run(account.name, "--register")


def test_registration_and_removal_are_audited_without_the_secret(
    emulator: Any, account: ReverbAccount
) -> None:

    run(account.name, "--register", "--base-url", BASE)
    made = ApiCall.objects.filter(account=account, action="webhooks.register")
    assert sorted(made.values_list("target_key", flat=True)) == sorted(webhooks.TOPICS)
    assert {c.status for c in made} == {ApiCall.Status.SUCCESS}
    run(account.name, "--unregister", "--base-url", BASE)
    removed = ApiCall.objects.filter(account=account, action="webhooks.unregister")
    assert removed.count() == len(webhooks.TOPICS)
    assert {c.status for c in removed} == {ApiCall.Status.SUCCESS}
    for call in ApiCall.objects.filter(account=account):
        assert account.webhook_secret not in call.curl + json.dumps(call.request_summary) + call.message
    assert "[REDACTED]" in made.first().curl


@pytest.mark.parametrize("how", ["process_pending", "process_delivery", "replay"])
def test_an_account_disabled_after_receiving_is_never_called(
    manual: None, post: Post, account: ReverbAccount, emulator: Any, how: str
) -> None:
    """Stored while enabled, then the account is disabled: processing and replaying call nothing."""
    listing = first(emulator, "listings")
    assert post(listing).status_code == 200
    delivery = WebhookDelivery.objects.get()
    if how == "replay":  # a processed delivery, replayed after the account was disabled
        webhooks.process_delivery(delivery.pk)
        delivery.refresh_from_db()
        assert delivery.state == State.PROCESSED
        Listing.objects.all().delete()
    ReverbAccount.objects.filter(pk=account.pk).update(enabled=False)
    calls = sum(emulator.requests.values())
    if how == "process_pending":
        webhooks.process_pending()
    elif how == "process_delivery":
        webhooks.process_delivery(delivery.pk)
    else:
        webhooks.replay([delivery.pk])
    assert sum(emulator.requests.values()) == calls
    delivery.refresh_from_db()
    assert delivery.state == State.FAILED and "disabled" in delivery.error
    assert not Listing.objects.exists()


def test_an_order_delivery_rereads_the_listing_it_sold(inline: None, post: Post, emulator: Any) -> None:
    """The pull after the delivery finds the order unchanged, so the delivery re-reads the listing (by SKU,
    seller fields included) that the sale changed."""
    from emulator import core

    order = core.SIMULATIONS["new_order"](emulator, {})
    listing = emulator.store.table("listings")[int(order["product_id"])]
    before = emulator.requests[("GET", "/api/my/listings")]
    post(order, topic="orders/paid")
    assert WebhookDelivery.objects.get().state == State.PROCESSED
    assert Order.objects.filter(order_number=order["order_number"]).exists()
    assert emulator.requests[("GET", "/api/my/listings")] - before == 1
    mirrored = Listing.objects.get(reverb_id=str(listing["id"]))
    assert (mirrored.sku, mirrored.inventory) == (listing["sku"], listing["inventory"])
