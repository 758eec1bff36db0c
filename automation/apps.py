from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from backoffice.background.jobs import register_job_handlers

        from . import contributions, hooks, jobs  # noqa: F401  (hooks connects the receivers of mirror writes)

        register_job_handlers(jobs.JOB_HANDLERS)
        contributions.add_all()
