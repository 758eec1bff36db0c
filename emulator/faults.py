"""Configurable faults: 429s, 5xx, slow answers, dropped connections, and lost write responses."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Faults:
    rate_429: float = 0.0  # share of requests answered 429 with Retry-After
    rate_5xx: float = 0.0  # share answered 500/502/503
    rate_drop: float = 0.0  # share whose connection is dropped before anything happens
    rate_lost_write: float = 0.0  # share of writes applied whose response is then lost
    slow_rate: float = 0.0  # share delayed by slow_seconds
    slow_seconds: float = 0.0
    retry_after: int = 1  # seconds in Retry-After (an emulator convenience; Reverb documents none)
    seed: int | None = None
    # Rate limit: at most this many requests per second (0 = unlimited); beyond it, 429.
    rate_limit_per_second: float = 0.0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def roll(self, share: float) -> bool:
        return share > 0 and self._random.random() < share

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return cls(**data)


class DroppedConnection(Exception):
    """The transport must close the connection without an answer (the adapter raises ConnectionError)."""
