"""Load JSON fixtures from tests/fixtures/reverb/<resource>/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "reverb"


def load(path: str) -> Any:
    return json.loads((ROOT / path).read_text())
