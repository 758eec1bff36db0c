"""Roles are Django groups whose permissions are data (ROLE_PERMISSIONS), applied idempotently.

`ensure_roles()` runs from migration 0002, after every `migrate` (post_migrate, so permissions of models
added later are picked up) and from `manage.py setup_roles`. Later issues add their custom action
permissions (e.g. "orders.ship_order") to the lists below; a permission that does not exist yet is
skipped, not an error, so the list may run ahead of the migrations.

Patterns are "app_label.codename" with shell wildcards; an app label of "*" means our own apps only
(never auth or contenttypes: managing people stays with superusers). A pattern starting with "!" takes
away what it matches, whatever the other patterns of the role grant.
"""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from typing import Any

from django.db import DEFAULT_DB_ALIAS

logger = logging.getLogger(__name__)

OUR_APPS = ("backoffice", "listings", "orders", "refunds", "messaging", "payouts", "automation", "inventory")

MANAGER = "Manager"
SHIPPING = "Shipping"
CUSTOMER_SERVICE = "Customer service"
BOOKKEEPER = "Bookkeeper"
VIEWER = "Viewer"

# django-axes' lockouts (Axes › Access attempts): seen and cleared (deleted) by Managers, so a locked-out
# clerk does not wait for the one superuser.
LOCKOUTS = ["axes.view_accessattempt", "axes.delete_accessattempt"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Everything in our apps; django-q2's background-task pages read-only: a scheduled task names code to
    # run, so adding or changing schedules is for superusers (Managers run ours with "Run now").
    MANAGER: ["*.*", "django_q.view_*", *LOCKOUTS],
    # Sees everything; changes orders and shipments (shipping-provider mapping lives in orders).
    SHIPPING: [
        "*.view_*",
        "orders.add_*",
        "orders.change_*",
        "orders.ship_order",
        "orders.mark_picked_up",
        "orders.leave_feedback",
    ],
    # Sees everything; handles refunds, offers/negotiations and buyer messages.
    CUSTOMER_SERVICE: [
        "*.view_*",
        "refunds.add_*",
        "refunds.change_*",
        "messaging.add_*",
        "messaging.change_*",
        # ...but not the offer floor that restrains them: Managers set it.
        "!messaging.add_offerpolicy",
        "!messaging.change_offerpolicy",
        "refunds.respond_refund",
        "refunds.request_refund",
        "messaging.respond_offer",
        "messaging.reply_message",
        "automation.view_plannedaction",
        "automation.approve_plannedaction",
    ],
    # Sees everything (the payouts report and its CSV exports need only that); keeps the fee schedule the
    # report checks Reverb's fees against. Moves no money and sends nothing to Reverb.
    BOOKKEEPER: ["*.view_*", "payouts.add_feeschedule", "payouts.change_feeschedule"],
    VIEWER: ["*.view_*"],
}


def _matches(pattern: str, app_label: str, codename: str) -> bool:
    app_pattern, _, code_pattern = pattern.partition(".")
    app_ok = app_label in OUR_APPS if app_pattern == "*" else fnmatchcase(app_label, app_pattern)
    return app_ok and fnmatchcase(codename, code_pattern)


def ensure_roles(apps: Any = None, using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """Create or refresh the role groups; returns {role: number of permissions}.

    `apps` is a migration's historical registry when called from a migration, else the live one.
    Each group gets exactly the permissions its patterns match (roles are managed here, not by hand).
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    perms = list(
        Permission.objects.using(using)
        .select_related("content_type")
        .only("id", "codename", "content_type__app_label")
    )
    result: dict[str, int] = {}
    for role, patterns in ROLE_PERMISSIONS.items():
        grant = [pat for pat in patterns if not pat.startswith("!")]
        deny = [pat[1:] for pat in patterns if pat.startswith("!")]
        ids = [
            p.id
            for p in perms
            if any(_matches(pat, p.content_type.app_label, p.codename) for pat in grant)
            and not any(_matches(pat, p.content_type.app_label, p.codename) for pat in deny)
        ]
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(ids)
        result[role] = len(ids)
    return result


def refresh_roles_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate handler: run once per migrate, after the last app's permissions exist."""
    from django.apps import apps as live_apps

    # Django sends post_migrate only for apps with models (an app without, such as the bench, never comes).
    with_models = [app for app in live_apps.get_app_configs() if app.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    counts = ensure_roles(using=using)
    logger.debug("roles refreshed: %s", counts)
