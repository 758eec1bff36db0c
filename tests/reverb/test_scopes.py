"""Token scopes (issue 26): the emulator answers 403 where a token lacks the scope a route needs, as Reverb
does, and the back office checks every scope it needs with harmless requests and says what will not work."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from backoffice.reverb import scopes
from backoffice.reverb.errors import ForbiddenError
from backoffice.sync.runner import sync_resource
from emulator import core
from emulator import scopes as token_scopes
from tests.conftest import EMULATOR_ORIGIN
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

# Routes that need no scope: Reverb's public reference lists, the public listing, webhook registrations.
PUBLIC = {
    ("GET", "/api/categories"),
    ("GET", "/api/categories/flat"),
    ("GET", "/api/listing_conditions"),
    ("GET", "/api/listings/{listing_id}"),
    ("GET", "/api/shipping/providers"),
    ("GET", "/api/shipping/regions"),
}


def test_every_emulated_route_needs_a_scope_or_is_known_public() -> None:
    loose = [
        (r.method, r.template)
        for r in core.router.routes
        if r.template.startswith("/api/")
        and not r.template.startswith("/api/webhooks")
        and token_scopes.required(r.method, r.template) is None
        and (r.method, r.template) not in PUBLIC
    ]
    assert loose == []
    assert token_scopes.required("POST", "/api/my/negotiations/{negotiation_id}/counter") == "write_offers"
    assert token_scopes.required("GET", "/api/my/listings/negotiations") == "read_offers"
    assert token_scopes.required("POST", "/api/my/orders/selling/{order_number}/ship") == "write_orders"


def test_a_token_without_the_offers_scopes_is_refused_offers_and_nothing_else(emulator: Any) -> None:
    emulator.scopes = token_scopes.ALL_SCOPES - {"read_offers", "write_offers"}
    account = AccountFactory()
    client = account.client()
    with pytest.raises(ForbiddenError):
        client.request("GET", "/my/listings/negotiations")
    assert client.request("GET", "/my/orders/selling/all")  # other scopes still work
    run = sync_resource(account, "negotiations")
    assert run.status == "failed" and "not authorized" in run.error


def test_the_check_names_each_missing_scope_and_what_stops_working(emulator: Any) -> None:
    emulator.scopes = token_scopes.ALL_SCOPES - {"read_offers", "write_orders"}
    account = AccountFactory()
    before = {name: dict(rows) for name, rows in emulator.store.tables.items() if rows}
    found = {f.need.scope: f.state for f in scopes.check(account.client())}
    assert found == {need.scope: "ok" for need in scopes.NEEDS} | {
        "read_offers": "missing",
        "write_orders": "missing",
    }
    after = {name: dict(rows) for name, rows in emulator.store.tables.items() if rows}
    assert after == before  # nothing changed
    summary = account.check_scopes()
    assert "pulling offers (needs read_offers)" in summary and "shipping orders" in summary
    account.refresh_from_db()
    assert account.scopes_found["missing"] == ["write_orders", "read_offers"]


def test_a_full_token_passes_and_a_refused_token_stops_the_check_at_once(emulator: Any) -> None:
    good = AccountFactory(name="good")
    assert good.check_scopes() == "The token has every scope the back office needs."
    bad = AccountFactory(name="bad", token="not-the-token")
    found = scopes.check(bad.client())
    assert {f.state for f in found} == {"unknown"}  # one refused request, then the rest not checked
    assert all("the token was refused" in f.detail for f in found)


def test_the_account_page_and_the_command_show_missing_scopes(emulator: Any, admin_client: Client) -> None:
    emulator.scopes = token_scopes.ALL_SCOPES - {"read_payouts"}
    account = AccountFactory(name="shop")
    out = io.StringIO()
    call_command("reverb_account", "check", "shop", stdout=out)
    assert "pulling payouts and the payouts reconciliation (needs read_payouts)" in out.getvalue()
    page = admin_client.get(reverse("admin:backoffice_reverbaccount_change", args=[account.pk]))
    assert "read_payouts: MISSING" in page.content.decode()


def test_the_emulator_takes_scopes_from_its_control_api(emulator: Any) -> None:
    session = AccountFactory().client().session
    url = f"{EMULATOR_ORIGIN}/__emulator__/scopes"
    answer = session.post(url, json={"scopes": "read_listings read_orders"})
    assert answer.json() == {"scopes": ["read_listings", "read_orders"]}
    assert emulator.scopes == {"read_listings", "read_orders"}
    assert session.post(url, json={"scopes": None}).json() == {"scopes": None}
    with pytest.raises(ValueError):
        token_scopes.parse(["read_everything"])
