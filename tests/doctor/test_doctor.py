"""The Reverb doctor: GET only, no difference against our own emulator, each difference named on a shop
that answers otherwise, and a capture without personal data."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from backoffice.background.jobs import job_url
from backoffice.models import BulkJob
from backoffice.reverb.transport import register_transport, unregister_transport
from backoffice.sync import doctor
from backoffice.sync.runner import sync_resource
from emulator.adapter import EmulatorAdapter
from emulator.replay import CaptureReplay
from listings.models import Listing
from orders.models import Order
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def run(account_name: str, tmp_path: Path) -> str:
    out = StringIO()
    call_command("reverb_doctor", account_name, "--capture", str(tmp_path / "cap"), stdout=out)
    return out.getvalue()


def test_emulator_shop_shows_no_difference_and_only_gets(emulator: Any, tmp_path: Path) -> None:
    account = AccountFactory(name="demo")
    output = run(account.name, tmp_path)
    assert "0 of" in output.splitlines()[-2], output
    assert all(method == "GET" for method, _ in emulator.requests), emulator.requests
    assert "listings: ok" in output and "no difference" in output


class Rewriting(EmulatorAdapter):
    """A shop that answers otherwise: the emulator's answers, rewritten the way a live shop could."""

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = super().send(request, **kwargs)
        if request.method != "GET" or not response.content:
            return response
        body = json.loads(response.content)
        for listing in body.get("listings") or []:
            listing.pop("sku", None)  # a key our mapper reads, absent
            listing["inventory"] = str(listing.get("inventory"))  # another type
            listing["shop_flags"] = {"new": True}  # a key we never heard of
        response._content = json.dumps(body).encode()
        return response


def test_a_shop_that_answers_otherwise_is_described_key_by_key(emulator: Any, tmp_path: Path) -> None:
    register_transport("http://other-shop.test/", Rewriting(emulator))
    try:
        account = AccountFactory(name="other", api_url="http://other-shop.test/api")
        output = run(account.name, tmp_path)
    finally:
        unregister_transport("http://other-shop.test/")
    listings = output.split("listings: ok", 1)[1].split("\n" + "listing (single read)", 1)[0]
    assert "keys our mapper reads, absent: sku" in listings
    assert "inventory: expected number, got string" in listings
    assert "unknown keys: shop_flags" in listings
    assert "1 of" in output.splitlines()[-2] and ": listings" in output.splitlines()[-2]


def test_capture_replaces_people_keeps_ids_and_loads_back(emulator: Any, tmp_path: Path) -> None:
    account = AccountFactory(name="demo")
    run(account.name, tmp_path)
    captured = doctor.load_capture(tmp_path / "cap")
    orders = captured["orders"]
    assert orders, "the capture holds the orders page"
    for order in orders:
        assert order["order_number"]  # ids kept
        address = order.get("shipping_address") or {}
        for key in ("name", "street_address", "postal_code"):
            if address.get(key):
                assert set(address[key]) <= set("x0 -.,'/#&()"), address[key]
        if order.get("buyer_email"):
            assert set(order["buyer_email"]) <= set("x0@.-_+"), order["buyer_email"]
        if address.get("_links"):
            assert "xxxx://" not in json.dumps(address["_links"])  # links are kept as they came
    messages = captured["messages"]
    assert messages and all(set(m["body"]) <= set("x0 .,!?'-") for m in messages)
    manifest = json.loads((tmp_path / "cap" / "manifest.json").read_text())
    assert manifest["account"] == "demo" and "orders" in manifest["resources"]


def test_stand_in_keeps_length_and_shape() -> None:
    assert doctor.stand_in("Ann Lee <ann@x.io> 42") == "xxx xxx <xxx@x.xx> 00"
    redacted = doctor.redact(
        {
            "id": 7,
            "buyer_name": "Ann",
            "condition": {"name": "Mint"},
            "shipping_address": {"locality": "Leeds", "country_code": "GB"},
        }
    )
    assert redacted == {
        "id": 7,
        "buyer_name": "xxx",
        "condition": {"name": "Mint"},
        "shipping_address": {"locality": "xxxxx", "country_code": "GB"},
    }


def test_keys_read_follows_nested_objects_and_lists() -> None:
    def mapper(payload: Any) -> tuple[str, dict[str, Any]]:
        price = payload.get("price") or {}
        return str(payload["id"]), {
            "amount": price.get("amount"),
            "photos": [p.get("_links") for p in payload.get("photos") or []],
        }

    read = doctor.keys_read(mapper, [{"id": 1, "price": {"amount": "1"}, "photos": [{"_links": {}}]}])
    assert {"id", "price", "price.amount", "photos", "photos[]._links"} <= read


def test_a_capture_served_again_is_a_read_only_shop_the_product_syncs(emulator: Any, tmp_path: Path) -> None:
    run(AccountFactory(name="demo").name, tmp_path)
    replay = CaptureReplay(tmp_path / "cap", token="replay-token")
    register_transport("http://capture.test/", EmulatorAdapter(replay))
    try:
        account = AccountFactory(name="replayed", api_url="http://capture.test/api", token="replay-token")
        assert sync_resource(account, "listings").error == ""
        assert sync_resource(account, "orders").error == ""
        captured = doctor.load_capture(tmp_path / "cap")
        assert Listing.objects.filter(account=account).count() == len(captured["listings"])
        orders = Order.objects.filter(account=account)
        assert orders.count() == len(captured["orders"])
        assert all(set(o.buyer_name) <= set("x0 -.'") for o in orders)  # the people stayed behind
        out = StringIO()
        call_command("reverb_doctor", account.name, "--no-capture", stdout=out)
        assert "0 of" in out.getvalue().splitlines()[-1], out.getvalue()
        client = account.client()
        order_number = captured["orders"][0]["order_number"]
        assert client.get_order(order_number)["order_number"] == order_number  # from the collection
        with pytest.raises(Exception, match="read-only"):
            client.ship_order(order_number, "UPS", "1Z999", True)
    finally:
        unregister_transport("http://capture.test/")


def test_admin_action_runs_the_doctor_as_a_job_a_manager_reads(
    emulator: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:

    settings.WORKER_BACKEND = "inline"
    account = AccountFactory(name="shop")
    boss = User.objects.create_user("boss", password="password", is_staff=True)
    boss.groups.add(Group.objects.get(name="Manager"))
    client = Client()
    client.force_login(boss)
    url = reverse("admin:backoffice_reverbaccount_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "run_doctor", "_selected_action": [account.pk]})
    job = BulkJob.objects.get(kind=doctor.DOCTOR, account=account)
    assert response.status_code == 302 and response["Location"] == job_url(job)
    job.refresh_from_db()
    assert job.state == "succeeded", (job.state, job.error)
    item = job.items.get()
    assert item.message.startswith("No difference in 13 resources.") and "orders: ok" in item.message
    assert "The token has every scope" in item.message and "write_offers: ok" in item.message
    # Reads only, but for the scope probes: writes to an object that cannot exist (id 0), which change
    # nothing and may run again when a restarted item repeats.
    assert emulator.writes and all(path.split("/")[-1] == "0" or "/0/" in path for path in emulator.writes)


def test_shipping_staff_cannot_run_the_doctor() -> None:

    account = AccountFactory(name="shop")
    clerk = User.objects.create_user("clerk", password="password", is_staff=True)
    clerk.groups.add(Group.objects.get(name="Shipping"))
    client = Client()
    client.force_login(clerk)
    url = reverse("admin:backoffice_reverbaccount_changelist")
    client.post(url, {"action": "run_doctor", "_selected_action": [account.pk]})
    assert not BulkJob.objects.exists()


def test_the_emulators_second_variant_is_named_resource_by_resource(tmp_path: Path) -> None:
    """Against the alt shapes of the guessed resources, the doctor names each difference."""
    from emulator import Emulator
    from tests.conftest import EMULATOR_TEST_PACE

    alt = Emulator(token="alt-token", seed=1, size="tiny", variant="alt", **EMULATOR_TEST_PACE)
    register_transport("http://alt-shop.test/", EmulatorAdapter(alt))
    try:
        account = AccountFactory(name="alt", api_url="http://alt-shop.test/api", token="alt-token")
        output = run(account.name, tmp_path)
    finally:
        unregister_transport("http://alt-shop.test/")
    summary = output.splitlines()[-2]
    for guessed in ("conversations", "messages", "payments", "payout_line_items"):
        assert guessed in summary, summary
    differing = summary.split(": ", 1)[1].split(", ")
    assert "listings" not in differing and "orders" not in differing, summary  # grounded shapes agree
    messages = output.split("\nmessages:", 1)[1].split("\nnegotiations:", 1)[0]
    assert "keys our mapper reads, absent: body" in messages, messages
    assert "id: expected number, got string" in messages


def test_over_real_http_the_doctor_reads_every_page(tmp_path: Path) -> None:
    """Over a socket the client streams each body; recording the answers must not take them from it
    (a response hook did: every page then read as empty)."""
    from emulator import Emulator
    from emulator.server import start_in_thread, stop
    from tests.conftest import EMULATOR_TEST_PACE

    emu = Emulator(token="http-token", seed=1, size="tiny", **EMULATOR_TEST_PACE)
    server, origin = start_in_thread(emu)
    try:
        account = AccountFactory(name="over-http", api_url=f"{origin}/api", token="http-token")
        output = run(account.name, tmp_path)
    finally:
        stop(server)
    assert "listings: ok, 12 record(s); no difference" in output, output
    assert doctor.load_capture(tmp_path / "cap")["orders"], "the capture holds the orders page"
