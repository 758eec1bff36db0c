"""The back office's own admins, one module per subject. Django's admin autodiscovery imports this
package; importing each module registers its admin."""

from backoffice.admin import account, audit, base, jobs, reconcile, schedules, sync, tasks, webhooks

__all__ = ["account", "audit", "base", "jobs", "reconcile", "schedules", "sync", "tasks", "webhooks"]
