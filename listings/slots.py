"""Where the apps above listings add to the listing's admin without listings naming them
(backoffice/plugins.py): orders and messaging add their links, automation its price edit action and margin
box, inventory its stock buffer line, from
their AppConfig.ready() (their plugins.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString

from backoffice.plugins import Slot

# The listing's change form, "Links": admin display callables (listing) -> html (orders, conversations...).
LISTING_LINKS: Slot[Callable[[Any], SafeString | str]] = Slot("listing links")
# The listing page's panels, (template context, listing) -> html: lines at the top (inventory's stock buffer),
# boxes after the photos (automation's margin); rendered by {% listing_panels "top"|"body" original %}.
LISTING_PAGE_TOP: Slot[Callable[[Any, Any], SafeString | str]] = Slot("listing page, top")
LISTING_PAGE_PANELS: Slot[Callable[[Any, Any], SafeString | str]] = Slot("listing page panels")
# Admin actions of the listings changelist (ModelAdmin action functions), after listings' own edits.
LISTING_ACTIONS: Slot[Callable[..., Any]] = Slot("listing actions")
