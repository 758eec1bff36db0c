"""Price rules: the arithmetic, the preview equals what is pushed (one job), a price changed since the
preview is not sent; the stale-stock rule lowers once per period down to its floor, plan vs act, never
ends a listing."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from automation import prices
from automation.models import AutomationSettings, Mode, PriceChange, StaleStockRule
from backoffice.models import BulkJob
from listings.models import Listing
from tests.orders.helpers import role_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]
D = Decimal
PUT = ("PUT", "/api/listings/{listing_id}")


@pytest.mark.parametrize(
    "old,op,value,rounding,floor,expected",
    [
        ("100.00", "set", "80", "", None, "80.00"),
        ("100.00", "raise_amount", "12.50", "", None, "112.50"),
        ("100.00", "lower_amount", "30", "", "75", "75.00"),  # never below the floor
        ("100.00", "raise_percent", "10", "", None, "110.00"),
        ("123.45", "lower_percent", "10", "", None, "111.11"),
        ("123.45", "lower_percent", "10", "99", None, "110.99"),
        ("123.45", "lower_percent", "10", "00", None, "111.00"),
        ("100.00", "lower_percent", "50", "99", "60", "60.00"),
        ("5.00", "lower_amount", "10", "", None, "0.01"),  # never zero or less
    ],
)
def test_new_price(old, op, value, rounding, floor, expected):
    assert prices.new_price(D(old), op, D(value), rounding, D(floor) if floor else None) == D(expected)


def live_listings(account, n=3):
    return list(Listing.objects.filter(account=account, state="live", price__isnull=False).order_by("pk")[:n])


def emulator_price(emulator, listing) -> Decimal:
    return D(str(emulator.store.table("listings")[int(listing.reverb_id)]["price"]))


def test_preview_equals_what_is_pushed_as_one_job(emulator, shop, django_capture_on_commit_callbacks):
    shop.push_price = True
    shop.save()
    chosen = live_listings(shop)
    client = Client()
    client.force_login(role_user("m", "Manager"))
    url = "/admin/listings/listing/"
    ids = [str(x.pk) for x in chosen]
    form = {"action": "change_prices", "_selected_action": ids}
    assert "Preview the changes" in client.post(url, form).content.decode()
    step = {**form, "price_step": "preview", "operation": "lower_percent", "value": "10", "rounding": "99"}
    page = client.post(url, step).content.decode()
    rows = re.findall(
        r"<tr><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>([\d.]+)</td><td>will be pushed</td>", page
    )
    shown = {str(x.pk): new for sku, new in rows for x in chosen if x.sku == sku}
    assert len(shown) == len(chosen)
    plan = re.search(r'name="plan" value="([^"]+)"', page).group(1)
    before = BulkJob.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**step, "confirmed": "yes", "plan": plan})
    assert response.status_code == 302
    assert BulkJob.objects.count() == before + 1
    job = BulkJob.objects.latest("pk")
    assert job.kind == "automation.prices" and job.total == len(chosen)
    for listing in chosen:
        listing.refresh_from_db()
        assert emulator_price(emulator, listing) == D(shown[str(listing.pk)]) == listing.price
        assert str(listing.price).endswith(".99")


def test_a_price_changed_since_the_preview_is_not_sent(emulator, shop, django_capture_on_commit_callbacks):
    shop.push_price = True
    shop.save()
    listing = live_listings(shop, 1)[0]
    plan = prices.sign_plan(prices.preview([listing], "set", D("99.00")))
    Listing.objects.filter(pk=listing.pk).update(price=listing.price + 1)
    before = emulator.requests[PUT]
    with django_capture_on_commit_callbacks(execute=True):
        job = prices.start_job(plan, user=None)
    item = job.items.get()
    assert item.state == "skipped" and "changed since the preview" in item.message
    assert emulator.requests[PUT] == before


def test_a_tampered_plan_is_refused(emulator, shop):
    client = Client()
    client.force_login(role_user("m", "Manager"))
    listing = live_listings(shop, 1)[0]
    form = {
        "action": "change_prices",
        "_selected_action": [listing.pk],
        "confirmed": "yes",
        "plan": "x:y",
    }
    before = BulkJob.objects.count()
    client.post("/admin/listings/listing/", form)
    assert BulkJob.objects.count() == before


# ---- stale stock --------------------------------------------------------------------------------------


def stale_rule(account, mode=Mode.ACT, **kw):
    values = {
        "name": "Stale",
        "days": 30,
        "percent": D("10"),
        "floor_percent": D("85"),
        "period_days": 7,
        **kw,
    }
    return StaleStockRule.objects.create(account=account, mode=mode, **values)


def make_stale(listing, days=45):
    Listing.objects.filter(pk=listing.pk).update(published_at=timezone.now() - timedelta(days=days))
    from orders.models import Order

    Order.objects.filter(listing=listing).update(remote_created_at=timezone.now() - timedelta(days=days + 1))


def test_stale_stock_lowers_once_per_period_down_to_the_floor(emulator, shop):
    shop.push_price = True
    shop.save()
    listing = live_listings(shop, 1)[0]
    Listing.objects.filter(account=shop).exclude(pk=listing.pk).update(published_at=timezone.now())
    make_stale(listing)
    start = listing.price
    rule = stale_rule(shop)
    now = timezone.now()
    (first,) = prices.run_stale_stock(rule, now)
    listing.refresh_from_db()
    assert first.status == "sent" and listing.price == (start * D("0.9")).quantize(D("0.01"))
    assert emulator_price(emulator, listing) == listing.price and listing.state == "live"
    assert prices.run_stale_stock(rule, now) == []  # once per period
    PriceChange.objects.update(created=now - timedelta(days=8))
    (second,) = prices.run_stale_stock(rule, now)
    assert second.new_price == (start * D("0.85")).quantize(D("0.01"))  # 81% would cross the 85% floor
    PriceChange.objects.update(created=now - timedelta(days=16))
    assert prices.run_stale_stock(rule, now) == []  # at the floor: nothing more
    assert emulator.requests[("POST", "/api/listings/{listing_id}/state/end")] == 0


def test_stale_stock_plan_mode_and_kill_switch(emulator, shop):
    listing = live_listings(shop, 1)[0]
    Listing.objects.filter(account=shop).exclude(pk=listing.pk).update(published_at=timezone.now())
    make_stale(listing)
    AutomationSettings.objects.create(account=shop, rules_paused=True)
    rule = stale_rule(shop, Mode.PLAN)
    assert prices.run_stale_stock(rule) == []
    AutomationSettings.objects.update(rules_paused=False)
    before = emulator.requests[PUT]
    (planned,) = prices.run_stale_stock(rule)
    assert planned.status == "planned" and emulator.requests[PUT] == before
    shop.push_price = True
    shop.save()
    client = Client()
    client.force_login(role_user("m", "Manager"))
    client.post(
        "/admin/automation/pricechange/", {"action": "push_planned", "_selected_action": [planned.pk]}
    )
    planned.refresh_from_db()
    assert planned.status == "sent" and emulator.requests[PUT] == before + 1


def test_a_recent_sale_keeps_the_price(emulator, shop):
    from tests.factories import OrderFactory

    listing = live_listings(shop, 1)[0]
    Listing.objects.filter(account=shop).update(published_at=timezone.now() - timedelta(days=90))
    OrderFactory(account=shop, listing=listing, remote_created_at=timezone.now() - timedelta(days=3))
    rule = stale_rule(shop, Mode.PLAN)
    assert listing.pk not in [x.pk for x in prices.stale_listings(rule, timezone.now())]


@pytest.mark.parametrize(
    "old,op,value,rounding,floor",
    [
        ("57.99", "lower_percent", "5", "", "60"),  # the floor is above the price
        ("99.99", "lower_amount", "0.10", "00", None),  # rounding would go up
        ("100.00", "raise_percent", "0.2", "99", None),  # a raise rounded down
    ],
)
def test_a_lower_never_raises_and_a_raise_never_lowers(old, op, value, rounding, floor):
    assert prices.new_price(D(old), op, D(value), rounding, D(floor) if floor else None) == D(old)


def test_preview_skips_a_lower_that_would_raise_with_the_reason(emulator, shop):
    (listing,) = live_listings(shop, 1)
    listing.price = D("57.99")
    (change,) = prices.preview([listing], "lower_percent", D("5"), "", D("60"))
    assert not change.sends and "a lower never raises" in change.note and "60.00" in change.note
