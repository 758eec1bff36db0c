"""`python manage.py reverb_emulator --port 8765 --seed 1 --size demo --token TOKEN`: a seeded Reverb
emulator on loopback HTTP until Ctrl-C or SIGTERM (DESIGN.md section 6)."""

from __future__ import annotations

import secrets
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from emulator import Emulator, parse_size
from emulator import scopes as token_scopes
from emulator.app import DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND
from emulator.guesses import VARIANTS
from emulator.replay import CaptureReplay
from emulator.server import serve


class Command(BaseCommand):
    help = "Serve a seeded, stateful Reverb API emulator over loopback HTTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--size", default="demo", help="demo, bench, tiny, N (listings), or kind=N,kind=N"
        )
        parser.add_argument("--token", default=None, help="API token to accept (default: a new random one)")
        parser.add_argument("--currency", default="USD")
        parser.add_argument(
            "--from-capture",
            default=None,
            metavar="DIR",
            help="serve a reverb_doctor capture as a read-only shop instead of a generated one",
        )
        parser.add_argument(
            "--rate",
            type=float,
            default=DEFAULT_RATE_PER_SECOND,
            help="requests per second per account before 429 (Reverb's pace, API-NOTES 16.3); 0 = unlimited",
        )
        parser.add_argument("--burst", type=int, default=DEFAULT_RATE_BURST, help="requests allowed at once")
        parser.add_argument(
            "--variant", default="default", help="shapes of the guessed resources: default, alt"
        )
        parser.add_argument(
            "--scopes",
            default=None,
            help="the token's scopes, e.g. 'read_listings read_orders' (default: every scope); a request "
            "needing another is answered 403",
        )
        parser.add_argument(
            "--seller-costs",
            action="store_true",
            help="the listings carry a seller_cost (the shop keeps its costs on Reverb), so margins show",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            parse_size(options["size"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        token = options["token"] or secrets.token_urlsafe(24)
        try:
            token_scopes.parse(options["scopes"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["variant"] not in VARIANTS:
            raise CommandError(f"unknown variant {options['variant']!r}; known: {', '.join(VARIANTS)}")
        emulator: Emulator | CaptureReplay
        if options["from_capture"]:
            try:
                emulator = CaptureReplay(options["from_capture"], token=token)
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read the capture: {exc}") from None
        else:
            emulator = Emulator(
                token=token,
                seed=options["seed"],
                size=options["size"],
                currency=options["currency"],
                rate_per_second=options["rate"],
                rate_burst=options["burst"],
                variant=options["variant"],
                scopes=options["scopes"],
                seller_costs=options["seller_costs"],
            )
        try:
            server = serve(emulator, options["host"], options["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from None
        host, port = server.server_address[:2]
        self.stdout.write(f"Reverb emulator listening on http://{host}:{port}/api (token {token})")
        self.stdout.flush()

        def _stop(signum: int, frame: object) -> None:
            # shutdown() blocks until serve_forever returns, so call it from another thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, _stop)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
