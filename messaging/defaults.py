"""A new Reverb account starts with a sensible offer floor: counters and acceptances below 70 % of the list
price are refused until a Manager changes it (Messaging › Offer policies; empty means no floor). Accounts
that existed before keep what they had: a floor appearing on its own would refuse answers they send."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .models import OfferPolicy

DEFAULT_FLOOR_PERCENT = Decimal("70")


def give_new_account_a_floor(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """post_save of ReverbAccount: the default policy, once (a fixture load is left as loaded)."""
    if created and not raw:
        OfferPolicy.objects.get_or_create(account=instance, defaults={"floor_percent": DEFAULT_FLOOR_PERCENT})
