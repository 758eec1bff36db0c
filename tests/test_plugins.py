"""The plug-in slot the core declares and apps fill from AppConfig.ready()."""

from __future__ import annotations

import pytest

from backoffice.plugins import Slot


def test_a_slot_keeps_the_order_added_and_a_key_adds_once() -> None:
    slot: Slot[str] = Slot("things")
    slot.add("a", key="a")
    slot.add("b", key="b")
    slot.add("a2", key="a")  # ready() run again: replaced in place, not listed twice
    assert list(slot) == ["a2", "b"] and len(slot) == 2 and slot.keys() == ["a", "b"]
    assert slot.get("b") == "b"


def test_an_unknown_key_says_where_to_register_it() -> None:
    slot: Slot[str] = Slot("inbox sources")
    with pytest.raises(LookupError, match="inbox sources.*AppConfig.ready"):
        slot.get("refunds")


def test_a_copy_takes_additions_the_original_does_not_see() -> None:
    slot: Slot[str] = Slot("things")
    slot.add("a", key="a")
    twin = slot.copy()
    twin.add("b", key="b")
    assert list(twin) == ["a", "b"] and list(slot) == ["a"]
    assert slot.find("b") is None and twin.find("b") == "b"
