"""The demo shop's automation (run by `make run` after the demo account points at the emulator): one
account-wide offer rule in plan mode, so the planned list fills as the first pulls of offers land (the
pull wakes the rules; the "offer rules" schedule is the net), and a daily digest at 08:00 shop time."""

from __future__ import annotations

from decimal import Decimal

from backoffice.models import ReverbAccount

from .models import AutomationSettings, Mode, OfferRule

DEMO_RULE = "Demo: answer offers (plan mode)"


def setup_demo(account: ReverbAccount) -> OfferRule:
    AutomationSettings.objects.get_or_create(account=account, defaults={"digest_hour": 8})
    rule, _ = OfferRule.objects.get_or_create(
        account=account,
        name=DEMO_RULE,
        defaults={
            "mode": Mode.PLAN,
            "floor": Decimal("75"),
            "target": Decimal("92"),
            "decline_message": "Thanks for your offer; it is below what we can accept for this item.",
        },
    )
    return rule
