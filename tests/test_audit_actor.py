"""Every service that sends to Reverb records who acted: the audit row (ApiCall) of each call, and of
each refusal, names the acting user, never the system's empty actor."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User

from backoffice.models import ApiCall, ReverbAccount
from listings import services as listings
from listings.editing import record_edits
from listings.models import Listing
from messaging import services as messaging
from messaging.models import Conversation, Negotiation
from orders import services as orders
from orders.models import Order
from refunds import services as refunds
from refunds.models import RefundRequest
from tests.factories import new_listing
from tests.orders.helpers import resync, simulate

pytestmark = pytest.mark.django_db
Act = Callable[[Any, ReverbAccount, User], Any]


def draft(shop: ReverbAccount, sku: str) -> Listing:
    return listings.create_listing(shop, new_listing(sku), actor=None).obj


def live(shop: ReverbAccount, sku: str) -> Listing:
    return listings.publish_listing(draft(shop, sku), actor=None).obj


def paid_order(emulator: Any, shop: ReverbAccount, **params: Any) -> Order:
    number = simulate(emulator, "new_order", **params)["order_number"]
    resync(shop, "orders")
    return Order.objects.get(account=shop, order_number=number)


def shipped_order(emulator: Any, shop: ReverbAccount) -> Order:
    order = paid_order(emulator, shop)
    return orders.ship_order(order, actor=None, provider="UPS", tracking_number=f"A-{order.order_number}")


def buyer_refund(emulator: Any, shop: ReverbAccount) -> RefundRequest:
    number = simulate(emulator, "new_order")["order_number"]
    emulator.store.table("orders")[number]["status"] = "shipped"
    simulate(emulator, "refund_request", order_number=number)
    resync(shop, "orders", "refunds")
    return RefundRequest.objects.get(account=shop, order_number=number)


def offer(emulator: Any, shop: ReverbAccount) -> Negotiation:
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and x.get("inventory")
    )
    price = (Decimal(str(listing["price"])) * Decimal("0.9")).quantize(Decimal("0.01"))
    payload = simulate(emulator, "offer", listing_id=listing["id"], price=str(price))
    resync(shop, "listings", "negotiations")
    return Negotiation.objects.select_related("listing").get(account=shop, reverb_id=payload["id"])


def conversation(shop: ReverbAccount) -> Conversation:
    return Conversation.objects.filter(account=shop).first()


def push(emulator: Any, shop: ReverbAccount, user: User) -> Any:
    shop.push_price = True
    shop.save()
    listing = draft(shop, "AUD-PUSH")
    record_edits(listing, {"price": "999.00"})
    listing.save()
    return listings.push_listing(listing, actor=user)


def sale_id(emulator: Any) -> str:
    return str(next(s for s in emulator.store.table("sales").values() if s["kind"] == "seller")["id"])


def with_image(shop: ReverbAccount, sku: str) -> Listing:
    return listings.add_image(draft(shop, sku), actor=None, url="https://example.com/a.jpg").obj


def photo_id(emulator: Any, listing: Listing) -> str:
    return str(emulator.store.table("listings")[int(listing.reverb_id)]["photos"][0]["id"])


SENDS: dict[str, Act] = {
    # listings
    "listings.create": lambda e, s, u: listings.create_listing(s, new_listing("AUD-NEW"), actor=u),
    "listings.push": push,
    "listings.publish": lambda e, s, u: listings.publish_listing(draft(s, "AUD-PUB"), actor=u),
    "listings.end": lambda e, s, u: listings.end_listing(live(s, "AUD-END"), actor=u, reason="not_sold"),
    "listings.delete_draft": lambda e, s, u: listings.delete_draft(draft(s, "AUD-DEL"), actor=u),
    "listings.add_image": lambda e, s, u: listings.add_image(
        draft(s, "AUD-IMG"), actor=u, url="https://example.com/a.jpg"
    ),
    "listings.delete_image": lambda e, s, u: (
        lambda li: listings.delete_image(li, actor=u, image_id=photo_id(e, li))
    )(with_image(s, "AUD-DIMG")),
    "listings.reorder_images": lambda e, s, u: listings.reorder_images(
        with_image(s, "AUD-RIMG"), actor=u, urls=["https://example.com/a.jpg"]
    ),
    "listings.set_bump": lambda e, s, u: listings.set_bump([live(s, "AUD-BUMP")], actor=u, bid="0.035"),
    "listings.remove_bump": lambda e, s, u: listings.remove_bump([live(s, "AUD-UNBUMP")], actor=u),
    "listings.add_to_sale": lambda e, s, u: listings.add_to_sale(
        [live(s, "AUD-SALE")], actor=u, sale_id=sale_id(e)
    ),
    "listings.remove_from_sale": lambda e, s, u: listings.remove_from_sale(
        [live(s, "AUD-UNSALE")], actor=u, sale_id=sale_id(e)
    ),
    "listings.set_direct_offer": lambda e, s, u: listings.set_direct_offer(
        live(s, "AUD-DO"), actor=u, percentage=10
    ),
    "listings.remove_direct_offer": lambda e, s, u: listings.remove_direct_offer(
        live(s, "AUD-NODO"), actor=u
    ),
    "shop.vacation_on": lambda e, s, u: listings.set_vacation(s, actor=u, on=True),
    "shop.vacation_off": lambda e, s, u: listings.set_vacation(s, actor=u, on=False),
    # orders
    "orders.ship": lambda e, s, u: orders.ship_order(
        paid_order(e, s), actor=u, provider="UPS", tracking_number="A1"
    ),
    "orders.mark_picked_up": lambda e, s, u: orders.mark_picked_up(
        paid_order(e, s, local_pickup=True), actor=u
    ),
    "orders.leave_feedback": lambda e, s, u: orders.leave_buyer_feedback(
        shipped_order(e, s), actor=u, rating=5, message="Great buyer"
    ),
    # refunds
    "refunds.respond": lambda e, s, u: refunds.respond_to_refund(buyer_refund(e, s), actor=u, state="denied"),
    "refunds.request": lambda e, s, u: refunds.request_refund(
        paid_order(e, s), actor=u, reason="sold_elsewhere", amount="5.00"
    ),
    # messaging
    "messaging.accept_offer": lambda e, s, u: messaging.accept_offer(offer(e, s), actor=u),
    "messaging.decline_offer": lambda e, s, u: messaging.decline_offer(offer(e, s), actor=u),
    "messaging.counter_offer": lambda e, s, u: (
        lambda n: messaging.counter_offer(n, actor=u, price=n.listing.price * Decimal("0.95"))
    )(offer(e, s)),
    "messaging.reply": lambda e, s, u: messaging.reply(conversation(s), actor=u, body="Thanks!"),
    "messaging.mark_read": lambda e, s, u: messaging.mark_read(conversation(s), actor=u, read=False),
}

REFUSALS: dict[str, Act] = {
    "listings.create": lambda e, s, u: listings.create_listing(s, new_listing(""), actor=u),
    "listings.delete_draft": lambda e, s, u: listings.delete_draft(live(s, "AUD-NODEL"), actor=u),
    "orders.ship": lambda e, s, u: orders.ship_order(
        paid_order(e, s), actor=u, provider="UPS", tracking_number=" "
    ),
    "refunds.request": lambda e, s, u: refunds.request_refund(
        paid_order(e, s), actor=u, reason="?", amount="1"
    ),
    "messaging.reply": lambda e, s, u: messaging.reply(conversation(s), actor=u, body=" "),
}


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("acting", password="password", is_staff=True)


@pytest.mark.parametrize("action", sorted(SENDS))
def test_a_sent_call_records_the_acting_user(emulator, shop, user, action):
    SENDS[action](emulator, shop, user)
    calls = list(ApiCall.objects.filter(action=action))  # the set-up sends other actions only
    assert calls and {c.status for c in calls} == {ApiCall.Status.SUCCESS}
    assert {c.actor_id for c in calls} == {user.pk}


@pytest.mark.parametrize("action", sorted(REFUSALS))
def test_a_refusal_records_the_acting_user(emulator, shop, user, action):
    with pytest.raises(Exception) as info:
        REFUSALS[action](emulator, shop, user)
    assert getattr(info.value, "refused", None) or type(info.value).__name__ == "Refused", info.value
    (call,) = ApiCall.objects.filter(action=action, status=ApiCall.Status.REFUSED)
    assert call.actor_id == user.pk
