"""What `make run` sets up on the demo account once the emulator answers, beyond the mirror it pulls: each app
adds its own seed from its AppConfig.ready() (automation: an offer rule in plan mode), and run_backoffice's
"demo seeds" step runs them in INSTALLED_APPS order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backoffice.plugins import Slot


@dataclass(frozen=True)
class Seed:
    description: str  # what it sets up, as `make run` prints it
    seed: Callable[[Any], Any]  # (the demo ReverbAccount) -> anything


SEEDS: Slot[Seed] = Slot("demo seeds")
