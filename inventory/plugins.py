"""What inventory adds to the core (its schedule, the clean-up of its logs) and to the listing page
(listings/slots.py), from InventoryConfig.ready()."""

from __future__ import annotations

from backoffice.background import schedules
from backoffice.background.retention import PURGES
from listings.slots import LISTING_PAGE_TOP

from . import retention
from .templatetags.stock_buffer import stock_buffer_line

# Send the stock queue, watch the mirror for events, fetch feeds, send events.
TICK = schedules.Spec("stock queue and events", "inventory.tasks.tick", 1)


def plug_in() -> None:
    schedules.SCHEDULES.add(TICK, key=TICK.name)
    LISTING_PAGE_TOP.add(stock_buffer_line, key="inventory.stock_buffer")
    for purge in retention.PURGES:
        PURGES.add(purge, key=f"inventory.{purge.label}")
