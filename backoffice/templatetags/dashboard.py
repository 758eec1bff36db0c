"""{% dashboard %}: the admin index's dashboard section (queries in backoffice/pages/dashboard.py). A template
tag keeps the admin site untouched: templates/admin/index.html calls it inside its `dashboard` block."""

from __future__ import annotations

from typing import Any

from django import template

from backoffice.pages import inbox
from backoffice.pages.dashboard import dashboard_context

register = template.Library()


@register.inclusion_tag("backoffice/dashboard.html", takes_context=True)
def dashboard(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {"hidden": True}
    return dashboard_context(user)


@register.simple_tag(takes_context=True)
def may_open_inbox(context: template.Context) -> bool:
    """{% may_open_inbox as allowed %}: the user may see one of the inbox's kinds (the apps' sources)."""
    user = getattr(context.get("request"), "user", None)
    return user is not None and any(user.has_perm(p) for p in inbox.perms())
