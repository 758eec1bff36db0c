"""The nightly repair of stock (issue 23): the reconciliation shows this app every page of listings it
walks (`register_page_checker`, from apps.py), and a listing whose wanted quantity is taken as on Reverb
but Reverb has another one is queued again, the difference sent by the next drain.

Only live listings are repaired: a sold or ended one with less on Reverb may be a sale whose order is not
pulled yet (the order's own path lowers the wanted quantity), and a repair must never sell it twice. A
listing sent in the last minutes is left alone too: the page may be older than the send."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from backoffice.models import ReverbAccount
from backoffice.sync.reconcile import Repair

from . import services
from .models import StockIntent

RECENT_SEND = timedelta(minutes=5)


def stock_drift(account: ReverbAccount, page: Mapping[str, Mapping[str, Any]]) -> list[Repair]:
    """Queue again every intent of the page's listings whose quantity Reverb does not have."""
    told = {
        key: fields["inventory"]
        for key, fields in page.items()
        if isinstance(fields.get("inventory"), int) and fields.get("state") == "live"
    }
    if not told:
        return []
    now = timezone.now()
    services.lock_queue(account.pk)  # (in the page's transaction)
    intents = (
        StockIntent.objects.filter(account=account, status=StockIntent.Status.SENT)
        .filter(listing__reverb_id__in=told)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=now - RECENT_SEND))
        .select_related("listing")
    )
    repairs = []
    for intent in intents:
        theirs = told[intent.listing.reverb_id]
        if theirs == intent.quantity:
            continue
        StockIntent.objects.filter(pk=intent.pk, status=StockIntent.Status.SENT).update(
            status=StockIntent.Status.QUEUED,
            queued_at=now,
            priority=services.priority(intent.quantity),
            sent_quantity=theirs,
            attempts=0,
            next_try_at=None,
            last_error="",
        )
        repairs.append(
            Repair(
                intent.listing.reverb_id,
                "stock",
                intent.quantity,
                theirs,
                f"The shop wants {intent.quantity}, Reverb has {theirs}: queued again.",
            )
        )
    if repairs:
        services.request_drain(account.pk)
    return repairs
