"""What inventory adds to the listing page (listings/slots.py), from InventoryConfig.ready()."""

from __future__ import annotations

from listings.slots import LISTING_PAGE_TOP

from .templatetags.stock_buffer import stock_buffer_line


def plug_in() -> None:
    LISTING_PAGE_TOP.add(stock_buffer_line, key="inventory.stock_buffer")
