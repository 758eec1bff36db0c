"""The Reverb account: one shop this install works for, its token (encrypted) and its settings."""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import models

from backoffice import crypto

if TYPE_CHECKING:
    from backoffice.reverb.client import ReverbClient

logger = logging.getLogger(__name__)


class Currency(models.TextChoices):
    USD = "USD", "US dollar"
    CAD = "CAD", "Canadian dollar"
    EUR = "EUR", "Euro"
    GBP = "GBP", "British pound"
    AUD = "AUD", "Australian dollar"
    JPY = "JPY", "Japanese yen"
    NZD = "NZD", "New Zealand dollar"
    MXN = "MXN", "Mexican peso"


API_URL_HELP = (
    f"Reverb production: {settings.REVERB_PRODUCTION_URL} · Reverb sandbox: {settings.REVERB_SANDBOX_URL} · "
    "local emulator: http://127.0.0.1:8765/api"
)


def new_webhook_secret() -> str:
    """Reverb signs no webhook, so the URL itself is the secret (API-NOTES 12)."""
    return secrets.token_urlsafe(32)


class ReverbAccount(models.Model):
    """One Reverb shop this install works for. The personal access token is stored encrypted only."""

    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField("API base URL", max_length=200, help_text=API_URL_HELP)
    token_encrypted = models.TextField(blank=True, default="", editable=False)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.USD)
    enabled = models.BooleanField(default=True, help_text="A disabled account is never synced or called.")
    auto_sync = models.BooleanField(default=True, help_text="Pull from Reverb on the schedule.")
    auto_publish = models.BooleanField(default=False, help_text="Publish new listings instead of drafts.")

    # What local edits are pushed to Reverb. Like Reverb's own Magento plugin, only inventory is on by
    # default: the shop opts in to Reverb copies of the rest being driven from here.
    push_title = models.BooleanField(default=False)
    push_description = models.BooleanField(default=False)
    push_price = models.BooleanField(default=False)
    push_inventory = models.BooleanField(default=True)
    push_condition = models.BooleanField(default=False)
    push_photos = models.BooleanField(default=False)
    push_shipping = models.BooleanField(default=False)
    push_make_model = models.BooleanField("push make/model/finish/year", default=False)
    push_categories = models.BooleanField(default=False)

    # Background work (DESIGN.md section 7).
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="Shop time zone, e.g. America/Chicago."
    )
    reconcile_at = models.TimeField(
        default=datetime.time(3, 0), help_text="Nightly reconciliation time, in the shop's time zone."
    )
    webhook_secret = models.CharField(
        max_length=64,
        unique=True,
        default=new_webhook_secret,
        editable=False,
        help_text="The secret part of this account's webhook URL; rotate it from the admin.",
    )

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "Reverb account"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<ReverbAccount {self.pk} {self.name!r} {self.api_url}>"

    def set_token(self, plain: str) -> None:
        plain = plain.strip()
        self.token_encrypted = crypto.encrypt(plain) if plain else ""

    def get_token(self) -> str:
        return crypto.decrypt(self.token_encrypted) if self.token_encrypted else ""

    @property
    def has_token(self) -> bool:
        return bool(self.token_encrypted)

    def client(self, **options: Any) -> ReverbClient:
        """This account's Reverb client: its URL, token and currency, the settings' limits, and the
        account's rate budget shared by all workers. `options` override any of them (tests, tools)."""
        from backoffice.background.ratebudget import account_rate_limiter
        from backoffice.reverb.client import BearerToken, ReverbClient

        options = {
            "currency": self.currency or "USD",
            "account_key": f"account:{self.pk}",
            "per_page": settings.REVERB_PER_PAGE,
            "max_retries": settings.REVERB_MAX_RETRIES,
            "timeout": (settings.REVERB_CONNECT_TIMEOUT, settings.REVERB_READ_TIMEOUT),
            "deadline": settings.REVERB_REQUEST_DEADLINE,
            "max_pause": settings.REVERB_MAX_PAUSE,
            **options,
        }
        options["rate_limiter"] = options.get("rate_limiter") or account_rate_limiter()
        return ReverbClient(self.api_url, BearerToken(self.get_token()), **options)

    @property
    def rate_paused_for(self) -> float:
        """Seconds Reverb paused this account for (a 429's Retry-After, capped); 0 when it is not."""
        from backoffice.background.ratebudget import paused_seconds

        return paused_seconds(self.pk) if self.pk else 0.0

    def verify(self) -> tuple[bool, str]:
        """Call Reverb's account endpoint: (True, shop name) or (False, the exact reason, token-free)."""
        from backoffice.reverb.errors import ReverbError

        if not self.enabled:
            return False, "the account is disabled, so it is never called; enable it first"
        if not self.has_token:
            return False, "no token is set"
        try:
            payload = self.client().get_account()
        except (ReverbError, crypto.TokenDecryptionError) as exc:
            ok, message = False, str(exc)
        except Exception as exc:  # an unexpected failure still gets reported, by type and message
            ok, message = False, f"{type(exc).__name__}: {exc}"
        else:
            ok, message = True, shop_name_of(payload)
            message += self.check_currency()
        message = self._scrub(message)
        level = logging.DEBUG if ok else logging.INFO
        logger.log(level, "verify %r: %s %s", self, "ok" if ok else "failed", message)
        return ok, message

    def check_currency(self) -> str:
        """Read the shop's currency from Reverb (`GET /shop`) and correct this account's when it differs:
        refunds must be in the shop's own currency (API-NOTES 16.4), so a wrong one would fail every
        seller refund later. Returns a sentence saying what changed ("" when nothing did or Reverb did
        not say)."""
        from backoffice.reverb.errors import ReverbError

        try:
            shop = self.client().get_shop()
        except ReverbError as exc:
            return f" (could not read the shop's currency: {exc})"
        told = str((shop or {}).get("currency") or "").upper() if isinstance(shop, dict) else ""
        if not told or told == self.currency:
            return ""
        if told not in Currency.values:
            return f"; the shop's currency on Reverb is {told}, which this back office does not know"
        was, self.currency = self.currency, told
        if self.pk is not None:
            type(self).objects.filter(pk=self.pk).update(currency=told)
        logger.info("account %r: currency corrected from %s to %s (the shop's)", self, was, told)
        return f"; currency corrected from {was} to {told} (the shop's currency on Reverb)"

    def _scrub(self, text: str) -> str:
        """Defence in depth: never let the token through in a message, whatever raised it."""
        try:
            token = self.get_token()
        except crypto.TokenDecryptionError:
            return text
        return text.replace(token, "[token]") if token else text


def shop_name_of(payload: dict[str, Any]) -> str:
    """The shop's display name from GET /my/account (Reverb nests it under "shop"; shape not confirmed)."""
    shop = payload.get("shop")
    if isinstance(shop, dict) and shop.get("name"):
        return str(shop["name"])
    for key in ("shop_name", "name", "username", "email"):
        if payload.get(key):
            return str(payload[key])
    return "(account reachable; no shop name in the response)"


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone, UTC when the name is unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def account_zones(account_ids: Iterable[int] | None = None) -> dict[str, list[int]]:
    """{time zone name: account ids} (one query): weekly and monthly figures bucket each account's rows
    in its shop's own time zone."""
    qs = ReverbAccount.objects.all()
    if account_ids is not None:
        qs = qs.filter(pk__in=list(account_ids))
    zones: dict[str, list[int]] = {}
    for pk, name in qs.values_list("pk", "time_zone").order_by("pk"):
        zones.setdefault(name or "UTC", []).append(pk)
    return zones
