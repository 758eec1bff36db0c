"""Where the apps above listings add to the listing's admin without listings naming them
(backoffice/plugins.py): orders and messaging add their links, automation its price edit action, from
their AppConfig.ready() (their contributions.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString

from backoffice.plugins import Slot

# The listing's change form, "Links": admin display callables (listing) -> html (orders, conversations...).
LISTING_LINKS: Slot[Callable[[Any], SafeString | str]] = Slot("listing links")
# Admin actions of the listings changelist (ModelAdmin action functions), after listings' own edits.
LISTING_ACTIONS: Slot[Callable[..., Any]] = Slot("listing actions")
