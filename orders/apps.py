from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from backoffice.background.jobs import register_job_handlers

        from . import jobs, plugins

        register_job_handlers(jobs.JOB_HANDLERS)
        plugins.plug_in()
