from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from backoffice.background.jobs import register_job_handlers

        from . import hooks, prices  # noqa: F401  (hooks connects the receivers of mirror writes)

        register_job_handlers(prices.JOB_HANDLERS)
