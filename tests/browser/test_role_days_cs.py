"""A day's work per role in Chromium, through the new pages, checking the emulator afterwards; screenshots
at a laptop (1366x768) and a phone (390x844) width go to test-results/ (kept by CI)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backoffice.models import ApiCall
from listings.models import Listing
from messaging.models import Conversation, Negotiation
from messaging.services import mark_read
from refunds.models import RefundRequest
from tests.orders.helpers import resync, role_user, simulate

pytestmark = pytest.mark.django_db(transaction=True)
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
SIZES = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


def shoot(page: Any, name: str) -> None:
    """Screenshots at both widths, then back to the laptop size."""
    RESULTS.mkdir(exist_ok=True)
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(RESULTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(SIZES["laptop"])


def test_customer_service_day(page, live_server, admin_login, emulator, shop):
    # The morning's work: a refund request, an offer and an unread message await the shop.
    number = simulate(emulator, "new_order")["order_number"]
    emulator.store.table("orders")[number]["status"] = "shipped"
    simulate(emulator, "refund_request", order_number=number)
    listing = next(
        x
        for x in emulator.store.table("listings").values()
        if x.get("state") == "live" and int(x.get("inventory", 0)) > 0
    )
    offer = simulate(emulator, "offer", listing_id=listing["id"])
    resync(shop, "orders", "refunds", "listings", "negotiations", "conversations")
    refund = RefundRequest.objects.get(account=shop, order_number=number)
    n = Negotiation.objects.get(account=shop, reverb_id=offer["id"])
    convo = Conversation.objects.filter(account=shop).first()
    mark_read(convo, actor=None, read=False)
    page.set_viewport_size(SIZES["laptop"])
    admin_login(page, live_server, role_user("cs", "Customer service"))

    # 1. The dashboard leads to the inbox, where each item opens where it is answered.
    page.click("#dash-inbox")
    page.wait_for_selector("#cs-inbox")
    shoot(page, "cs-inbox")
    page.click(f"#cs-inbox a[href$='/refundrequest/{refund.pk}/respond/']")

    # 2. Approve the refund, lowered; the confirmation repeats the amount.
    lower = (refund.amount - Decimal("5.00")).quantize(Decimal("0.01"))
    page.check("input[name=state][value=approved]")
    page.fill("input[name=amount]", str(lower))
    page.click("text=Review the answer")
    page.wait_for_selector("#will-send")
    assert f"{lower} USD" in page.locator("#will-send").inner_text()
    shoot(page, "cs-refund-confirm")
    page.click(f"text=Yes, refund {lower}")
    page.wait_for_selector("#refund-queue")

    # 3. Counter the offer from the inbox; its amounts read item + shipping = total.
    page.goto(f"{live_server.url}/admin/inbox/")
    page.click(f"#cs-inbox a[href$='/negotiation/{n.pk}/offer/']")
    assert "= total" in page.locator(".offer-amounts").first.inner_text()
    shoot(page, "cs-offer")
    price = (n.listing.price * Decimal("0.95")).quantize(Decimal("0.01"))
    page.fill("#counter-form input[name=price]", str(price))
    page.click("text=Review the counter-offer")
    page.click("#confirm-yes")
    page.wait_for_selector("#offer-inbox")

    # 4. Reply to the conversation: opening it marks it read; the reply box is under the thread.
    page.goto(f"{live_server.url}/admin/inbox/")
    page.click(f"#cs-inbox a[href$='/conversation/{convo.pk}/thread/']")
    page.wait_for_selector("#reply-form")
    shoot(page, "cs-thread")
    page.fill("#reply-form textarea[name=body]", "It ships on Monday.")
    page.click("text=Send reply")
    page.wait_for_selector("#thread li.message:last-child:has-text('It ships on Monday.')")

    # Reverb's side agrees.
    stored_refund = next(
        r for r in emulator.store.table("refund_requests").values() if str(r["id"]) == refund.reverb_id
    )
    assert stored_refund["state"] == "approved" and Decimal(str(stored_refund["amount"])) == lower
    stored_offer = next(
        x for x in emulator.store.table("negotiations").values() if str(x["id"]) == n.reverb_id
    )
    assert (
        str(stored_offer["offers"][-1]["price"]) in (str(price), f"{price:.2f}")
        or not Negotiation.objects.get(pk=n.pk).actionable
    )
    stored_convo = {str(k): v for k, v in emulator.store.table("conversations").items()}[convo.reverb_id]
    assert stored_convo["read"] is True
    assert any(m["body"] == "It ships on Monday." for m in stored_convo["messages"])


def test_manager_finds_who_changed_a_price(page, live_server, admin_login, emulator, shop):
    from listings.services import push_listing

    resync(shop, "listings")
    shop.push_price = True
    shop.save()
    listing = Listing.objects.filter(account=shop, state="live").first()
    clerk = role_user("pat", "Customer service")
    new_price = (listing.price + Decimal("10.00")).quantize(Decimal("0.01"))
    Listing.objects.filter(pk=listing.pk).update(
        pending_changes={"price": {"value": str(new_price), "base": str(listing.price)}}
    )
    listing.refresh_from_db()
    push_listing(listing, actor=clerk)
    stored = emulator.store.table("listings")[int(listing.reverb_id)]
    assert Decimal(str(stored["price"])) == new_price  # it really reached Reverb

    page.set_viewport_size(SIZES["laptop"])
    admin_login(page, live_server, role_user("boss", "Manager"))
    page.goto(
        f"{live_server.url}/admin/backoffice/apicall/?action=listings.push&target_key={listing.reverb_id}"
    )
    row = page.locator("#result_list tbody tr").first
    assert "pat" in row.inner_text() and "price=" in row.inner_text() and str(new_price) in row.inner_text()
    shoot(page, "manager-activity")
    page.goto(f"{live_server.url}/admin/listings/listing/{listing.pk}/change/")
    assert "pat" in page.locator(".activity-table").inner_text()
    assert ApiCall.objects.filter(actor=clerk, target_key=listing.reverb_id).exists()
