"""Shop, account, vacation, reference data and webhook registrations (API-NOTES 5.1, 10.6, 10.7, 12)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from backoffice.reverb.transport import new_session
from tests.conftest import EMULATOR_API_URL as API
from tests.conftest import EMULATOR_TOKEN


@pytest.fixture
def s(emulator: Any) -> requests.Session:
    session = new_session()
    session.headers["Authorization"] = f"Bearer {EMULATOR_TOKEN}"
    session.headers["Accept-Version"] = "3.0"
    return session


def test_shop_get_and_put(s: requests.Session, emulator: Any) -> None:
    shop = s.get(f"{API}/shop").json()
    assert isinstance(shop["id"], int) and shop["name"]  # PrestaShop reads id [OFFICIAL-CODE]
    r = s.put(f"{API}/shop", json={"name": "Renamed", "shop_type": "individual"})
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["shop_type"] == "individual"
    bad = s.put(f"{API}/shop", json={"shop_type": "corporation", "currency": "XYZ"})
    assert bad.status_code == 412 and set(bad.json()["errors"]) == {"shop_type", "currency"}


def test_shop_put_refuses_every_bad_field_at_once_and_changes_nothing(s: requests.Session) -> None:
    before = s.get(f"{API}/shop").json()
    bad = s.put(
        f"{API}/shop",
        json={"name": " ", "currency": "XYZ", "shop_type": "x", "address": "Main St", "website": "w"},
    )
    assert bad.status_code == 412 and bad.json()["errors"] == {
        "name": ["can't be blank"],
        "currency": ["is not a valid currency"],
        "shop_type": ["must be individual or business"],
        "address": ["is invalid"],
    }
    assert s.get(f"{API}/shop").json() == before
    r = s.put(f"{API}/shop", json={"address": {"city": "Lyon"}, "currency": "EUR", "website": None})
    assert r.json()["address"] == {**before.get("address", {}), "city": "Lyon"}
    assert r.json()["currency"] == "EUR" and r.json()["website"] == ""


def test_account_includes_the_shop(s: requests.Session) -> None:
    account = s.get(f"{API}/my/account").json()
    shop = s.get(f"{API}/shop").json()
    assert account["shop"]["id"] == shop["id"] and account["shop"]["name"] == shop["name"]
    updated = s.put(f"{API}/my/account", json={"first_name": "Pat"}).json()
    assert updated["first_name"] == "Pat"


def test_shipping_profiles(s: requests.Session) -> None:
    shop_id = s.get(f"{API}/shop").json()["id"]
    profiles = s.get(f"{API}/shops/{shop_id}/shipping_profiles").json()["shipping_profiles"]
    assert profiles and {"id", "name", "rates"} <= set(profiles[0])
    assert profiles[0]["rates"][0]["rate"]["currency"] == "USD"
    assert s.get(f"{API}/shops/1/shipping_profiles").status_code == 404


def test_vacation_on_and_off(s: requests.Session) -> None:
    assert s.get(f"{API}/shop/vacation").json() == {"vacation": False}
    assert s.post(f"{API}/shop/vacation").json() == {"vacation": True}  # no body [3P-LIVE EDOS]
    assert s.get(f"{API}/my/listings", params={"state": "seller_unavailable"}).json()["total"] > 0
    assert s.delete(f"{API}/shop/vacation").json() == {"vacation": False}


def test_reference_data(s: requests.Session) -> None:
    conditions = s.get(f"{API}/listing_conditions").json()["conditions"]
    assert len(conditions) == 10 and {"uuid", "display_name"} == set(conditions[0])
    tree = s.get(f"{API}/categories").json()["categories"]
    assert tree[0]["subcategories"] and {"uuid", "full_name"} <= set(tree[0]["subcategories"][0])
    flat = s.get(f"{API}/categories/flat").json()["categories"]
    assert len(flat) > len(tree)
    regions = s.get(f"{API}/shipping/regions").json()["shipping_regions"]
    assert {"code", "name", "children"} <= set(regions[0])
    providers = [p["name"] for p in s.get(f"{API}/shipping/providers").json()["shipping_providers"]]
    assert "UPS" in providers and providers[-1] == "Other"


def test_webhook_registrations(s: requests.Session, emulator: Any) -> None:
    r = s.post(
        f"{API}/webhooks/registrations", json={"url": "https://hooks.example/x?k=1", "topic": "orders/create"}
    )
    assert r.status_code == 201
    hook = r.json()
    assert s.get(f"{API}/webhooks/registrations").json()["registrations"][0]["id"] == hook["id"]
    assert s.get(f"{API}/webhooks/registrations/{hook['id']}").json()["topic"] == "orders/create"
    assert s.get("http://reverb.test/__emulator__/state/webhooks").json()["total"] == 1
    bad = s.post(f"{API}/webhooks/registrations", json={"url": "https://h.example", "topic": "orders/nope"})
    assert bad.status_code == 400 and bad.json()["message"] == "topic does not have a valid value"
    assert s.post(f"{API}/webhooks/registrations", json={"topic": "orders/create"}).status_code == 400
    assert s.delete(f"{API}/webhooks/registrations/{hook['id']}").status_code == 200
    assert s.get(f"{API}/webhooks/registrations/{hook['id']}").status_code == 404
    emulator.store.webhooks_require_oauth = True
    oauth = s.post(
        f"{API}/webhooks/registrations", json={"url": "https://h.example", "topic": "orders/create"}
    )
    assert (
        oauth.status_code == 401 and oauth.json()["message"] == "Please log in via Oauth to create webhooks"
    )


def test_listing_webhooks_are_posted(
    s: requests.Session, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted: list[tuple[str, dict[str, Any]]] = []

    class _Answer:
        status_code = 200

    def fake_post(url: str, data: str, **kwargs: Any) -> _Answer:
        import json

        posted.append((kwargs["headers"]["X-Reverb-Topic"], json.loads(data)))
        return _Answer()

    monkeypatch.setattr("emulator.app.requests.post", fake_post)
    s.post(f"{API}/webhooks/registrations", json={"url": "https://h.example/u", "topic": "listings/update"})
    record = next(r for r in emulator.store.table("listings").values() if r["state"] == "live")
    s.put(f"{API}/my/listings/{record['id']}/state/end", json={"reason": "not_sold"})
    assert posted and posted[0][0] == "listings/update" and posted[0][1]["id"] == record["id"]
    assert posted[0][1]["state"]["slug"] == "ended"  # the bare listing object (API-NOTES 12)
