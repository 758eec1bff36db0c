"""The audit trail in the admin: every change staff (or the system) sent to Reverb, read-only, filterable
by account, user, action, outcome and date; and `activity_table`, each object's own activity for the
mirror change pages (backoffice/admin/mirror.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from backoffice.admin.base import ReadOnlyAdmin
from backoffice.models import ApiCall

ACTIVITY_SHOWN = 20

# The audit target of each mirror model: (ApiCall.target_type, the model field holding target_key).
TARGETS: dict[str, tuple[str, str]] = {
    "listings.listing": ("listing", "reverb_id"),
    "orders.order": ("order", "order_number"),
    "refunds.refundrequest": ("refund_request", "reverb_id"),
    "messaging.negotiation": ("negotiation", "reverb_id"),
    "messaging.conversation": ("conversation", "reverb_id"),
}


def summary_text(summary: Any, limit: int = 160) -> str:
    """What was sent, short: `price=1200.00, title=...`."""
    if not summary:
        return ""
    if isinstance(summary, dict):
        text = ", ".join(f"{k}={_value(v)}" for k, v in summary.items())
    else:
        text = json.dumps(summary)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(v: Any) -> str:
    if isinstance(v, dict) and set(v) == {"amount", "currency"}:  # money as Reverb takes it
        return f"{v['amount']} {v['currency']}"
    return str(v) if isinstance(v, str | int | float) or v is None else json.dumps(v)


def who(call: ApiCall) -> str:
    return call.actor.get_username() if call.actor_id and call.actor else "system"


def target_of(obj: Any) -> tuple[str, str] | None:
    target = TARGETS.get(obj._meta.label_lower)
    if target is None:
        return None
    key = getattr(obj, target[1], "")
    return (target[0], str(key)) if key else None


def activity_table(obj: Any) -> SafeString | str:
    """The object's own ApiCalls, newest first, with who sent them (one query)."""
    target = target_of(obj)
    if target is None:
        return "-"
    calls = list(
        ApiCall.objects.filter(account_id=obj.account_id, target_type=target[0], target_key=target[1])
        .select_related("actor")
        .order_by("-started_at", "-pk")[:ACTIVITY_SHOWN]
    )
    if not calls:
        return "Nothing sent to Reverb from here yet."
    rows = format_html_join(
        "",
        '<tr class="status-{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                c.status,
                f"{c.started_at:%Y-%m-%d %H:%M}",
                who(c),
                c.action,
                summary_text(c.request_summary),
                c.get_status_display() + (f": {c.message}" if c.message else ""),
            )
            for c in calls
        ),
    )
    everything = (
        reverse("admin:backoffice_apicall_changelist")
        + "?"
        + urlencode({"account__id__exact": obj.account_id, "target_type": target[0], "target_key": target[1]})
    )
    return format_html(
        '<table class="activity-table"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Sent</th>'
        "<th>Outcome</th></tr></thead><tbody>{}</tbody></table>"
        '<p><a href="{}">All activity of this {}</a></p>',
        rows,
        everything,
        target[0].replace("_", " "),
    )


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    """Read-only: the trail is written by backoffice/audit.py only."""

    list_display = [
        "started_at",
        "account",
        "who",
        "action",
        "target",
        "sent",
        "status",
        "http_status",
        "job",
    ]
    list_filter = [
        "account",
        ("actor", admin.RelatedOnlyFieldListFilter),
        "action",
        "status",
        "started_at",
    ]
    search_fields = ["=target_key", "action", "actor__username", "message"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-pk"]
    list_select_related = ["account", "actor", "job"]
    list_per_page = 50
    show_full_result_count = False

    @admin.display(description="who", ordering="actor__username")
    def who(self, obj: ApiCall) -> str:
        return who(obj)

    @admin.display(description="target", ordering="target_key")
    def target(self, obj: ApiCall) -> str:
        return f"{obj.target_type.replace('_', ' ')} {obj.target_key}".strip()

    @admin.display(description="sent")
    def sent(self, obj: ApiCall) -> str:
        return summary_text(obj.request_summary)
