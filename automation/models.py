"""Rules that act while the shop sleeps (issue 15): offer rules and what they planned, holidays and the
automation settings of an account, saved replies, and the stale-stock price rule.

Every rule runs off, in plan mode (records a PlannedAction a person approves) or act mode (sends at once
through the same services and audit trail as a person); the account's kill switch stops all of them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from payouts import margin
from payouts.fees import Rates

PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class Mode(models.TextChoices):
    OFF = "off", "Off"
    PLAN = "plan", "Plan (record, a person approves)"
    ACT = "act", "Act (send at once)"


class AutomationSettings(models.Model):
    """Per account: the kill switch of every rule, and when the daily digest goes out."""

    account = models.OneToOneField(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="automation"
    )
    rules_paused = models.BooleanField(
        "kill switch: all rules stopped",
        default=False,
        help_text="Stops every rule of this account at once (nothing is planned or sent).",
    )
    digest_hour = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(23)],
        help_text="Hour (0-23, shop time zone) of the daily digest email. Empty: no digest.",
    )
    digest_sent_on = models.DateField(null=True, blank=True, editable=False)
    chat_webhook_url = models.URLField(
        "chat webhook",
        max_length=500,
        blank=True,
        default="",
        help_text="A Slack-compatible incoming webhook (https://...): this shop's instant alerts are posted "
        "there too, batched. Empty: email only.",
    )
    chat_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "automation settings"
        verbose_name_plural = "automation settings"

    def __str__(self) -> str:
        return f"automation of {self.account}"


def rules_paused(account_id: int) -> bool:
    return AutomationSettings.objects.filter(account_id=account_id, rules_paused=True).exists()


class Holiday(models.Model):
    """A day the shop does not ship: not a business day for ship-by deadlines."""

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["account", "date"], name="automation_holiday_day")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class FloorMode(models.TextChoices):
    BASIS = "basis", "As set (% of list price or amount)"
    COST = "cost", "Cost + fees + margin %"


class CostFloor(models.Model):
    """What a rule never goes below, from the listing's cost (payouts/margin.py): in cost mode its floor is at
    least the price whose margin after fees is `margin_percent` of it; and, unless `below_cost_ok`, it never
    answers or sets a price below cost + fees (whatever the mode), when the listing's cost is known."""

    floor_mode = models.CharField(
        "floor from", max_length=5, choices=FloorMode.choices, default=FloorMode.BASIS
    )
    margin_percent = models.DecimalField(
        "margin % (cost floor)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=PERCENT,
        help_text="Cost + fees + this margin (% of the price) is the floor, when the floor is from cost "
        "(the higher of it and the floor above). Listings without a cost are left alone.",
    )
    below_cost_ok = models.BooleanField(
        "may sell below cost",
        default=False,
        help_text="Off: never answers or prices below the listing's cost + fees (when its cost is known).",
    )

    class Meta:
        abstract = True

    def floor_from_cost(
        self, cost: Decimal | None, rates: Rates, shipping: Decimal | None = None
    ) -> margin.CostFloor | None:
        """In cost mode, the rule's floor: cost + fees + its margin % (None: other mode, or no cost)."""
        if self.floor_mode != FloorMode.COST or self.margin_percent is None:
            return None
        return margin.cost_floor(cost, rates, self.margin_percent, shipping)

    def least_price(
        self, cost: Decimal | None, rates: Rates, shipping: Decimal | None = None
    ) -> margin.CostFloor | None:
        """The lowest price it may answer or set: cost + fees, unless it may sell below cost (None)."""
        return None if self.below_cost_ok else margin.cost_floor(cost, rates, shipping=shipping)

    def clean_cost_floor(self) -> None:
        if self.floor_mode == FloorMode.COST and self.margin_percent is None:
            raise ValidationError({"margin_percent": "A floor from cost needs a margin % (0: cost + fees)."})


class OfferRule(CostFloor):
    """A floor and a target for offers: on one listing, on a category, or on the whole account.

    Amounts are a share of the list price (percent) unless the rule is on one listing and says `amount`.
    At or above the target: accept; below the floor: decline (with the optional message); between: counter
    at the target, or `step_percent` of the list price above the offer when set (never above the target)."""

    class Basis(models.TextChoices):
        PERCENT = "percent", "% of list price"
        AMOUNT = "amount", "amount (one listing only)"

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="offer_rules"
    )
    name = models.CharField(max_length=100)
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.OFF, db_index=True)
    listing = models.ForeignKey(
        "listings.Listing",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="offer_rules",
        help_text="Only this listing. Empty: the category below, or every listing of the account.",
    )
    category = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Only listings of this category (as in the listing).",
    )
    basis = models.CharField(max_length=7, choices=Basis.choices, default=Basis.PERCENT)
    floor = models.DecimalField(max_digits=10, decimal_places=2, help_text="Below it: decline.")
    target = models.DecimalField(max_digits=10, decimal_places=2, help_text="At or above it: accept.")
    step_percent = models.DecimalField(
        "counter step (% of list price)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=PERCENT,
        help_text="Empty: counter at the target. Else this much above the offer (at most the target).",
    )
    decline_message = models.CharField(max_length=500, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        if self.listing_id:
            return f"listing {self.listing}"
        return f"category {self.category}" if self.category else "every listing"

    def clean(self) -> None:
        self.clean_cost_floor()
        if self.listing_id and self.listing.account_id != self.account_id:
            raise ValidationError({"listing": "This listing belongs to another account."})
        if self.basis == self.Basis.AMOUNT and not self.listing_id:
            raise ValidationError(
                {"basis": "Amounts are for a rule on one listing; use a percent otherwise."}
            )
        if self.floor is not None and self.target is not None and self.floor > self.target:
            raise ValidationError({"floor": "The floor is above the target."})
        if self.basis == self.Basis.PERCENT:
            for name in ("floor", "target"):
                value = getattr(self, name)
                if value is not None and not Decimal("0") <= value <= Decimal("100"):
                    raise ValidationError({name: "A percent between 0 and 100."})

    def amounts(self, list_price: Decimal | None) -> tuple[Decimal, Decimal] | None:
        """(floor, target) in money for a listing of this price; None when the price is unknown."""
        if self.basis == self.Basis.AMOUNT:
            return self.floor, self.target
        if list_price is None:
            return None
        cent = Decimal("0.01")
        return (list_price * self.floor / 100).quantize(cent), (list_price * self.target / 100).quantize(cent)


class PlannedAction(models.Model):
    """What a rule decided for one offer: planned (waiting for a person) or sent/failed. One per offer
    (negotiation and its offer count), whatever the rule: a rule never answers the same offer twice.
    Bound to the offer it was decided on (count, amount, Reverb's time): approved after the offer changed,
    it goes stale; after its listing sold, it goes stale without being sent."""

    class Verb(models.TextChoices):
        ACCEPT = "accept", "Accept"
        DECLINE = "decline", "Decline"
        COUNTER = "counter", "Counter"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned (awaiting approval)"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed or refused"
        DISMISSED = "dismissed", "Dismissed"
        STALE = "stale", "Stale (the offer moved on or the listing sold)"

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="planned_actions"
    )
    rule = models.ForeignKey(OfferRule, null=True, on_delete=models.SET_NULL, related_name="actions")
    negotiation = models.ForeignKey(
        "messaging.Negotiation", on_delete=models.CASCADE, related_name="planned_actions"
    )
    offer_number = models.PositiveIntegerField(help_text="The negotiation's offer count when decided.")
    offer_price = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    offer_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The offer's time on Reverb when decided (the plan is for it)."
    )
    verb = models.CharField(max_length=7, choices=Verb.choices)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    message = models.CharField(max_length=500, blank=True, default="")
    reason = models.CharField(max_length=500)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PLANNED, db_index=True)
    outcome = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["negotiation", "offer_number"], name="automation_one_answer_per_offer"
            )
        ]
        permissions = [("approve_plannedaction", "Can approve or dismiss what a rule planned")]

    def __str__(self) -> str:
        what = f"{self.get_verb_display()} {self.price or ''}".strip()
        return f"{what} on offer {self.negotiation.reverb_id}"


class SavedReply(models.Model):
    """A message template of an account. Placeholders: {buyer_name}, {order_number}, {tracking_link},
    {listing_title}; the reply form fills them and the person edits before sending."""

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="saved_replies"
    )
    name = models.CharField(max_length=100)
    body = models.TextField()

    class Meta:
        ordering = ["account", "name"]
        verbose_name_plural = "saved replies"
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="automation_reply_name")]

    def __str__(self) -> str:
        return self.name


class StaleStockRule(CostFloor):
    """After `days` live without a sale, lower the price by `percent`, never below the floor, at most once
    per `period_days` per listing. It never ends or relists a listing (Reverb forbids such loops)."""

    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="stale_stock_rules"
    )
    name = models.CharField(max_length=100)
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.OFF)
    category = models.CharField(max_length=255, blank=True, default="")
    days = models.PositiveIntegerField(default=60, help_text="Days live without a sale.")
    percent = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT)
    floor_percent = models.DecimalField(
        "floor (% of the price when first lowered)", max_digits=5, decimal_places=2, validators=PERCENT
    )
    period_days = models.PositiveIntegerField(
        default=30, help_text="At most one lowering per listing per period."
    )

    class Meta:
        ordering = ["account", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.clean_cost_floor()


class PriceChange(models.Model):
    """One price lowering by the stale-stock rule: its memory of the period and of the starting price.
    Plan mode leaves it planned for a person to push from the admin; act mode pushes it at once."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned (awaiting approval)"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed or refused"

    rule = models.ForeignKey(StaleStockRule, on_delete=models.CASCADE, related_name="changes")
    listing = models.ForeignKey("listings.Listing", on_delete=models.CASCADE, related_name="+")
    old_price = models.DecimalField(max_digits=12, decimal_places=2)
    new_price = models.DecimalField(max_digits=12, decimal_places=2)
    first_price = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PLANNED, db_index=True)
    outcome = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.listing_id}: {self.old_price} -> {self.new_price}"


# ---- instant alerts (automation/alerts.py) ------------------------------------------------------------


class AlertKind(models.TextChoices):
    OFFER = "offer", "New offer"
    REFUND = "refund", "New refund request"
    PAID = "paid", "Order paid"
    MESSAGE = "message", "Buyer message"
    DEADLINE = "deadline", "Ship-by deadline at risk"


class AlertSubscription(models.Model):
    """One person's instant alerts: which kinds, whether by email, and quiet hours (their own time zone).
    Each person sets their own (Automation › My alerts); alerts cover only the shops they work for."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts")
    kinds = models.JSONField(default=list, blank=True, help_text="The AlertKind values this person wants.")
    by_email = models.BooleanField("by email", default=True)
    quiet_from = models.TimeField(null=True, blank=True, help_text="No alert is sent from this time...")
    quiet_until = models.TimeField(null=True, blank=True, help_text="...until this time (held, then sent).")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="For the quiet hours.")
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "alert subscription"

    def __str__(self) -> str:
        return f"alerts of {self.user}"


class Alert(models.Model):
    """One event told to one channel (a person's email, or the shop's chat), once: the unique key makes a
    second pull or webhook of the same event a no-op. Sent in batches by `alerts.send_due`."""

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=40, help_text='"user:<id>" or "chat"')
    kind = models.CharField(max_length=10, choices=AlertKind.choices)
    key = models.CharField(max_length=200, help_text="The event: the object's key and its version.")
    text = models.CharField(max_length=500)
    path = models.CharField(max_length=500, help_text="Where it is answered, in the admin.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "channel", "kind", "key"], name="alert_once_per_event")
        ]
        indexes = [models.Index(fields=["channel", "sent_at"], name="alert_pending")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text}"
