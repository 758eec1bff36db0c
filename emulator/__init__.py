"""A faithful, stateful emulator of the Reverb API (DESIGN.md section 6)."""

from .app import Emulator, parse_size
from .core import ApiError

__all__ = ["ApiError", "Emulator", "parse_size"]
