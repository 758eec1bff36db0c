"""What `make run` sets up on the demo account once the emulator answers, beyond the mirror it pulls: each app
adds its own seed `(demo account) -> anything` from its AppConfig.ready() (automation: an offer rule in plan
mode), and run_backoffice's "demo seeds" step runs them in INSTALLED_APPS order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backoffice.plugins import Slot

SEEDS: Slot[Callable[[Any], Any]] = Slot("demo seeds")
