from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        from backoffice import checks  # noqa: F401  (registers the system checks)
        from backoffice.background import mass_sync, taskguard
        from backoffice.background.jobs import register_job_handlers
        from backoffice.roles import refresh_roles_after_migrate
        from backoffice.sync import doctor

        register_job_handlers(mass_sync.JOB_HANDLERS)
        register_job_handlers(doctor.JOB_HANDLERS)

        taskguard.connect()
        post_migrate.connect(refresh_roles_after_migrate, dispatch_uid="backoffice.refresh_roles")
