"""Receivers: mirror writes fill the deadline columns (ship-by within the order's own write), wake
the offer rules and raise instant alerts; a listing written sold or ended makes the plans for its offers
stale; holiday and account changes refill ship-by (a time-zone change is picked up by the hourly task).
Connected by AutomationConfig.ready."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backoffice.models import ReverbAccount
from backoffice.sync.engine import rows_to_write, rows_written
from listings.models import Listing
from messaging.models import Conversation, Negotiation
from orders.models import Order
from refunds.models import RefundRequest

from . import stored
from .models import Holiday


@receiver(rows_to_write, sender=Order)
def _orders_to_write(
    sender: Any, account: ReverbAccount, fields: list[dict[str, Any]], **kwargs: Any
) -> None:
    stored.fill_ship_by(account, fields)


@receiver(rows_written, sender=RefundRequest)
def _refunds_written(sender: Any, account: ReverbAccount, keys: list[str], **kwargs: Any) -> None:
    stored.refresh_answer_by(account, keys)


@receiver(rows_written, sender=Negotiation)
def _offers_written(sender: Any, account: ReverbAccount, keys: list[str], **kwargs: Any) -> None:
    from backoffice.background.queue import enqueue

    from .offers import has_active_rules

    if has_active_rules(account.pk):
        enqueue("automation.tasks.run_offer_rules", account.pk, keys)


@receiver(rows_written, sender=Negotiation)
@receiver(rows_written, sender=RefundRequest)
@receiver(rows_written, sender=Order)
@receiver(rows_written, sender=Conversation)
def _alerts_written(sender: Any, account: ReverbAccount, keys: list[str], **kwargs: Any) -> None:
    """Rows a pull or a webhook wrote may be events someone asked to hear of at once (automation/alerts.py):
    a worker looks, after this write commits, only when someone listens."""
    from django.db.models import Exists, Q

    from backoffice.background.queue import enqueue

    from .models import AlertSubscription

    if not keys:
        return
    listening = ReverbAccount.objects.filter(  # one query: anyone subscribed, or this shop's chat
        Q(Exists(AlertSubscription.objects.all())) | Q(automation__chat_webhook_url__gt=""), pk=account.pk
    )
    if listening.exists():
        enqueue("automation.tasks.raise_alerts", sender._meta.label_lower, account.pk, list(keys))


@receiver(rows_written, sender=Listing)
def _listings_written(
    sender: Any, account: ReverbAccount, keys: list[str], fields: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    from .offers import listings_gone

    if fields is not None:  # only rows told they are no longer live with stock can make plans stale
        keys = [k for k in keys if _not_live(fields.get(k, {}))]
    if keys:
        listings_gone(account, keys)


def _not_live(told: dict[str, Any]) -> bool:
    return ("state" in told and told["state"] != "live") or told.get("inventory") == 0


@receiver([post_save, post_delete], sender=Holiday)
def _holidays_changed(sender: Any, instance: Holiday, **kwargs: Any) -> None:
    stored.forget_holidays(instance.account_id)
    stored.refresh_ship_by(instance.account)
