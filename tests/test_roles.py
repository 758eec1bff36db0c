"""Roles: groups from ROLE_PERMISSIONS, idempotent, tolerant of permissions that do not exist yet."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from backoffice import roles
from backoffice.roles import BOOKKEEPER, CUSTOMER_SERVICE, MANAGER, OUR_APPS, SHIPPING, VIEWER, ensure_roles


def perms_of(role: str) -> set[str]:
    return {
        f"{app}.{code}"
        for app, code in Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def our_perms(prefix: str = "") -> set[str]:
    return {
        f"{app}.{code}"
        for app, code in Permission.objects.filter(
            content_type__app_label__in=OUR_APPS, codename__startswith=prefix
        ).values_list("content_type__app_label", "codename")
    }


@pytest.mark.django_db
def test_groups_exist_after_migrate() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {
        MANAGER,
        SHIPPING,
        CUSTOMER_SERVICE,
        BOOKKEEPER,
        VIEWER,
    }


@pytest.mark.django_db
def test_manager_has_everything_of_our_apps_but_not_user_admin() -> None:
    manager = perms_of(MANAGER)
    assert our_perms() <= manager
    assert "backoffice.change_reverbaccount" in manager
    assert not any(p.startswith(("auth.", "contenttypes.", "sessions.")) for p in manager)


@pytest.mark.django_db
def test_viewer_only_views() -> None:
    viewer = perms_of(VIEWER)
    assert viewer == our_perms("view_")
    assert "backoffice.view_reverbaccount" in viewer


@pytest.mark.django_db
def test_shipping_and_customer_service_scopes() -> None:
    shipping, service = perms_of(SHIPPING), perms_of(CUSTOMER_SERVICE)
    assert our_perms("view_") <= shipping and our_perms("view_") <= service
    changes = lambda perms: {p for p in perms if not p.split(".")[1].startswith("view_")}  # noqa: E731
    assert all(p.startswith("orders.") for p in changes(shipping))
    # Customer service also approves what the offer rules planned (issue 15), nothing else of automation.
    assert all(
        p.startswith(("refunds.", "messaging.")) or p == "automation.approve_plannedaction"
        for p in changes(service)
    )
    assert "backoffice.change_reverbaccount" not in shipping | service
    assert not any(p.split(".")[1].startswith("delete_") for p in shipping | service)
    # Once the apps have models, the scopes are not empty.
    if any(p.startswith("orders.change_") for p in our_perms()):
        assert changes(shipping)
    if any(p.startswith("refunds.change_") for p in our_perms()):
        assert changes(service)


@pytest.mark.django_db
def test_bookkeeper_sees_everything_and_keeps_the_fee_schedule_only() -> None:
    books = perms_of(BOOKKEEPER)
    assert our_perms("view_") <= books
    assert books - our_perms("view_") == {"payouts.add_feeschedule", "payouts.change_feeschedule"}
    assert not books & {"orders.ship_order", "refunds.respond_refund", "messaging.respond_offer"}


@pytest.mark.django_db
def test_user_in_viewer_group_can_view_not_change() -> None:
    user = get_user_model().objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWER))
    assert user.has_perm("backoffice.view_reverbaccount")
    assert not user.has_perm("backoffice.change_reverbaccount")


@pytest.mark.django_db
def test_idempotent_and_resets_hand_edits() -> None:
    before = {r: perms_of(r) for r in roles.ROLE_PERMISSIONS}
    viewer = Group.objects.get(name=VIEWER)
    viewer.permissions.add(Permission.objects.get(codename="change_reverbaccount"))
    ensure_roles()
    ensure_roles()
    assert Group.objects.filter(name=VIEWER).count() == 1
    assert {r: perms_of(r) for r in roles.ROLE_PERMISSIONS} == before


@pytest.mark.django_db
def test_unknown_permissions_are_skipped(monkeypatch) -> None:
    shipping = [*roles.ROLE_PERMISSIONS[SHIPPING], "orders.ship_order_not_yet_defined"]
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, SHIPPING, shipping)
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, "Auditor", ["backoffice.view_reverbaccount", "nope.nothing"])
    counts = ensure_roles()
    assert counts["Auditor"] == 1
    assert perms_of("Auditor") == {"backoffice.view_reverbaccount"}


@pytest.mark.django_db
def test_setup_roles_command_and_post_migrate_hook() -> None:
    Group.objects.all().delete()
    out = io.StringIO()
    call_command("setup_roles", stdout=out)
    assert "Viewer:" in out.getvalue() and Group.objects.count() == len(roles.ROLE_PERMISSIONS)

    Group.objects.all().delete()
    with_models = [app for app in apps.get_app_configs() if app.models_module is not None]
    first, last = with_models[0], with_models[-1]
    roles.refresh_roles_after_migrate(sender=first)
    assert not Group.objects.exists()  # waits for the last app, when all permissions exist
    roles.refresh_roles_after_migrate(sender=last)
    assert Group.objects.count() == len(roles.ROLE_PERMISSIONS)


@pytest.mark.django_db
def test_migrate_gives_the_roles_their_permissions_whatever_app_comes_last() -> None:
    """post_migrate comes only for apps with models; the last installed app (the bench) has none."""
    Group.objects.all().delete()
    call_command("migrate", verbosity=0)
    assert Group.objects.get(name=MANAGER).permissions.exists()


def test_patterns() -> None:
    assert roles._matches("*.view_*", "orders", "view_order")
    assert not roles._matches("*.view_*", "auth", "view_user")
    assert roles._matches("django_q.*", "django_q", "add_schedule")
    assert not roles._matches("orders.change_*", "refunds", "change_refund")
