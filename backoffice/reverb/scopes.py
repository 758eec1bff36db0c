"""Which of the token's scopes the back office needs, and a harmless check of each (API-NOTES 2, 13).

A personal token carries the scopes its owner ticked; one without, say, `read_offers` fails on the first
offers pull while everything else works. `check(client)` asks Reverb once per scope with a request that
changes nothing: a read of one item for a read scope, and for a write scope a write to an object that
cannot exist (id 0): Reverb checks the token's scope before it looks the object up, so "not found" (or a
validation refusal) means the scope is there and 403 means it is missing (ours [INFERRED]: OAuth servers
check scopes before the action; the emulator does the same). Part of the seam: no Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .client import ReverbClient
from .errors import (
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    RateLimitPausedError,
    ReverbError,
    UnauthorizedError,
    ValidationError,
)

NONE = "0"  # an id no Reverb object has


@dataclass(frozen=True)
class Need:
    scope: str
    enables: str  # what works with it, in the words of the admin
    probe: Callable[[ReverbClient], Any]


def _first(path: str) -> Callable[[ReverbClient], Any]:
    return lambda client: client.request("GET", path, params={"per_page": 1})


def _write(method: str, path: str) -> Callable[[ReverbClient], Any]:
    return lambda client: client.request(method, path, json={})


NEEDS: tuple[Need, ...] = (
    Need("read_profile", "the shop's details, currency and shipping profiles", _first("/my/account")),
    Need("read_listings", "pulling listings", _first("/my/listings")),
    Need(
        "write_listings",
        "editing, publishing and ending listings, stock updates, promotions",
        _write("PUT", f"/listings/{NONE}"),
    ),
    Need("read_orders", "pulling orders, refund requests and payments", _first("/my/orders/selling/all")),
    Need(
        "write_orders",
        "shipping orders, local pickups, answering refund requests, refunds",
        _write("POST", f"/my/orders/selling/{NONE}/ship"),
    ),
    Need("read_offers", "pulling offers", _first("/my/listings/negotiations")),
    Need(
        "write_offers",
        "accepting, declining and countering offers, offers from a conversation (and the offer rules)",
        _write("POST", f"/my/negotiations/{NONE}/decline"),
    ),
    Need("read_messages", "pulling conversations", _first("/my/conversations")),
    Need(
        "write_messages",
        "replying to buyers, marking conversations read",
        _write("PUT", f"/my/conversations/{NONE}"),
    ),
    Need("read_payouts", "pulling payouts and the payouts reconciliation", _first("/my/payouts")),
    Need("read_feedback", "pulling feedback", _first("/my/feedback/received")),
    Need(
        "write_feedback",
        "leaving feedback for buyers",
        _write("POST", f"/orders/{NONE}/feedback/buyer"),
    ),
)
SCOPES = tuple(need.scope for need in NEEDS) + ("write_profile",)  # write_profile: vacation mode


@dataclass(frozen=True)
class Found:
    need: Need
    state: str  # "ok" | "missing" | "unknown"
    detail: str = ""

    @property
    def line(self) -> str:
        if self.state == "ok":
            return f"{self.need.scope}: ok"
        if self.state == "missing":
            return f"{self.need.scope}: MISSING: {self.need.enables} will not work"
        return f"{self.need.scope}: not checked ({self.detail})"


def check(client: ReverbClient) -> list[Found]:
    """One harmless request per scope the back office needs. Stops early (the rest "not checked") when
    the token is refused altogether or Reverb asks to wait: a person is waiting for the answer."""
    found: list[Found] = []
    stop = ""
    for need in NEEDS:
        if stop:
            found.append(Found(need, "unknown", stop))
            continue
        try:
            need.probe(client)
        except (NotFoundError, ValidationError):
            found.append(Found(need, "ok"))
        except ForbiddenError:
            found.append(Found(need, "missing"))
        except UnauthorizedError as exc:
            stop = f"the token was refused: {exc.message}"
            found.append(Found(need, "unknown", stop))
        except (RateLimitedError, RateLimitPausedError) as exc:
            stop = f"Reverb asked to wait: {exc.message}"
            found.append(Found(need, "unknown", stop))
        except ReverbError as exc:
            found.append(Found(need, "unknown", exc.message))
        else:
            found.append(Found(need, "ok"))
    return found


def missing(found: list[Found]) -> list[Found]:
    return [f for f in found if f.state == "missing"]


def summary(found: list[Found]) -> str:
    """One sentence for a message: which features will not work, or that every scope is there."""
    lacking = missing(found)
    unknown = [f for f in found if f.state == "unknown"]
    if lacking:
        text = "; ".join(f"{f.need.enables} (needs {f.need.scope})" for f in lacking)
        return f"The token lacks scopes, so these will not work: {text}."
    if unknown:
        return f"Scopes not all checked: {unknown[0].detail}."
    return "The token has every scope the back office needs."
