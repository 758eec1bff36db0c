from typing import Any

from django.core.management.base import BaseCommand

from backoffice.roles import ensure_roles


class Command(BaseCommand):
    help = "Create or refresh the role groups (Manager, Shipping, Customer service, Viewer). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in ensure_roles().items():
            self.stdout.write(f"{role}: {count} permissions")
