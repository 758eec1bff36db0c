"""Account, shop, vacation, shipping providers and webhook registrations through the client."""

from __future__ import annotations

from typing import Any

import pytest

from backoffice.reverb.client import ReverbClient
from backoffice.reverb.errors import NotFoundError, ValidationError
from tests.reverb.conftest import recording_client


def test_account_and_shop(client: ReverbClient) -> None:
    account = client.get_account()
    shop = client.get_shop()
    assert account["shop"]["id"] == shop["id"]
    updated = client.update_shop({"description": "Vintage amps and pedals"})
    assert updated["description"] == "Vintage amps and pedals"
    with pytest.raises(ValidationError) as info:
        client.update_shop({"shop_type": "cooperative"})
    assert "shop_type" in info.value.field_errors()


def test_vacation_on_with_no_body_and_off(emulator: Any) -> None:
    client, recorder = recording_client()
    assert client.get_vacation() == {"vacation": False}
    client.set_vacation(True)
    assert recorder.sent[-1].method == "POST" and recorder.sent[-1].body is None  # no body, not even []
    assert client.get_vacation() == {"vacation": True}
    client.set_vacation(False)
    assert recorder.sent[-1].method == "DELETE"
    assert client.get_vacation() == {"vacation": False}


def test_shipping_providers(client: ReverbClient) -> None:
    providers = client.shipping_providers()["shipping_providers"]
    assert {"name": "UPS"} in providers


def test_webhook_registrations_register_list_delete(client: ReverbClient) -> None:
    assert client.webhook_registrations() == []
    hook = client.register_webhook("https://shop.example/hooks/abc?key=s3cret", "orders/update")
    assert hook["topic"] == "orders/update"
    assert [h["id"] for h in client.webhook_registrations()] == [hook["id"]]
    client.delete_webhook(hook["id"])
    assert client.webhook_registrations() == []
    with pytest.raises(NotFoundError):
        client.delete_webhook(hook["id"])
    with pytest.raises(ValidationError):  # 400 "topic does not have a valid value"
        client.register_webhook("https://shop.example/hooks/abc", "listings/delete")
