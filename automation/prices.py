"""Price rules (issue 15): the bulk price edit (set, raise or lower by an amount or a percent, round to .99
or .00, never below a floor) previewed in full and pushed as one job of exactly the previewed prices; and
the stale-stock rule (after N days live without a sale, lower by X% down to a floor, at most once per
period; it never ends nor relists a listing).

Both push through the listing edit path: the new price becomes a pending change (listings.editing) and
`listings.services.push_listing` sends it (re-read first, conflicts surfaced, audited)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core import signing
from django.db.models import Exists, OuterRef
from django.utils import timezone

from backoffice.actions import ActionError
from backoffice.background.jobs import ItemSpec, Outcome, create_job
from backoffice.models import BulkJob, BulkJobItem
from listings import editing, services
from listings.models import Listing
from payouts.fees import Rates, account_rates

from .models import Mode, PriceChange, StaleStockRule, rules_paused

CENT = Decimal("0.01")
OPERATIONS = {
    "set": "Set to",
    "raise_amount": "Raise by amount",
    "lower_amount": "Lower by amount",
    "raise_percent": "Raise by percent",
    "lower_percent": "Lower by percent",
}
ROUNDING = {"": "No rounding", "99": "Round to .99", "00": "Round to .00"}
PLAN_SALT = "automation.prices.plan"
JOB_KIND = "automation.prices"  # its handler: automation/jobs.py


def new_price(
    old: Decimal, op: str, value: Decimal, rounding: str = "", floor: Decimal | None = None
) -> Decimal:
    """The changed price: the operation, then the rounding (to the nearest whole amount, minus a cent for
    .99), then never below the floor nor below a cent. A lower never raises the price and a raise never
    lowers it (a floor above the price, or the rounding): the old price is kept; `moved` says why."""
    return moved(old, op, value, rounding, floor)[0]


def moved(
    old: Decimal, op: str, value: Decimal, rounding: str = "", floor: Decimal | None = None
) -> tuple[Decimal, str]:
    """(the new price, '' or why the old one is kept) for `new_price`."""
    if op == "set":
        price = value
    elif op == "raise_amount":
        price = old + value
    elif op == "lower_amount":
        price = old - value
    elif op == "raise_percent":
        price = old * (100 + value) / 100
    elif op == "lower_percent":
        price = old * (100 - value) / 100
    else:
        raise ValueError(f"unknown operation {op!r}")
    if rounding in ("99", "00"):
        whole = price.quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        price = whole - CENT if rounding == "99" else whole
    price = price.quantize(CENT, rounding=ROUND_HALF_UP)
    if floor is not None and price < floor:
        price = floor.quantize(CENT, rounding=ROUND_HALF_UP)
    price = max(price, CENT)
    if op.startswith("lower") and price > old:
        return old, f"a lower never raises a price (it would be {price}: the floor or rounding is above it)"
    if op.startswith("raise") and price < old:
        return old, f"a raise never lowers a price (it would be {price} after rounding)"
    return price, ""


@dataclass(frozen=True)
class Change:
    listing: Listing
    old: Decimal | None
    new: Decimal | None
    note: str = ""

    @property
    def sends(self) -> bool:
        return not self.note and self.new != self.old


def preview(
    listings: Iterable[Listing], op: str, value: Decimal, rounding: str = "", floor: Decimal | None = None
) -> list[Change]:
    rows = []
    for listing in listings:
        old = listing.price
        if old is None:
            rows.append(Change(listing, None, None, "price unknown here: re-sync listings"))
            continue
        if listing.state in ("sold_out", "ended"):
            rows.append(Change(listing, old, None, f"{listing.state}: not changed"))
            continue
        price, kept = moved(old, op, value, rounding, floor)
        note = kept or ("unchanged" if price == old else "")
        rows.append(Change(listing, old, price, note))
    return rows


def sign_plan(changes: Iterable[Change]) -> str:
    """The previewed changes, signed, so the confirmation pushes exactly what was shown."""
    return signing.dumps([[c.listing.pk, str(c.old), str(c.new)] for c in changes if c.sends], salt=PLAN_SALT)


def start_job(token: str, *, user: Any, max_age: int = 3600) -> BulkJob:
    """One job of the signed plan: an item per listing carrying its previewed old and new price."""
    plan = signing.loads(token, salt=PLAN_SALT, max_age=max_age)
    listings = Listing.objects.in_bulk([pk for pk, _, _ in plan])
    accounts = {x.account_id for x in listings.values()}
    items = [
        ItemSpec(str(pk), f"{listings[pk]}: {old} -> {new}", {"old": old, "new": new})
        for pk, old, new in plan
        if pk in listings
    ]
    account = listings[plan[0][0]].account if len(accounts) == 1 and plan else None
    return create_job(
        JOB_KIND, title=f"Change {len(items)} price(s)", items=items, account=account, user=user
    )


def set_and_push(listing: Listing, old: Decimal, new: Decimal, *, actor: Any, job: Any) -> Outcome:
    if listing.price != old:
        return Outcome.skipped(f"The price changed since the preview ({old} -> {listing.price}); not sent.")
    editing.record_edits(listing, {"price": editing.price_text(new)})
    Listing.objects.filter(pk=listing.pk).update(pending_changes=listing.pending_changes)
    try:
        done = services.push_listing(listing, actor=actor, job=job)
    except ActionError as exc:
        return (Outcome.skipped if exc.refused else Outcome.failed)(
            exc.message, field_errors=exc.field_errors
        )
    return Outcome.ok(done.message)


# ---- the stale-stock rule ---------------------------------------------------------------------------------


def stale_listings(rule: StaleStockRule, now: datetime) -> list[Listing]:
    """Live listings of the rule's account (and category) published more than `days` ago, without an order
    in the last `days`, and not lowered by this rule within its period."""
    from orders.models import Order

    since = now - timedelta(days=rule.days)
    recent_sale = Order.objects.filter(listing=OuterRef("pk"), remote_created_at__gte=since)
    recent_change = PriceChange.objects.filter(
        rule=rule, listing=OuterRef("pk"), created__gte=now - timedelta(days=rule.period_days)
    )
    qs = (
        Listing.objects.filter(
            account_id=rule.account_id,
            state="live",
            missing=False,
            published_at__lte=since,
            price__isnull=False,
        )
        .exclude(Exists(recent_sale))
        .exclude(Exists(recent_change))
    )
    if rule.category:
        qs = qs.filter(category=rule.category)
    return list(qs.select_related("account").order_by("pk"))


def run_stale_stock(rule: StaleStockRule, now: datetime | None = None) -> list[PriceChange]:
    """Plan mode records the lowerings (status planned); act mode records and pushes each at once."""
    now = now or timezone.now()
    if rule.mode == Mode.OFF or rules_paused(rule.account_id):
        return []
    done = []
    rates = account_rates(rule.account_id)
    for listing in stale_listings(rule, now):
        first = (
            PriceChange.objects.filter(rule=rule, listing=listing)
            .order_by("created")
            .values_list("first_price", flat=True)
            .first()
            or listing.price
        )
        floor, note = stale_floor(rule, listing, first, rates)
        price = new_price(listing.price, "lower_percent", rule.percent, "", floor)
        if price >= listing.price:
            continue  # at the floor already
        change = PriceChange.objects.create(
            rule=rule,
            listing=listing,
            old_price=listing.price,
            new_price=price,
            first_price=first,
            status=PriceChange.Status.PLANNED,
            outcome=note if price == floor else "",
        )
        if rule.mode == Mode.ACT:
            push_change(change, actor=None)
        done.append(change)
    return done


def stale_floor(rule: StaleStockRule, listing: Listing, first: Decimal, rates: Rates) -> tuple[Decimal, str]:
    """(the rule's floor for this listing, '' or why it is held there): `floor_percent` of the first price,
    raised to cost + fees + margin % (cost mode) and to cost + fees (unless it may sell below cost) when the
    listing's cost is known."""
    floor, note = (first * rule.floor_percent / 100).quantize(CENT), ""
    for guard in (rule.floor_from_cost(listing.cost, rates), rule.least_price(listing.cost, rates)):
        if guard is not None and guard.price > floor:
            floor, note = guard.price, f"held at the cost floor {guard.price} ({guard.why})"
    return floor, note


def push_change(change: PriceChange, *, actor: Any) -> PriceChange:
    from backoffice.audit import noted

    reason = f"stale stock: {change.rule.days} days live without a sale"
    with noted(rule=change.rule.name, rule_id=change.rule_id, reason=reason):
        outcome = set_and_push(change.listing, change.old_price, change.new_price, actor=actor, job=None)
    sent = outcome.state == BulkJobItem.State.SUCCEEDED
    change.status = PriceChange.Status.SENT if sent else PriceChange.Status.FAILED
    change.outcome = f"{change.outcome} {outcome.message}".strip()
    change.save(update_fields=["status", "outcome"])
    return change
