"""The emulator's invented shapes are listed in one place, and each has a second plausible variant."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import Emulator
from emulator.guesses import GUESSES, VARIANTS
from tests.conftest import EMULATOR_TEST_PACE

HEADERS = {"authorization": "Bearer t", "accept-version": "3.0"}


def get(emu: Emulator, path: str, query: str = "") -> Any:
    import json

    answer = emu.handle("GET", f"/api{path}", query, HEADERS, b"", "http://x")
    assert answer.status == 200, answer.body
    return json.loads(answer.encode())


def shapes(variant: str) -> dict[str, Any]:
    emu = Emulator(token="t", seed=1, size="demo", variant=variant, **EMULATOR_TEST_PACE)
    conversation = get(emu, "/my/conversations")["conversations"][0]
    payout = get(emu, "/my/payouts", "created_start_date=2000-01-01")["payouts"][0]
    return {
        "conversations": conversation,
        "messages": conversation["messages"][0],
        "payments": get(emu, "/my/payments/selling")["payments"][0],
        "payout_line_items": get(emu, payout["_links"]["line_items"]["href"].removeprefix("http://x/api"))[
            "line_items"
        ][0],
        "shipping_providers": get(emu, "/shipping/providers"),
    }


def test_every_guessed_shape_is_listed_with_both_variants() -> None:
    assert set(GUESSES) == {
        "conversations",
        "messages",
        "payout_line_items",
        "payments",
        "shipping_providers",
    }
    assert all(set(v) == set(VARIANTS) for v in GUESSES.values())


@pytest.mark.parametrize("kind", sorted(GUESSES))
def test_the_alt_variant_serves_a_different_shape(kind: str) -> None:
    default, alt = shapes("default")[kind], shapes("alt")[kind]
    assert set(default) != set(alt) or {type(v) for v in default.values()} != {type(v) for v in alt.values()}


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        Emulator(variant="nonsense")
