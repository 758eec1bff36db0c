"""Where the apps above messaging add to its pages without messaging naming them (backoffice/plugins.py):
automation adds the saved replies of the reply box and the offer page's margin, from its AppConfig.ready()
(its plugins.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backoffice.plugins import Slot

# The reply box's saved replies: (conversation or None when writing first, order or None) -> [(reply, text
# filled for this conversation)]; a reply has `pk` and `name`.
SAVED_REPLIES: Slot[Callable[[Any, Any], list[tuple[Any, str]]]] = Slot("saved replies")


# The offer page's panels, (template context, negotiation) -> html (automation's margin of the offer);
# rendered by {% offer_panels n %}.
OFFER_PAGE_PANELS: Slot[Callable[[Any, Any], Any]] = Slot("offer page panels")


def saved_replies(conversation: Any, order: Any = None) -> list[tuple[Any, str]]:
    """Every saved reply the apps above offer for this conversation (or a first message about `order`)."""
    return [pair for source in SAVED_REPLIES for pair in source(conversation, order)]
