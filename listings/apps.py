from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "listings"

    def ready(self) -> None:
        from backoffice.background.jobs import register_job_handlers
        from backoffice.sync.reconcile import register_conflict_checker

        from . import conflicts, jobs, plugins

        register_conflict_checker("listings", conflicts.pending_edits)
        register_job_handlers(jobs.JOB_HANDLERS)
        plugins.plug_in()
