"""The demo shop of `make run` keeps its costs on Reverb (`seller_cost`, `--seller-costs`): every generated
listing carries a shop-like cost; without the flag `seller_cost` is null; the shop is otherwise the same."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from emulator import Emulator


def test_seller_costs_give_every_listing_a_cost_and_change_nothing_else() -> None:
    plain = Emulator(token="t", seed=1, size="demo")
    costed = Emulator(token="t", seed=1, size="demo", seller_costs=True)
    listings = costed.state("listings")["listings"]
    assert listings and all(x["seller_cost"] is not None for x in listings)
    for row in listings:
        share = Decimal(row["seller_cost"]["amount"]) / Decimal(row["price"]["amount"])
        assert Decimal("0.49") <= share <= Decimal("0.79"), row["id"]
        assert row["seller_cost"]["currency"] == row["price"]["currency"]
    assert all(x["seller_cost"] is None for x in plain.state("listings")["listings"])
    strip = [{k: v for k, v in x.items() if k != "seller_cost"} for x in plain.state("listings")["listings"]]
    assert strip == [{k: v for k, v in x.items() if k != "seller_cost"} for x in listings]
    assert plain.state("orders") == costed.state("orders")
    costed.reset(seed=1, size="demo")  # a reset keeps the shop's way
    assert all(x["seller_cost"] is not None for x in costed.state("listings")["listings"])


def test_make_run_starts_the_demo_emulator_with_seller_costs(monkeypatch: Any) -> None:
    from backoffice.management.commands.run_backoffice import Command, Run

    started: list[list[str]] = []
    command = Command()
    monkeypatch.setattr(command, "_spawn", lambda name, args: started.append(args))
    monkeypatch.setattr(command, "_wait_for_port", lambda *a, **k: True)
    command._start_emulator(Run(host="127.0.0.1", port=8000, emulator_port=8765))
    (args,) = started
    assert (
        args[0] == "reverb_emulator" and "--seller-costs" in args and args[args.index("--size") + 1] == "demo"
    )
