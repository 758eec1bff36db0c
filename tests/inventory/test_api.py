"""The inventory API: integration keys, the OpenAPI schema, PUT /api/v1/stock/ and the read API."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.models import ReverbAccount, SyncLogEntry
from inventory.models import IdempotentRequest, Integration, IntegrationCall, StockIntent, hash_key
from listings.models import Listing
from orders.models import SkuMapping
from tests.factories import OrderFactory
from tests.inventory.conftest import integration_for, inventory_listing, used_listing

URL = "/api/v1/stock/"


def test_key_is_stored_hashed_only(account: ReverbAccount) -> None:
    integration, key = integration_for(account)
    secret = key.split("_", 2)[2]
    row = Integration.objects.get(pk=integration.pk)
    assert secret not in str(row.__dict__.values())
    assert row.key_hash == hash_key(secret) and row.matches(secret) and not row.matches(secret + "x")


def test_no_key_wrong_key_and_revoked_key_are_refused(account: ReverbAccount, api: APIClient) -> None:
    listing = inventory_listing(account)
    body = {"items": [{"sku": listing.sku, "quantity": 3}]}
    assert APIClient().put(URL, body, format="json").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer rbo_000000000000_nope")
    assert bad.put(URL, body, format="json").status_code == 401
    assert api.put(URL, body, format="json").status_code == 200
    Integration.objects.update(revoked_at=timezone.now())
    answer = api.put(URL, body, format="json")
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]


def test_staff_session_is_not_an_api_credential(account: ReverbAccount, admin_client: Any) -> None:
    listing = inventory_listing(account)
    answer = admin_client.put(
        URL, {"items": [{"sku": listing.sku, "quantity": 3}]}, content_type="application/json"
    )
    assert answer.status_code in (401, 403)
    assert not StockIntent.objects.exists()


def test_a_key_is_scoped_to_its_account(account: ReverbAccount, emulator: Any) -> None:
    other = ReverbAccount.objects.create(name="other", api_url=account.api_url)
    listing = inventory_listing(account)
    _, key = integration_for(other)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    answer = client.put(URL, {"items": [{"sku": listing.sku, "quantity": 3}]}, format="json").json()
    assert answer["rows"][0]["status"] == "refused" and not StockIntent.objects.exists()


def test_schema_is_served(client: Any, db: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    spec = schema.json()
    assert "/api/v1/stock/" in spec["paths"] and "put" in spec["paths"]["/api/v1/stock/"]
    assert "integrationKey" in spec["components"]["securitySchemes"]


def test_put_answers_per_row_and_queues(account: ReverbAccount, api: APIClient, emulator: Any) -> None:
    listing = inventory_listing(account)
    used = used_listing(account)
    before = sum(emulator.requests.values())
    answer = api.put(
        URL,
        {
            "items": [
                {"sku": listing.sku, "quantity": 4},
                {"sku": "NO-SUCH-SKU", "quantity": 1},
                {"sku": listing.sku + "x", "quantity": -1},
                {"sku": used.sku, "quantity": 3},
                {"sku": used.sku + "z", "quantity": "many"},
            ]
        },
        format="json",
    )
    assert answer.status_code == 200
    data = answer.json()
    assert (data["accepted"], data["refused"], data["queued"]) == (1, 4, 1)
    rows = data["rows"]
    assert rows[0] == {
        "sku": listing.sku,
        "status": "accepted",
        "quantity": 4,
        "listing_id": listing.reverb_id,
        "reverb_sku": listing.sku,
        "queued": True,
        "reverb_quantity": 4,  # no stock buffer: all of it
    }
    assert rows[1]["status"] == "refused" and "unknown SKU" in rows[1]["error"]
    assert "whole number" in rows[2]["error"] and "whole number" in rows[4]["error"]
    assert "Brand New" in rows[3]["error"]
    assert sum(emulator.requests.values()) == before  # answered at once: nothing sent to Reverb yet
    intent = StockIntent.objects.get()
    assert (intent.listing_id, intent.quantity, intent.source, intent.status) == (
        listing.pk,
        4,
        "api",
        "queued",
    )
    unknown = SyncLogEntry.objects.get(resource="stock.in", sku="NO-SUCH-SKU")
    assert unknown.status == "failed" and "unknown SKU" in unknown.message


def test_more_than_1000_rows_is_refused(account: ReverbAccount, api: APIClient) -> None:
    rows = [{"sku": f"S{n}", "quantity": 1} for n in range(1001)]
    assert api.put(URL, {"items": rows}, format="json").status_code == 400
    assert api.put(URL, {"items": rows[:1000]}, format="json").status_code == 200


def test_replayed_idempotency_key_changes_nothing(account: ReverbAccount, api: APIClient) -> None:
    listing = inventory_listing(account)
    body = {"items": [{"sku": listing.sku, "quantity": 4}, {"sku": "NOPE", "quantity": 1}]}
    first = api.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    StockIntent.objects.update(quantity=9)  # a later change that a replay must not undo
    logged = SyncLogEntry.objects.count()
    again = api.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert StockIntent.objects.get().quantity == 9 and SyncLogEntry.objects.count() == logged
    other = api.put(
        URL, {"items": [{"sku": listing.sku, "quantity": 5}]}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )
    assert other.status_code == 409 and StockIntent.objects.get().quantity == 9
    assert IdempotentRequest.objects.count() == 1


def test_shop_skus_translate_through_the_sku_mappings(account: ReverbAccount, api: APIClient) -> None:
    listing = inventory_listing(account)
    SkuMapping.objects.create(account=account, reverb_sku=listing.sku, shop_sku="MY-OWN-1")
    row = api.put(URL, {"items": [{"sku": "MY-OWN-1", "quantity": 2}]}, format="json").json()["rows"][0]
    assert row["status"] == "accepted" and row["reverb_sku"] == listing.sku
    assert StockIntent.objects.get().listing_id == listing.pk


def test_read_api_lists_changed_since_paginated(account: ReverbAccount, api: APIClient) -> None:
    t0 = timezone.now()
    Listing.objects.filter(account=account).update(last_synced_at=t0 - timezone.timedelta(days=1))
    changed = list(Listing.objects.filter(account=account)[:3])
    Listing.objects.filter(pk__in=[x.pk for x in changed]).update(last_synced_at=t0)
    page = api.get("/api/v1/listings/", {"since": t0.isoformat(), "page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    got = {r["reverb_id"] for r in page["results"] + rest["results"]}
    assert got == {x.reverb_id for x in changed} and rest["next"] is None
    assert (
        len(api.get("/api/v1/listings/").json()["results"]) == Listing.objects.filter(account=account).count()
    )
    OrderFactory(account=account, order_number="1234", last_synced_at=t0)
    other = ReverbAccount.objects.create(name="other", api_url=account.api_url)
    OrderFactory(account=other, order_number="999", last_synced_at=t0)
    orders = api.get("/api/v1/orders/", {"since": t0.isoformat()}).json()["results"]
    assert [o["order_number"] for o in orders] == ["1234"]
    assert api.get("/api/v1/orders/", {"since": "yesterday"}).status_code == 400


# ---- issue 23: no 500 from input, keys refused not cut, keys per integration, the contract -------------


def test_a_pasted_superscript_or_foreign_digits_refuse_their_row_only(
    account: ReverbAccount, api: APIClient
) -> None:
    """ "²" passed str.isdigit and crashed int() (a 500, the whole batch lost); int() reads "٣" and "５"."""
    listing = inventory_listing(account)
    rows = [{"sku": "A", "quantity": "²"}, {"sku": "B", "quantity": "٣"}, {"sku": "C", "quantity": "５"}]
    answer = api.put(URL, {"items": [*rows, {"sku": listing.sku, "quantity": "4"}]}, format="json")
    assert answer.status_code == 200
    data = answer.json()
    assert (data["accepted"], data["refused"]) == (1, 3)
    assert all("whole number" in row["error"] for row in data["rows"][:3])
    assert StockIntent.objects.get().quantity == 4


def test_rows_of_the_wrong_json_type_are_a_400_with_nothing_applied(
    account: ReverbAccount, api: APIClient
) -> None:
    listing = inventory_listing(account)
    good = {"sku": listing.sku, "quantity": 4}
    for bad in ("row", None, {"sku": None, "quantity": 1}, {"sku": "A", "quantity": True}, {"sku": ["A"]}):
        answer = api.put(URL, {"items": [good, bad]}, format="json")
        assert answer.status_code == 400 and answer["Content-Type"] == "application/json", bad
        assert "1" in answer.json()["errors"]
    assert api.put(URL, [good], format="json").status_code == 400  # a bare list: never documented
    assert api.put(URL, {"items": [{"sku": "A\x00B", "quantity": 1}]}, format="json").status_code == 400
    assert not StockIntent.objects.exists()


def test_only_json_is_read(account: ReverbAccount, api: APIClient) -> None:
    listing = inventory_listing(account)
    answer = api.put(URL, f"items={listing.sku}", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 415 and answer.json()["detail"]
    assert api.put(URL, "{not json", content_type="application/json").status_code == 400
    assert api.get("/api/v1/listings/", HTTP_ACCEPT="text/html").status_code == 406


def test_a_key_longer_than_255_characters_is_refused_not_cut(account: ReverbAccount, api: APIClient) -> None:
    """Cut at 255, two long keys sharing their first 255 characters were one key."""
    listing = inventory_listing(account)
    body = {"items": [{"sku": listing.sku, "quantity": 4}]}
    answer = api.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert answer.status_code == 400 and "255" in answer.json()["detail"]
    assert not StockIntent.objects.exists() and not IdempotentRequest.objects.exists()
    assert api.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 255).status_code == 200
    assert IdempotentRequest.objects.get().key == "k" * 255


def test_the_key_check_is_the_served_schema(account: ReverbAccount, api: APIClient) -> None:
    """The schema's pattern and the server's check are one: a key the schema allows is never refused (CI's
    Schemathesis found a schema-valid key answered 400 when the two differed)."""
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    header = next(
        p for p in schema["paths"]["/api/v1/stock/"]["put"]["parameters"] if p["name"] == "Idempotency-Key"
    )
    allowed = re.compile(header["schema"]["pattern"])
    listing = inventory_listing(account)
    body = {"items": [{"sku": listing.sku, "quantity": 4}]}
    for key in ("a-b_c.d:1 ~!", "r\u00e9sum\u00e9", "tab\there"):
        answer = api.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert (answer.status_code == 200) == bool(allowed.fullmatch(key)), (key, answer.content)


def test_two_integrations_using_the_same_key_are_independent(account: ReverbAccount, api: APIClient) -> None:
    listing = inventory_listing(account)
    other_account = ReverbAccount.objects.create(name="other", api_url=account.api_url)
    theirs = Listing.objects.create(account=other_account, reverb_id="990001", sku="THEIRS-1", state="live")
    _, other_key = integration_for(other_account, name="their-till")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    mine = api.put(
        URL, {"items": [{"sku": listing.sku, "quantity": 4}]}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )
    answer = other.put(
        URL, {"items": [{"sku": "THEIRS-1", "quantity": 0}]}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )
    assert answer.status_code == 200 and "Idempotent-Replayed" not in answer
    assert [r["sku"] for r in answer.json()["rows"]] == ["THEIRS-1"]
    assert listing.sku not in answer.content.decode()
    assert StockIntent.objects.get(listing=theirs).quantity == 0
    # the same body under the same key by another integration is its own batch too
    same = other.put(
        URL, {"items": [{"sku": listing.sku, "quantity": 4}]}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )
    assert same.status_code == 409 and mine.json()["rows"][0]["status"] == "accepted"
    assert IdempotentRequest.objects.filter(key="batch-1").count() == 2


def test_an_impossible_since_is_a_json_400(account: ReverbAccount, api: APIClient) -> None:
    for path in ("/api/v1/listings/", "/api/v1/orders/"):
        for since in ("2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T25:00:00Z", ""):
            answer = api.get(path, {"since": since})
            assert answer.status_code == 400 and answer["Content-Type"] == "application/json", (path, since)
            assert "ISO 8601" in answer.json()["detail"]
        assert api.get(path, {"since": "9999-12-31T23:59:59-23:00"}).json()["results"] == []
        assert api.get(path, {"page_size": "many"}).status_code == 400
        assert api.get(path, {"page_size": "0"}).status_code == 400
        assert api.get(path, {"cursor": "nope"}).status_code == 404


def test_a_20_mb_body_is_a_json_413_recorded_on_the_integration(
    account: ReverbAccount, api: APIClient
) -> None:
    body = '{"items": [' + ",".join(['{"sku": "SKU-0000000", "quantity": 1}'] * 550_000) + "]}"
    assert len(body) > 20_000_000
    answer = api.put(URL, body, content_type="application/json")
    assert answer.status_code == 413 and answer["Content-Type"] == "application/json"
    assert "limit" in answer.json()["detail"]
    call = IntegrationCall.objects.get()
    assert call.status_code == 413 and "limit" in call.error
    assert not StockIntent.objects.exists()


def test_an_unexpected_error_answers_json_500_and_is_recorded(
    account: ReverbAccount, api: APIClient, monkeypatch: Any
) -> None:
    listing = inventory_listing(account)
    body = {"items": [{"sku": listing.sku, "quantity": 4}]}

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("inventory.services.set_stock", broken)
    answer = api.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert answer.status_code == 500 and answer["Content-Type"] == "application/json"
    assert answer.json()["detail"]
    assert IntegrationCall.objects.get().status_code == 500
    assert not IdempotentRequest.objects.exists()  # the claim went with the failed apply: a retry applies
    monkeypatch.undo()
    again = api.put(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert again.status_code == 200 and "Idempotent-Replayed" not in again
    assert StockIntent.objects.get().quantity == 4


def test_the_schema_documents_every_status_json_only_and_the_row_shapes(client: Any, db: Any) -> None:
    spec = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    put = spec["paths"]["/api/v1/stock/"]["put"]
    assert set(put["responses"]) == {"200", "400", "401", "406", "409", "413", "415", "500"}
    assert list(put["requestBody"]["content"]) == ["application/json"]
    assert "Idempotent-Replayed" in put["responses"]["200"]["headers"]
    key = next(p for p in put["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["maxLength"] == 255
    schemas = spec["components"]["schemas"]
    assert schemas["StockBatch"]["properties"]["items"]["maxItems"] == 1000
    assert set(schemas["StockRow"]["properties"]) >= {"sku", "quantity"}
    assert set(schemas["StockRowAnswer"]["properties"]) == {
        "sku",
        "status",
        "quantity",
        "listing_id",
        "reverb_sku",
        "queued",
        "error",
        "reverb_quantity",
    }
    for path in ("/api/v1/listings/", "/api/v1/orders/"):
        assert set(spec["paths"][path]["get"]["responses"]) == {"200", "400", "401", "404", "406", "500"}
