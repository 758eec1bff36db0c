"""What a stock send says about relisting (listings.services.push_inventory): nothing for a live listing,
Reverb's own relist of a listing with inventory, and the one publish when the mirror did not know the
listing had ended."""

from __future__ import annotations

from typing import Any

from backoffice.models import ReverbAccount
from listings import services
from listings.models import Listing
from tests.inventory.conftest import emu_record, inventory_listing, used_listing


def test_a_live_listing_is_only_given_its_quantity(account: ReverbAccount, emulator: Any) -> None:
    done = services.push_inventory(inventory_listing(account), 5, actor=None)
    assert done.message == "Inventory 5 sent." and done.results == [{"relisted": False}]
    assert done.obj.inventory == 5


def test_a_sold_out_listing_with_inventory_is_relisted_by_reverb(
    account: ReverbAccount, emulator: Any
) -> None:
    listing = inventory_listing(account)
    services.push_inventory(listing, 0, actor=None)
    sold = Listing.objects.get(pk=listing.pk)
    assert sold.state in services.SOLD_STATES
    done = services.push_inventory(sold, 3, actor=None)
    assert done.obj.state == "live" and done.results == [{"relisted": True}]
    assert done.message == (
        "Inventory 3 sent. Relisted: Reverb relists a listing with inventory when its stock comes back."
    )


def test_an_end_the_mirror_missed_is_published_once(account: ReverbAccount, emulator: Any) -> None:
    listing = used_listing(account)
    emu_record(emulator, listing)["state"] = "ended"  # ended on Reverb; the mirror still says live
    done = services.push_inventory(listing, 1, actor=None)
    assert done.results == [{"relisted": True}]
    assert done.message.startswith("Inventory 1 sent. Relisted: Publishing "), done.message
    emulator.advance(2)  # Reverb publishes a second after answering (API-NOTES 16.1.3)
    emulator.settle()
    assert emu_record(emulator, listing)["state"] == "live"
