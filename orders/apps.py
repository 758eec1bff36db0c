from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from backoffice.background.jobs import register_job_handlers

        from . import contributions, jobs

        register_job_handlers(jobs.JOB_HANDLERS)
        contributions.add_all()
