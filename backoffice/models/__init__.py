"""The back office's own models, one module per subject; Django finds them through this package.

Import them from here: `from backoffice.models import ReverbAccount, ApiCall, BulkJob, RemoteModel, SyncRun`.
"""

from backoffice.models.account import API_URL_HELP, Currency, ReverbAccount, new_webhook_secret, shop_name_of
from backoffice.models.audit import ApiCall
from backoffice.models.background import (
    ApiUsage,
    Backfill,
    HistorySweep,
    RateBudget,
    ReconciliationFinding,
    ReconciliationReport,
    ReconciliationSeen,
    TaskLease,
    WebhookDelivery,
)
from backoffice.models.jobs import BulkJob, BulkJobItem
from backoffice.models.mirror import RemoteModel, SyncLogEntry, SyncRun, amount_field
from backoffice.models.once import OnceKey

__all__ = [
    "API_URL_HELP",
    "ApiCall",
    "ApiUsage",
    "Backfill",
    "BulkJob",
    "BulkJobItem",
    "Currency",
    "HistorySweep",
    "OnceKey",
    "RateBudget",
    "ReconciliationFinding",
    "ReconciliationReport",
    "ReconciliationSeen",
    "RemoteModel",
    "ReverbAccount",
    "SyncLogEntry",
    "SyncRun",
    "TaskLease",
    "WebhookDelivery",
    "amount_field",
    "new_webhook_secret",
    "shop_name_of",
]
