"""Stock from the shop's other channels (issue 14): integration credentials, the desired quantity per
listing and its queue, CSV feeds, outgoing event endpoints and their delivery log.

The per-item sync log is the back office's one sync log (`SyncLogEntry`), seen through the `StockSyncEntry`
proxy: rows with resource "stock.in" (a quantity received) or "stock.out" (a quantity sent to Reverb).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from backoffice import crypto
from backoffice.models import SyncLogEntry

KEY_PREFIX = "rbo"
MAX_KEY_LENGTH = 255  # an Idempotency-Key's; a longer one is refused, never cut (two would collide)


def hash_key(secret: str) -> str:
    """SHA-256 of a random 32-byte key: the key is not a password (no dictionary to guess from), so a
    fast hash is the right tool; only the hash is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Source(models.TextChoices):
    PERSON = "person", "Person"
    API = "api", "API client"
    FEED = "feed", "CSV feed"
    REVERB_ORDER = "reverb_order", "Reverb order"
    REFUND = "refund", "Refund (item returned)"


class Integration(models.Model):
    """Another system allowed to drive one account's stock: an API key, shown once, stored hashed."""

    name = models.CharField(max_length=100)
    account = models.ForeignKey(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="integrations"
    )
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="inventory_integration_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def new_key(self) -> str:
        """Give this integration a new key and return it (the only time it is ever readable)."""
        self.key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self.key_hash = hash_key(secret)
        return f"{KEY_PREFIX}_{self.key_id}_{secret}"

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_key(secret))

    # DRF's IsAuthenticated asks the request's user; an integration stands in for one.
    is_authenticated = True


class IntegrationCall(models.Model):
    """One call of the API by an integration: what it asked and how it went (the admin shows the recent
    ones and the errors)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=200)
    status_code = models.PositiveSmallIntegerField()
    rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"


class IdempotentRequest(models.Model):
    """The first answer to an `Idempotency-Key`: a replay returns it and changes nothing."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "key"], name="inventory_idempotency_unique")
        ]

    def __str__(self) -> str:
        return self.key


class StockIntent(models.Model):
    """The quantity the shop wants on one listing, and whether Reverb still has to hear it.

    One row per listing: a newer change overwrites `quantity` (several changes before sending collapse
    into the latest). `queued` rows wait in the queue, ordered by (priority, queued_at): quantity 0 has
    priority 0 and goes first (overselling is the costly error), the rest in the order they came."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to be sent"
        SENT = "sent", "On Reverb"
        FAILED = "failed", "Failed"

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="+")
    listing = models.OneToOneField("listings.Listing", on_delete=models.CASCADE, related_name="stock_intent")
    sku = models.CharField("SKU", max_length=255, db_index=True)
    quantity = models.PositiveIntegerField(
        help_text="What Reverb is to have (the reported quantity less the stock buffer)."
    )
    reported = models.PositiveIntegerField(
        null=True, blank=True, help_text="What the shop's other channel reported, before the stock buffer."
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    source_detail = models.CharField(max_length=200, blank=True, default="")
    changed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    priority = models.PositiveSmallIntegerField(default=1)
    queued_at = models.DateTimeField(null=True, blank=True)
    next_try_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_quantity = models.IntegerField(
        null=True, blank=True, help_text="The last quantity Reverb confirmed."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    forced = models.BooleanField(
        default=False, help_text="Send even if the mirror says Reverb has it (the shop asked to resend)."
    )
    # The send that holds this row (one writer per listing): a lease, not a row lock, since it spans a
    # Reverb call; a worker that dies leaves it to expire.
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["priority", "queued_at", "id"]
        indexes = [models.Index(fields=["account", "status", "priority", "queued_at"])]
        verbose_name = "stock intent"
        permissions = [("send_stock", "Can set stock and send the stock queue")]

    def __str__(self) -> str:
        return f"{self.sku} -> {self.quantity}"


class StockQueue(models.Model):
    """One account's stock queue as a whole: the row `set_stock` locks (one writer of the account's
    intents at a time), the lease of the one drain that sends it, and whether a drain is already asked
    for (many requests for a drain collapse into one task)."""

    account = models.OneToOneField(
        "backoffice.ReverbAccount", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    drain_requested_at = models.DateTimeField(null=True, blank=True)
    drain_token = models.CharField(max_length=32, blank=True, default="")
    drain_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"stock queue of {self.account_id}"


class StockFeed(models.Model):
    """A CSV of `sku,quantity` rows: uploaded in the admin, or fetched from `url` every `minutes`."""

    name = models.CharField(max_length=100)
    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(
        max_length=500,
        blank=True,
        default="",
        help_text="http(s) URL fetched on the schedule; empty: uploads only.",
    )
    minutes = models.PositiveIntegerField(default=60, help_text="Fetch every this many minutes.")
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    last_report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["account", "name"]

    def __str__(self) -> str:
        return self.name


class EventEndpoint(models.Model):
    """A URL a Manager registered to hear events, signed with its own secret (kept encrypted).

    `enabled` is a person's switch: off, no events are made for it. `down_since` is the back office's own
    state (half-open): the receiver kept failing, so only its oldest delivery is tried now and then, and the
    events raised meanwhile wait for it. `lease_until`/`lease_token` claim the endpoint for one worker."""

    class Event(models.TextChoices):
        ORDER_PAID = "order.paid", "Order paid"
        ORDER_SHIPPED = "order.shipped", "Order shipped"
        REFUND_APPROVED = "refund.approved", "Refund approved"
        LISTING_SOLD_OUT = "listing.sold_out", "Listing sold out"
        LISTING_ENDED = "listing.ended", "Listing ended"
        STOCK_CHANGED = "stock.changed", "Stock changed on Reverb"

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    account = models.ForeignKey(
        "backoffice.ReverbAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: events of every account.",
    )
    events = models.JSONField(default=list, blank=True, help_text="Event names; empty: all events.")
    secret_encrypted = models.TextField(editable=False, default="")
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True, help_text="When a person disabled it.")
    disabled_reason = models.TextField(blank=True, default="")
    down_since = models.DateTimeField(
        null=True, blank=True, help_text="Failing: probed with one delivery now and then until it answers."
    )
    down_reason = models.TextField(blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "event endpoint"

    def __str__(self) -> str:
        return self.name

    def new_secret(self) -> str:
        secret = "whsec_" + secrets.token_urlsafe(32)
        self.secret_encrypted = crypto.encrypt(secret)
        return secret

    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    def wants(self, event: str, account_id: int | None) -> bool:
        return (
            self.enabled
            and (not self.events or event in self.events)
            and (self.account_id is None or self.account_id == account_id)
        )


class EventDelivery(models.Model):
    """One event for one endpoint, with its attempts; `replay` makes a new delivery of the same event.
    An endpoint's pending deliveries leave oldest first (by id), each after the one before it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    endpoint = models.ForeignKey(EventEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, db_index=True)
    event_id = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "event deliveries"
        indexes = [models.Index(fields=["endpoint", "status", "id"], name="inventory_delivery_queue")]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint}"


class SeenState(models.Model):
    """What the event watcher last saw of a mirror object (status, state, inventory), so a change of it is
    noticed once: a new order, a status change, a listing that sold out."""

    account = models.ForeignKey("backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    reverb_id = models.CharField(max_length=64)
    state = models.CharField(max_length=40, blank=True, default="")
    number = models.IntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "reverb_id"], name="inventory_seen_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reverb_id}: {self.state}"


class StockSyncEntry(SyncLogEntry):
    """The stock rows of the one sync log (resource "stock.in" / "stock.out"), for their own admin."""

    class Meta:
        proxy = True
        verbose_name = "stock sync log entry"
        verbose_name_plural = "stock sync log"

    @property
    def source(self) -> str:
        return str((self.raw or {}).get("source", "")) if isinstance(self.raw, dict) else ""

    @property
    def quantities(self) -> str:
        """The reported quantity and Reverb's when a buffer held some back: "received 5, sent 4 (1 held
        back)"."""
        raw = self.raw if isinstance(self.raw, dict) else {}
        reported, quantity = raw.get("reported"), raw.get("quantity")
        if reported is None or quantity is None or reported == quantity:
            return "" if quantity is None else str(quantity)
        verb = "sent" if self.resource == "stock.out" else "for Reverb"
        return f"received {reported}, {verb} {quantity} ({reported - quantity} held back)"


class BufferFields(models.Model):
    """How much of what the shop's other channels report Reverb gets: `hold_back` units kept off Reverb
    (a one-off sold in the shop and on Reverb in the same minute is then not sold twice), and at most
    `publish_at_most` units shown. Applied by `set_stock` (inventory/buffer.py)."""

    hold_back = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units of the reported quantity kept off Reverb."
    )
    publish_at_most = models.PositiveIntegerField(
        null=True, blank=True, help_text="Reverb never gets more than this; empty: no cap."
    )

    class Meta:
        abstract = True


class AccountStockBuffer(BufferFields):
    """An account's stock buffer: the default of its every listing."""

    account = models.OneToOneField(
        "backoffice.ReverbAccount", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = "stock buffer (account)"
        verbose_name_plural = "stock buffers (accounts)"

    def __str__(self) -> str:
        return f"stock buffer of {self.account}"


class ListingStockBuffer(BufferFields):
    """One listing's own buffer: each field set beats the account's; an empty one takes the account's."""

    listing = models.OneToOneField(
        "listings.Listing", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = "stock buffer (listing)"
        verbose_name_plural = "stock buffers (listings)"

    def __str__(self) -> str:
        return f"stock buffer of {self.listing}"
