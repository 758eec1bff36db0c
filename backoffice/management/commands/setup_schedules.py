"""Create or update the background schedules (backoffice/background/schedules.py) in django-q2, by name.

python manage.py setup_schedules      # idempotent; run by `make run` and on every deploy
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backoffice.background import schedules


class Command(BaseCommand):
    help = "Create or update the Reverb pull and reconciliation schedules; remove stale ones of ours."

    def handle(self, *args: Any, **options: Any) -> None:
        specs = {spec.full_name: spec for spec in schedules.SCHEDULES}
        for action, name in schedules.apply():
            spec = specs.get(name)
            every = f"  (every {spec.minutes} min: {spec.func})" if spec else ""
            self.stdout.write(f"{action:<9} {name}{every}")
