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
from backoffice.models.ratebudget import account_rate_limiter, paused_seconds

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


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def api_url_refusal(url: str) -> str | None:
    """Why an account may not use this API URL (its token is sent there), or None when it may.

    Reverb production or sandbox, or a host REVERB_ALLOWED_HOSTS names; https, except on a loopback host or
    an entry written "http://host[:port]". Parsed with the parser the HTTP library uses (urllib3)."""
    from urllib3.util import parse_url

    try:
        parts = parse_url(url.strip())
    except ValueError:
        return "not a URL"
    scheme, host = (parts.scheme or "").lower(), (parts.host or "").lower().strip("[]")
    if parts.auth or "\\" in url or "@" in url or not host or scheme not in {"http", "https"}:
        return "not a plain http(s) URL of a host"
    port = parts.port or (443 if scheme == "https" else 80)
    for reverb in (settings.REVERB_PRODUCTION_URL, settings.REVERB_SANDBOX_URL):
        known = parse_url(reverb)
        if host == known.host and scheme == "https" and port == (known.port or 443):
            return None
    for entry in settings.REVERB_ALLOWED_HOSTS:
        entry = entry.strip().lower()
        plain_http = entry.startswith("http://")
        if "://" not in entry:
            entry = f"https://[{entry}]" if entry.count(":") > 1 and "[" not in entry else f"https://{entry}"
        try:
            allowed = parse_url(entry)
        except ValueError:
            continue
        allowed_host = (allowed.host or "").strip("[]")
        if allowed_host != host or (allowed.port is not None and allowed.port != port):
            continue
        if scheme == "https" or plain_http or host in LOOPBACK_HOSTS:
            return None
        return "use https (plain http is allowed on loopback only)"
    return (
        f"{host} is neither Reverb ({settings.REVERB_PRODUCTION_URL}, {settings.REVERB_SANDBOX_URL}) nor a "
        "host this install allows (setting REVERB_ALLOWED_HOSTS)"
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

    # Staff who work for this shop: they see and act on its data only (superusers see every shop).
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="reverb_accounts",
        help_text="Staff who see and work on this shop's data. Superusers see every shop.",
    )

    # The last check of the token's scopes (backoffice/reverb/scopes.py): {"checked_at", "summary",
    # "missing": [scope...], "lines": [...]}; empty until the first check.
    scopes_found = models.JSONField(default=dict, blank=True, editable=False)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "Reverb account"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<ReverbAccount {self.pk} {self.name!r} {self.api_url}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The token belongs to the host it was given for: a new URL without a new token drops the old one,
        # so it is never sent to a host its owner did not give it to (issue 16 item 3).
        stored_url, stored_token = getattr(self, "_stored", (None, None))
        if stored_url is not None and self.api_url != stored_url and self.token_encrypted == stored_token:
            self.token_encrypted = ""
            fields = kwargs.get("update_fields")
            if fields is not None:
                kwargs["update_fields"] = {*fields, "token_encrypted"}
        super().save(*args, **kwargs)
        self._stored = (self.api_url, self.token_encrypted)

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> ReverbAccount:
        account = super().from_db(db, field_names, values)
        account._stored = (account.__dict__.get("api_url"), account.__dict__.get("token_encrypted"))
        return account

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        super().clean()
        refusal = api_url_refusal(self.api_url or "")
        if refusal:
            raise ValidationError({"api_url": f"Refused API URL: {refusal}."})

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
        except ReverbError as exc:
            ok, message = False, _failure(exc)
        except crypto.TokenDecryptionError as exc:
            ok, message = False, str(exc)
        except Exception as exc:  # an unexpected failure still gets reported, by type and message
            ok, message = False, f"{type(exc).__name__}: {exc}"
        else:
            if isinstance(payload, dict):
                ok, message = True, shop_name_of(payload) + self.check_currency()
            else:  # e.g. an empty body: whatever answers there, it is not Reverb's account endpoint
                ok, message = False, "the answer is not Reverb's account endpoint (not a JSON object)"
        message = self._scrub(message)
        level = logging.DEBUG if ok else logging.INFO
        logger.log(level, "verify %r: %s %s", self, "ok" if ok else "failed", message)
        return ok, message

    def check_scopes(self) -> str:
        """Check the token's scopes with one harmless request each, keep the result on the account and
        return its summary (which features will not work). Costs about a dozen requests of the budget."""
        from django.utils import timezone

        from backoffice.reverb import scopes

        found = scopes.check(self.client())
        self.scopes_found = {
            "checked_at": timezone.now().isoformat(),
            "summary": scopes.summary(found),
            "missing": [f.need.scope for f in scopes.missing(found)],
            "lines": [self._scrub(f.line) for f in found],
        }
        ReverbAccount.objects.filter(pk=self.pk).update(scopes_found=self.scopes_found)
        return self.scopes_found["summary"]

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


def _failure(exc: Exception) -> str:
    """Why verifying failed, in our words: the status Reverb (or whatever answers at the URL) gave, never
    its body, so "Verify connection" cannot be used to read an internal service's answers."""
    from http import HTTPStatus

    status = getattr(exc, "status", None)
    if status is None:  # no answer at all: our own transport's words (connection refused, timeout)
        return str(exc)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "HTTP status"
    hint = {401: ": the token is wrong or revoked", 403: ": the token lacks a scope"}.get(status, "")
    if 200 <= status < 300:
        return f"the answer ({status} {phrase}) is not Reverb's account endpoint"
    return f"{status} {phrase}{hint} (the answer's body is not shown)"


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
