from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        from backoffice import (
            checks,  # noqa: F401  (registers the system checks)
            taskguard,
        )
        from backoffice.roles import refresh_roles_after_migrate

        taskguard.connect()
        post_migrate.connect(refresh_roles_after_migrate, dispatch_uid="backoffice.refresh_roles")
