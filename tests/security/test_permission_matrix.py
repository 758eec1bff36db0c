"""Issue 16 "done means": every role x every action URL and admin action, sent as forged POSTs with valid
CSRF tokens. Allowed ones are not refused; the others get 403 and change nothing (no call to Reverb, no job,
the emulated shop as it was). Plus: a user of shop A gets 403/404 (or the admin's "does not exist"
redirect) for every object URL of shop B, and shop B's rows are in none of their changelists.

The URLs and actions are collected, not listed: admin actions from each ModelAdmin's get_actions (as a
superuser sees them), custom admin URLs from the URL resolver. A new custom URL fails
`test_every_custom_url_is_in_the_matrix` until its permission is added to CUSTOM_URLS below."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backoffice.access import account_path
from backoffice.models import ApiCall, BulkJob
from backoffice.roles import MANAGER, OUR_APPS, ROLE_PERMISSIONS, ensure_roles

pytestmark = pytest.mark.django_db

ROLES = list(ROLE_PERMISSIONS)  # every role of backoffice/roles.py, new ones included

# Custom admin URLs (beyond Django's changelist/add/change/delete/history) -> (model label of the object in
# the URL or None, the permission a POST needs, the permission a GET needs).
CUSTOM_URLS: dict[str, tuple[str | None, str, str]] = {
    "automation_alert_mine": (None, "", ""),  # every staff user sets their own alerts
    "backoffice_bulkjob_progress": ("backoffice.bulkjob", "", "backoffice.view_bulkjob"),
    "backoffice_bulkjob_cancel": ("backoffice.bulkjob", "backoffice.change_bulkjob", ""),
    "listings_listing_create": (None, "listings.create_listing", "listings.create_listing"),
    "listings_listing_import": (None, "listings.import_listings", "listings.import_listings"),
    "listings_vacation": (None, "listings.set_vacation", "listings.view_listing"),
    "listings_listing_health": (None, "listings.view_listing", "listings.view_listing"),
    "listings_listing_edit": ("listings.listing", "listings.change_listing", "listings.change_listing"),
    "listings_listing_push": ("listings.listing", "listings.push_listing", ""),
    "listings_listing_resolve": ("listings.listing", "listings.change_listing", ""),
    "listings_listing_images": ("listings.listing", "listings.change_listing", "listings.view_listing"),
    "listings_listing_promotion": (
        "listings.listing",
        "listings.promote_listing",
        "listings.promote_listing",
    ),
    "orders_order_bulk_ship": (None, "orders.ship_order", "orders.ship_order"),
    "orders_order_ship": ("orders.order", "orders.ship_order", "orders.ship_order"),
    "orders_order_picked_up": ("orders.order", "orders.mark_picked_up", "orders.mark_picked_up"),
    "orders_order_feedback": ("orders.order", "orders.leave_feedback", "orders.leave_feedback"),
    "orders_order_packing_slip": ("orders.order", "", "orders.view_order"),
    "orders_order_packing_slips": (None, "", "orders.view_order"),
    "orders_order_queue": (None, "", "orders.view_order"),
    "automation_plannedaction_approve": ("automation.plannedaction", "automation.approve_plannedaction", ""),
    "automation_plannedaction_approve_all": (None, "automation.approve_plannedaction", ""),
    "refunds_refundrequest_queue": (None, "", "refunds.view_refundrequest"),
    "refunds_refundrequest_respond": (
        "refunds.refundrequest",
        "refunds.respond_refund",
        "refunds.respond_refund",
    ),
    "refunds_refundrequest_new_for_order": (
        "orders.order",
        "refunds.request_refund",
        "refunds.request_refund",
    ),
    "messaging_conversation_thread": (
        "messaging.conversation",
        "messaging.reply_message",
        "messaging.view_conversation",
    ),
    "messaging_conversation_offer": (
        "messaging.conversation",
        "messaging.respond_offer",
        "messaging.respond_offer",
    ),
    "messaging_negotiation_inbox": (None, "", "messaging.view_negotiation"),
    "messaging_conversation_write": ("orders.order", "messaging.reply_message", "messaging.reply_message"),
    "messaging_negotiation_offer": (
        "messaging.negotiation",
        "messaging.respond_offer",
        "messaging.view_negotiation",
    ),
    "payouts_reconciliation": (None, "", "payouts.view_payout"),
    "payouts_margin": (None, "", "payouts.view_payout"),
    "payouts_export_margin": (None, "", "payouts.view_payout"),
    "payouts_export_orders": (None, "", "orders.view_order"),
    "payouts_export_line_items": (None, "", "payouts.view_payoutlineitem"),
    "payouts_payout_reconcile": ("payouts.payout", "", "payouts.view_payout"),
}
STANDARD_VIEWS = ("_changelist", "_add", "_change", "_delete", "_history", "_autocomplete")


def _walk(resolver: URLResolver, namespace: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += _walk(entry, entry.namespace or namespace)
        elif namespace == "admin" and entry.name:
            found.append((entry.name, entry))
    return found


def custom_admin_urls() -> dict[str, URLPattern]:
    ours = tuple(f"{app}_" for app in OUR_APPS)
    return {
        name: pattern
        for name, pattern in _walk(get_resolver())
        if name.startswith(ours) and not name.endswith(STANDARD_VIEWS)
    }


def test_every_custom_url_is_in_the_matrix() -> None:
    assert sorted(custom_admin_urls()) == sorted(CUSTOM_URLS)


def our_admins() -> list[admin.ModelAdmin]:
    return [ma for model, ma in admin.site._registry.items() if model._meta.app_label in OUR_APPS]


def staff(role: str | None, name: str) -> User:
    ensure_roles()
    user = User.objects.create_user(name, password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def forging_client(user: User) -> tuple[Client, str]:
    """A client that enforces CSRF like a browser, and a valid token taken from a page it loaded."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("admin:password_change"))
    return client, client.cookies["csrftoken"].value


def first_of(label: str, account: Any) -> Any:
    from django.apps import apps

    model = apps.get_model(label)
    path = account_path(model)
    rows = model._default_manager.filter(**{path: account.pk}) if path else model._default_manager.all()
    return rows.order_by("pk").first()


def object_for(label: str | None, shop: Any) -> Any:
    if label is None:
        return None
    if label == "backoffice.bulkjob":
        return BulkJob.objects.create(kind="test.nothing", title="a job", account=shop, total=0)
    if label == "automation.plannedaction":  # a planned decline of the shop's first offer
        from automation.models import PlannedAction

        negotiation = first_of("messaging.negotiation", shop)
        return PlannedAction.objects.create(
            account=shop, negotiation=negotiation, offer_number=negotiation.offers_count or 1,
            verb="decline", reason="matrix", mode="plan",
        )  # fmt: skip
    return first_of(label, shop)


def snapshot(emulator: Any) -> tuple[Any, ...]:
    return (
        copy.deepcopy(dict(emulator.store.tables)),
        set(ApiCall.objects.exclude(status=ApiCall.Status.REFUSED).values_list("pk", flat=True)),
        BulkJob.objects.count(),
    )


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(role: str, shop: Any, emulator: Any) -> None:
    user = staff(role, "clerk")
    client, token = forging_client(user)
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    wrong: list[str] = []

    # Admin actions: every action a superuser is offered, forged by this role.
    for model_admin in our_admins():
        opts = model_admin.model._meta
        request = RequestFactory().get("/")
        request.user = root
        every = model_admin.get_actions(request)
        request.user = user
        offered = (
            model_admin.get_actions(request) if model_admin.has_view_or_change_permission(request) else {}
        )
        target = first_of(opts.label_lower, shop)
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        for action in every:
            before = snapshot(emulator)
            response = client.post(
                url,
                {
                    "csrfmiddlewaretoken": token,
                    "action": action,
                    "index": 0,
                    "_selected_action": [target.pk] if target else [],
                },
            )
            if action in offered:
                if response.status_code == 403:
                    wrong.append(f"{opts.label_lower}.{action}: offered but refused")
            elif response.status_code != 403:
                wrong.append(f"{opts.label_lower}.{action}: not offered, answered {response.status_code}")
            elif snapshot(emulator) != before:
                wrong.append(f"{opts.label_lower}.{action}: refused but something changed")

    # Custom action URLs: a forged POST, and a GET.
    for name, (label, post_perm, get_perm) in CUSTOM_URLS.items():
        obj = object_for(label, shop)
        pattern = custom_admin_urls()[name]
        kwargs = {key: obj.pk for key in pattern.pattern.converters} if obj is not None else {}
        if pattern.pattern.converters and obj is None:
            wrong.append(f"{name}: no object to try it on")
            continue
        url = reverse(f"admin:{name}", kwargs=kwargs)
        if get_perm:
            status = client.get(url).status_code
            if user.has_perm(get_perm) != (status != 403):
                wrong.append(f"GET {name}: {status} (needs {get_perm})")
        if post_perm:
            before = snapshot(emulator)
            status = client.post(url, {"csrfmiddlewaretoken": token}).status_code
            if user.has_perm(post_perm):
                if status == 403:
                    wrong.append(f"POST {name}: refused though {role} has {post_perm}")
            elif status != 403:
                wrong.append(f"POST {name}: answered {status} without {post_perm}")
            elif snapshot(emulator) != before:
                wrong.append(f"POST {name}: refused but something changed")
    assert wrong == []


# ---- staff see only their shops ----


def test_a_user_of_one_shop_reaches_nothing_of_another(
    shop: Any, other_shop: Any, emulator: Any, other_emulator: Any, strict_membership: None
) -> None:
    user = staff(MANAGER, "a-only")
    shop.members.add(user)
    client, token = forging_client(user)
    reached: list[str] = []
    tried: set[str] = set()

    # Every object page of every admin of ours, for an object of the other shop.
    for model_admin in our_admins():
        opts = model_admin.model._meta
        theirs = first_of(opts.label_lower, other_shop)
        if theirs is None:
            continue
        tried.add(opts.label_lower)
        for view in ("change", "history", "delete"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[theirs.pk])
            response = client.get(url)
            if response.status_code == 200:
                reached.append(f"GET {url}")
        # ...and no row of the other shop in its changelist.
        response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if response.status_code == 200 and "cl" in (response.context or {}):
            path = account_path(model_admin.model)
            if path and response.context["cl"].queryset.filter(**{path: other_shop.pk}).exists():
                reached.append(f"changelist of {opts.label_lower}")
            if other_shop.name in response.content.decode():  # not even in a filter's choices
                reached.append(f"changelist of {opts.label_lower} names {other_shop.name}")

    # Every custom URL naming an object, for the other shop's object: GET and a forged POST.
    for name, (label, _post, _get) in CUSTOM_URLS.items():
        if label is None:
            continue
        obj = object_for(label, other_shop)
        if obj is None:
            continue
        pattern = custom_admin_urls()[name]
        url = reverse(f"admin:{name}", kwargs={key: obj.pk for key in pattern.pattern.converters})
        before = snapshot(other_emulator)
        for response in (client.get(url), client.post(url, {"csrfmiddlewaretoken": token})):
            if response.status_code not in (403, 404, 405):
                reached.append(f"{response.request['REQUEST_METHOD']} {name}: {response.status_code}")
        if snapshot(other_emulator) != before:
            reached.append(f"{name}: the other shop changed")
    assert reached == []
    mirrored = {"listings.listing", "orders.order", "refunds.refundrequest", "messaging.conversation"}
    assert mirrored | {"messaging.negotiation", "payouts.payout", "backoffice.reverbaccount"} <= tried


def test_a_staff_user_without_a_shop_sees_nothing_and_is_told(shop: Any, strict_membership: None) -> None:
    from orders.models import Order

    user = staff(MANAGER, "nobody")
    client, _ = forging_client(user)
    assert Order.objects.filter(account=shop).exists()
    orders = client.get(reverse("admin:orders_order_changelist"))
    assert orders.context["cl"].result_count == 0
    index = client.get(reverse("admin:index")).content.decode()
    assert 'id="no-accounts"' in index
    accounts = client.get(reverse("admin:backoffice_reverbaccount_changelist"))
    assert accounts.context["cl"].result_count == 0


def test_existing_staff_join_every_account_on_upgrade() -> None:
    from django.apps import apps as live_apps
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from backoffice.models import ReverbAccount

    migration = MigrationExecutor(connection).loader.get_migration(
        "backoffice", "0006_memberships_and_once_keys"
    )
    module = __import__(migration.__module__, fromlist=["existing_staff_join_every_account"])
    account = ReverbAccount.objects.create(name="old", api_url="https://api.reverb.com/api")
    account.members.clear()
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    outsider = User.objects.create_user("customer", password="pw")
    account.members.clear()
    module.existing_staff_join_every_account(live_apps, None)
    assert list(account.members.all()) == [clerk]
    assert outsider not in account.members.all()
