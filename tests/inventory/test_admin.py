"""The inventory admin: integrations (key shown once, revoke, recent calls), the queue, the stock sync log
(filterable, retry), feeds and event endpoints."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from backoffice.models import ReverbAccount
from inventory import services
from inventory.models import EventEndpoint, Integration, IntegrationCall, StockIntent
from tests.inventory.conftest import integration_for, inventory_listing

ADMIN = "/admin/inventory/"


def test_every_inventory_admin_page_opens(admin_client: Any, account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    services.set_stock(
        account, [{"sku": listing.sku, "quantity": 4}, {"sku": "NOPE", "quantity": 1}], source="api"
    )
    for name in [
        "integration",
        "stockintent",
        "stocksyncentry",
        "stockfeed",
        "eventendpoint",
        "eventdelivery",
    ]:
        assert admin_client.get(f"{ADMIN}{name}/").status_code == 200, name
        assert admin_client.get(f"{ADMIN}{name}/add/").status_code in (200, 403), name


def test_adding_an_integration_shows_its_key_once(admin_client: Any, account: ReverbAccount) -> None:
    answer = admin_client.post(
        f"{ADMIN}integration/add/", {"name": "erp", "account": account.pk}, follow=True
    )
    text = answer.content.decode()
    integration = Integration.objects.get(name="erp")
    assert f"rbo_{integration.key_id}_" in text
    key = text.split(f"rbo_{integration.key_id}_")[1].split("<")[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer rbo_{integration.key_id}_{key}")
    assert client.get("/api/v1/listings/").status_code == 200
    page = admin_client.get(f"{ADMIN}integration/{integration.pk}/change/").content.decode()
    assert key not in page and "/api/v1/listings/" in page  # the recent call, not the key


def test_revoke_action_and_the_refusal_is_shown(admin_client: Any, account: ReverbAccount) -> None:
    integration, key = integration_for(account)
    admin_client.post(f"{ADMIN}integration/", {"action": "revoke", "_selected_action": [integration.pk]})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.put("/api/v1/stock/", {"items": []}, format="json").status_code == 401
    call = IntegrationCall.objects.get(integration=integration)
    assert call.status_code == 401 and "revoked" in call.error


def test_queue_shows_how_many_oldest_and_eta(admin_client: Any, account: ReverbAccount) -> None:
    listing = inventory_listing(account)
    services.set_stock(account, [{"sku": listing.sku, "quantity": 0}], source="api")
    page = admin_client.get(f"{ADMIN}stockintent/").content.decode()
    assert "stock-queue-state" in page and "Empty in" in page and account.name in page


def test_sync_log_filters_and_retries_failed_rows(
    admin_client: Any, account: ReverbAccount, emulator: Any
) -> None:
    account.push_inventory = False
    account.save()
    listing = inventory_listing(account)
    services.set_stock(account, [{"sku": listing.sku, "quantity": 5}], source="api")
    services.drain(account)
    assert StockIntent.objects.get().status == "failed"
    page = admin_client.get(f"{ADMIN}stocksyncentry/", {"status": "failed", "resource": "stock.out"})
    text = page.content.decode()
    assert listing.web_url in text and "push settings" in text
    from inventory.models import StockSyncEntry

    row = StockSyncEntry.objects.get(resource="stock.out", status="failed")
    account.push_inventory = True
    account.save()
    admin_client.post(f"{ADMIN}stocksyncentry/", {"action": "retry_failed", "_selected_action": [row.pk]})
    assert StockIntent.objects.get().status == "queued"
    services.drain(account)
    assert StockIntent.objects.get().status == "sent"


def test_endpoint_add_shows_secret_and_stores_it_encrypted(admin_client: Any, db: Any) -> None:
    answer = admin_client.post(
        reverse("admin:inventory_eventendpoint_add"),
        {"name": "shop", "url": "http://127.0.0.1:9/hook", "events": ["order.paid"], "enabled": "on"},
        follow=True,
    )
    endpoint = EventEndpoint.objects.get()
    assert endpoint.secret().startswith("whsec_") and endpoint.secret() in answer.content.decode()
    assert endpoint.secret() not in endpoint.secret_encrypted and endpoint.events == ["order.paid"]
