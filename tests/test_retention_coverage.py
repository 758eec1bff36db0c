"""Every table that grows with time has a retention: each concrete model of the install is either deleted by a
clean-up of `purge_old_records` (the core's CORE_PURGES or an app's PURGES, with the rows that cascade from
it) or listed in KEPT with why it is never purged. A new model that is neither fails here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from backoffice.background.retention import all_purges

pytestmark = pytest.mark.django_db

MIRROR = "a mirror of Reverb: as long as the shop has it"
KEPT: dict[str, str] = {
    # The core: accounts, their live state and one row per account.
    "backoffice.ReverbAccount": "configuration: a shop connected to Reverb",
    "backoffice.RateBudget": "live state: one token bucket per account",
    "backoffice.HistorySweep": "live state: one per account, where the rolling check of older history is",
    "backoffice.Backfill": "live state: one per account, its first pull (or catch-up) and its progress",
    "backoffice.TaskLease": "live state: a task in flight, removed once django-q stored its result",
    # The mirrors of Reverb and the shops' own settings.
    "listings.Listing": MIRROR,
    "listings.ReferenceList": "a cache: one per account and list, replaced when read again",
    "orders.Order": MIRROR,
    "orders.Payment": MIRROR,
    "orders.Feedback": MIRROR,
    "orders.ShippingProviderMapping": "configuration: a shop's carrier names",
    "orders.SkuMapping": "configuration: a shop's own SKUs",
    "refunds.RefundRequest": MIRROR,
    "messaging.Conversation": MIRROR,
    "messaging.Message": MIRROR,
    "messaging.Negotiation": MIRROR,
    "messaging.OfferPolicy": "configuration: an account's offer floor",
    "payouts.Payout": MIRROR,
    "payouts.PayoutLineItem": MIRROR,
    "payouts.FeeSchedule": "configuration: an account's fees",
    "inventory.Integration": "configuration: an API key of another system",
    "inventory.StockIntent": "live state: one per listing, the quantity Reverb is to have",
    "inventory.StockQueue": "live state: one per account, its stock queue's lease",
    "inventory.StockFeed": "configuration: a CSV feed",
    "inventory.EventEndpoint": "configuration: a receiver of events",
    "inventory.SeenState": "live state: one per mirror object, what the event watcher last saw",
    "inventory.AccountStockBuffer": "configuration: an account's stock buffer",
    "inventory.ListingStockBuffer": "configuration: a listing's stock buffer",
    "automation.AutomationSettings": "configuration: an account's kill switch and digest time",
    "automation.Holiday": "configuration: a day the shop does not ship",
    "automation.OfferRule": "configuration: an offer rule",
    "automation.SavedReply": "configuration: a message template",
    "automation.StaleStockRule": "configuration: a price rule",
    "automation.AlertSubscription": "configuration: one person's alerts",
    # Django and the packages it runs with.
    "auth.User": "configuration: the staff",
    "auth.Group": "configuration: the roles",
    "auth.Permission": "configuration",
    "contenttypes.ContentType": "configuration",
    "django_q.Schedule": "configuration: the schedules (backoffice/background/schedules.py)",
    "django_q.OrmQ": "live state: the ORM broker's queue, emptied as tasks are acknowledged",
    "axes.AccessAttempt": "live state: failed logins counting to a lockout; axes deletes them past "
    "AXES_COOLOFF_TIME at every login",
    "axes.AccessAttemptExpiration": "live state: an attempt's expiry (goes with its attempt)",
}


def _cascades_from(model: type[models.Model]) -> set[type[models.Model]]:
    """The models whose rows are deleted with `model`'s (on_delete CASCADE), transitively."""
    found: set[type[models.Model]] = set()
    todo = [model]
    while todo:
        parent = todo.pop()
        for rel in parent._meta.get_fields(include_hidden=True):  # hidden: a ForeignKey(related_name="+")
            if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
                continue
            child = rel.related_model._meta.concrete_model
            if getattr(rel, "on_delete", None) is models.CASCADE and child not in found:
                found.add(child)
                todo.append(child)
    return found


def purged_models(settings: Any) -> dict[str, str]:
    """{model label: the clean-up that deletes its rows}, every retention setting turned on."""
    for name in dir(settings):
        if name.endswith("_RETENTION_DAYS"):
            setattr(settings, name, 30)
    now = timezone.now() + timedelta(days=1000)
    purged: dict[str, str] = {}
    for purge in all_purges():
        old = purge.old(now)
        assert old is not None, f"{purge.label}: nothing purged with every retention at 30 days"
        model = old.model._meta.concrete_model
        purged.setdefault(model._meta.label, purge.label)
        for child in _cascades_from(model):
            purged.setdefault(child._meta.label, f"{purge.label} (cascade)")
    return purged


def test_every_model_is_purged_or_kept_for_a_reason(settings: Any) -> None:
    purged = purged_models(settings)
    concrete = {m._meta.label for m in apps.get_models() if not m._meta.proxy}
    neither = sorted(concrete - set(purged) - set(KEPT))
    assert not neither, (
        f"{neither}: a table that grows needs a retention (a Purge in backoffice/background/retention.py or "
        "the app's plugins.py PURGES); one that does not grow goes in KEPT here, with why"
    )


def test_kept_names_only_models_that_exist_and_are_not_purged(settings: Any) -> None:
    purged = purged_models(settings)
    concrete = {m._meta.label for m in apps.get_models() if not m._meta.proxy}
    assert not set(KEPT) - concrete, f"KEPT names models that are gone: {sorted(set(KEPT) - concrete)}"
    both = {label: purged[label] for label in KEPT if label in purged}
    assert not both, f"purged, yet listed as kept: {both}"


def test_the_logs_named_by_the_issue_have_a_retention(settings: Any) -> None:
    purged = purged_models(settings)
    for label in (
        "backoffice.ApiUsage",
        "backoffice.ReconciliationReport",
        "backoffice.ReconciliationFinding",
        "inventory.IdempotentRequest",
        "inventory.IntegrationCall",
        "inventory.EventDelivery",
        "automation.PlannedAction",
        "automation.PriceChange",
        "orders.ShipBatch",
        "axes.AccessLog",
        "axes.AccessFailureLog",
        "django_q.Task",
        "admin.LogEntry",
        "sessions.Session",
    ):
        assert label in purged, label
