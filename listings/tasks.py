"""django-q2 entry points of the listings app (ids in, summary out)."""

from __future__ import annotations

import time

from django.conf import settings

from . import services
from .models import Listing


def confirm_publish(listing_id: int) -> str:
    """Re-read a listing Reverb is publishing until it reads live or failed (a few tries, a few seconds
    apart: Reverb publishes about a second after answering, API-NOTES 16.1.3)."""
    tries = max(1, settings.LISTING_PUBLISH_CONFIRM_TRIES)
    for _ in range(tries):
        time.sleep(settings.LISTING_PUBLISH_CONFIRM_DELAY)
        listing = Listing.objects.filter(pk=listing_id).select_related("account").first()
        if listing is None:
            return "gone"
        outcome = services.confirm_publish(listing)
        if outcome:
            return outcome
    return "still publishing (the next listings pull confirms it)"


def refresh_reference(account_id: int, name: str) -> str:
    """Read one of Reverb's reference lists again for an account whose stored copy is old (the forms show
    the copy meanwhile: listings/reference.py)."""
    from backoffice.models import ReverbAccount

    from . import reference

    account = ReverbAccount.objects.filter(pk=account_id).first()
    return reference.refresh(account, name) if account is not None else "gone"
