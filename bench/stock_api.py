"""What the stock and stock_burst scenarios share: the emulator in the worker's own process behind a test
host, an account on it with its listings pulled, an integration key for the stock API, and the worker's
environment (no task backend: the scenario drains itself; a local rate budget)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STOCK_PUT = "/api/v1/stock/"


def worker_env(rate: float, burst: float) -> dict[str, str]:
    """The stock workers' settings on top of the bench's: the account's budget is `rate`/s, `burst`."""
    return {
        "WORKER_BACKEND": "none",  # not sent: the scenario drains the queue itself
        "REVERB_RATE_BUDGET": "local",
        "REVERB_RATE_PER_SECOND": str(rate),
        "REVERB_RATE_BURST": str(burst),
        "LOG_LEVEL": "ERROR",
        "ALLOWED_HOSTS": "testserver",
    }


@dataclass
class StockShop:
    emulator: Any  # emulator.Emulator, in this process
    account: Any  # backoffice.models.ReverbAccount
    api_key: str  # the integration's key for the stock API

    def api(self) -> Any:
        """A DRF test client of the stock API, authenticated with the integration's key."""
        from rest_framework.test import APIClient

        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_key}")
        return api


def stock_shop(host: str, size: int | str) -> StockShop:
    """The emulator (seed 1, a shop of `size`, unthrottled) mounted at http://<host>/, an account named
    after the host with its listings pulled, and an integration key."""
    from backoffice.models import ReverbAccount
    from backoffice.reverb.transport import register_transport
    from backoffice.sync.runner import sync_resource
    from emulator import Emulator
    from emulator.adapter import EmulatorAdapter
    from inventory.models import Integration

    token = f"{host}-token"
    # The pulls and the API need no pacing to be measured; a scenario paces the emulator itself.
    emulator = Emulator(token=token, seed=1, size=size, rate_per_second=0)
    register_transport(f"http://{host}/", EmulatorAdapter(emulator))
    account = ReverbAccount(name=host.removesuffix(".test"), api_url=f"http://{host}/api")
    account.set_token(token)
    account.save()
    sync_resource(account, "listings")
    integration = Integration(account=account, name="bench")
    key = integration.new_key()
    integration.save()
    return StockShop(emulator, account, key)
