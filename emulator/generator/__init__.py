"""Seeds an emulated music-gear shop, deterministic by seed, of any size up to 100k listings."""

from __future__ import annotations

import importlib
import random

from ..store import Store

# Each part takes (store, rng, sizes) and adds its records; later parts read what earlier ones made.
PARTS = ("shop", "listings", "commerce")


def seed_store(store: Store, *, seed: int, sizes: dict[str, int]) -> None:
    rng = random.Random(seed)
    for name in PARTS:
        try:
            part = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a part not written yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        part.generate(store, rng, sizes)
