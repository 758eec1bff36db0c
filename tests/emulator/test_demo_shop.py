"""The demo shop (`make run`) looks like a working shop: sales, approved refunds and payouts in the weeks
the dashboard charts (the last 12)."""

from __future__ import annotations

from emulator import Emulator


def test_demo_shop_has_recent_sales_refunds_and_payouts_spread_over_12_weeks() -> None:
    emulator = Emulator(token="t", seed=1, size="demo")
    now = emulator.store.now()

    def weeks(rows, key):  # type: ignore[no-untyped-def]
        return {(now - r[key]).days // 7 for r in rows if r.get(key) and (now - r[key]).days < 84}

    assert len(weeks(emulator.store.table("orders").values(), "paid_at")) >= 8
    assert len(weeks(emulator.store.table("payouts").values(), "created_at")) >= 4
    approved = [r for r in emulator.store.table("refund_requests").values() if r["state"] == "approved"]
    assert len(weeks(approved, "created_at")) >= 2
