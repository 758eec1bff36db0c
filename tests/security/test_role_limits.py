"""Issue 16 items 8 and 12: the offer floor is the Managers' to set; a staff user with no group (or no view
permission) cannot open a listing's photos page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from backoffice.roles import CUSTOMER_SERVICE, MANAGER, ensure_roles
from messaging.models import OfferPolicy
from tests.factories import AccountFactory, ListingFactory

pytestmark = pytest.mark.django_db


def client_in(role: str | None, name: str = "someone") -> Client:
    ensure_roles()
    user = User.objects.create_user(name, password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def test_customer_service_cannot_change_the_offer_floor() -> None:
    policy = OfferPolicy.objects.update_or_create(
        account=AccountFactory(), defaults={"floor_percent": Decimal("90")}
    )[0]
    service = client_in(CUSTOMER_SERVICE)
    change = reverse("admin:messaging_offerpolicy_change", args=[policy.pk])
    assert service.get(change).status_code == 200  # may read the floor
    response = service.post(change, {"account": policy.account_id, "floor_percent": "10"})
    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.floor_percent == Decimal("90")
    assert (
        service.post(
            reverse("admin:messaging_offerpolicy_add"), {"account": policy.account_id, "floor_percent": "1"}
        ).status_code
        == 403
    )
    # The rest of messaging stays theirs.
    user = User.objects.get(username="someone")
    assert user.has_perm("messaging.change_negotiation") and user.has_perm("messaging.view_offerpolicy")
    assert not user.has_perm("messaging.change_offerpolicy")


def test_manager_changes_the_offer_floor() -> None:
    policy = OfferPolicy.objects.update_or_create(
        account=AccountFactory(), defaults={"floor_percent": Decimal("90")}
    )[0]
    manager = client_in(MANAGER, "boss")
    change = reverse("admin:messaging_offerpolicy_change", args=[policy.pk])
    response = manager.post(change, {"account": policy.account_id, "floor_percent": "85"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.floor_percent == Decimal("85")


def photos_url() -> str:
    listing = ListingFactory(account=AccountFactory())
    return reverse("admin:listings_listing_images", args=[listing.pk])


def test_staff_without_a_group_cannot_open_the_photos_page(monkeypatch: Any) -> None:
    url = photos_url()
    assert client_in(None).get(url).status_code == 403


def test_viewer_opens_the_photos_page(monkeypatch: Any) -> None:
    from backoffice.models import ReverbAccount

    monkeypatch.setattr(
        ReverbAccount, "client", lambda self: type("C", (), {"listing_images": lambda s, i: []})()
    )
    url = photos_url()
    user = User.objects.create_user("v", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_listing"))
    client = Client()
    client.force_login(user)
    assert client.get(url).status_code == 200
