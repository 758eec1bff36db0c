"""Mirror models for conversations, messages and offers; see ../shared/DESIGN.md section 4."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Coalesce

from backoffice import deadlines
from backoffice.models import RemoteModel, amount_field

SOLD_STATES = ("sold", "sold_out")  # a listing in one of these has nothing left to negotiate about
# What awaits the shop; partial indexes hold only these rows, in the inbox's order (oldest first).
UNREAD = Q(unread=True, missing=False)
OFFER_OPEN = Q(state="active", actionable=True, missing=False)
OFFER_SINCE = Coalesce("remote_updated_at", "remote_created_at")  # when the offer came to the shop


class Conversation(RemoteModel):
    """A buyer conversation. Key: conversation id. Shape is emulator-defined (API-NOTES 9)."""

    subject = models.CharField(max_length=500, blank=True, default="")
    unread = models.BooleanField(default=False, db_index=True)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    other_party_name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    other_party_id = models.CharField(max_length=64, blank=True, default="")
    listing_reverb_id = models.CharField("listing id", max_length=64, blank=True, default="", db_index=True)
    listing = models.ForeignKey(
        "listings.Listing", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )

    class Meta(RemoteModel.Meta):
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(
                fields=["account", "last_message_at", "id"], condition=UNREAD, name="conversation_unread"
            ),
            # the conversations list's order (unread first, newest first), walked backwards for one shop
            models.Index(fields=["account", "unread", "last_message_at", "id"], name="conversation_list"),
        ]
        permissions = [("reply_message", "Can reply to buyers and mark conversations read or unread")]

    def __str__(self) -> str:
        return self.subject or f"conversation with {self.other_party_name or self.reverb_id}"


class Message(RemoteModel):
    """One message of a conversation, pulled from the conversation's details. Key: message id."""

    conversation_reverb_id = models.CharField("conversation id", max_length=64, db_index=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    body = models.TextField(blank=True, default="")
    sender_name = models.CharField(max_length=255, blank=True, default="")
    sender_id = models.CharField(max_length=64, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta(RemoteModel.Meta):
        ordering = ["sent_at", "id"]


class Negotiation(RemoteModel):
    """An offer negotiation on one of our listings. Key: negotiation id."""

    # active, accepted, declined, expired; unknown values kept.
    state = models.CharField(max_length=40, blank=True, default="", db_index=True)
    buyer_name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    buyer_id = models.CharField(max_length=64, blank=True, default="")
    offers_count = models.PositiveIntegerField(default=0)
    last_offered_price = amount_field()
    last_offered_shipping = amount_field()
    last_offered_total = amount_field()
    currency = models.CharField(max_length=3, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    actionable = models.BooleanField("seller's turn", default=False, db_index=True)
    listing_reverb_id = models.CharField("listing id", max_length=64, blank=True, default="", db_index=True)
    listing = models.ForeignKey(
        "listings.Listing", null=True, blank=True, on_delete=models.SET_NULL, related_name="negotiations"
    )

    class Meta(RemoteModel.Meta):
        ordering = ["-remote_updated_at", "-id"]
        indexes = [
            models.Index(F("account"), OFFER_SINCE, F("id"), condition=OFFER_OPEN, name="negotiation_open"),
            # the offers page (messaging/views.py): the active ones, the shop's turn first, by expiry
            models.Index(
                fields=["account", "-actionable", "expires_at", "id"],
                condition=Q(state="active", missing=False),
                name="negotiation_active",
            ),
        ]
        permissions = [("respond_offer", "Can accept, decline and counter offers")]

    @property
    def offered_total(self) -> Decimal | None:
        """What the buyer pays: Reverb's total, else item + shipping."""
        if self.last_offered_total is not None:
            return self.last_offered_total
        if self.last_offered_price is None:
            return None
        return self.last_offered_price + (self.last_offered_shipping or Decimal(0))

    @property
    def listing_sold(self) -> bool:
        return self.listing is not None and self.listing.state in SOLD_STATES

    @property
    def is_open(self) -> bool:
        """Active, the seller's turn and the listing not sold: the only state in which
        accept/decline/counter are offered."""
        return self.state == "active" and self.actionable and not self.listing_sold


class OfferPolicy(models.Model):
    """An optional floor per account: counters below it are refused, and so is accepting an offer below
    it (as a percentage of the listing's price)."""

    account = models.OneToOneField(
        "backoffice.ReverbAccount", on_delete=models.CASCADE, related_name="offer_policy"
    )
    floor_percent = models.DecimalField(
        "floor (% of list price)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Empty: no floor. 80 means never go below 80% of the listing's price.",
    )

    class Meta:
        verbose_name = "offer policy"
        verbose_name_plural = "offer policies"

    def __str__(self) -> str:
        return f"{self.account}: floor {self.floor_percent or '-'}%"

    def floor_for(self, list_price: Decimal | None) -> Decimal | None:
        if self.floor_percent is None or list_price is None:
            return None
        return (list_price * self.floor_percent / 100).quantize(Decimal("0.01"))


def offers_awaiting_shop() -> QuerySet[Negotiation]:
    """Offers whose answer is the shop's (active, its turn, the listing not sold): inbox and dashboard."""
    return Negotiation.objects.filter(OFFER_OPEN).exclude(listing__state__in=SOLD_STATES)


def offers_with_expiry(qs: QuerySet[Negotiation]) -> QuerySet[Negotiation]:
    """`expiry`: the offer's expires_at, else 48 h after it was made (deadlines.offer_expiry in SQL)."""
    fallback = ExpressionWrapper(
        F("remote_created_at") + deadlines.OFFER_FALLBACK_WINDOW, output_field=DateTimeField()
    )
    return qs.annotate(expiry=Coalesce("expires_at", fallback, output_field=DateTimeField()))


def conversations_awaiting_shop() -> QuerySet[Conversation]:
    """Conversations with an unread message from the buyer."""
    return Conversation.objects.filter(UNREAD)
