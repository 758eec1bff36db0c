"""factory-boy factories shared by every app's tests. Import from here: `from tests.factories import ...`."""

from tests.factories.accounts import AccountFactory

__all__ = ["AccountFactory"]
