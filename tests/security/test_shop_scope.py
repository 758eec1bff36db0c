"""Staff see only their shops, by construction (issue 24, "done means"): every URL the admin serves is
rendered, against a two-shop install (tests/security/shops.py), as a member of shop B only and as a user of
no shop. Nothing of shop A may appear to the first, nothing of either shop to the second.

The URLs are collected, not listed (as the permission matrix does): every page of the admin namespace (every
ModelAdmin's changelist, add, change, history and delete pages, every custom get_urls view, the app
indexes), our pages outside it (inbox, sync log), and the exports (CSV admin actions, the payouts exports),
with forged ids of the other shop where a page takes ids. A new URL is tried without anyone listing it;
one that cannot be filled in fails `test_every_admin_url_is_tried` until SKIPPED says why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from backoffice.access import account_path
from backoffice.roles import MANAGER, SHIPPING
from tests.conftest import nothing_changes
from tests.security.shops import A_TAG, B_TAG, mark, seed
from tests.security.test_permission_matrix import CUSTOM_URLS, first_of, object_for, staff

pytestmark = pytest.mark.django_db

# Admin URL names not rendered here, and why.
SKIPPED = {
    "logout": "POST only; shows no data",
    "view_on_site": "a redirect to the object's own site",
    "autocomplete": "no admin of ours declares autocomplete_fields (asserted below)",
    "auth_user_password_change": "a user's password form (people are managed by superusers only)",
}
# Some of our pages outside the admin namespace (any named URL under admin/ is tried): seen by the walk.
OUR_PAGES = ("cs_inbox", "sync_log")


@pytest.fixture
def two_shops(shop: Any, other_shop: Any, strict_membership: None) -> tuple[Any, Any]:
    """(shop A, shop B): both pulled from their emulators, seeded, and tagged."""
    a, b = other_shop, shop
    for account, tag in ((a, A_TAG), (b, B_TAG)):
        seed(account, tag)
        mark(account, tag)
    return a, b


def _walk(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, entry.namespace or namespace)
        elif entry.name:
            yield namespace, entry.name, entry


def _model_admins() -> dict[str, admin.ModelAdmin]:
    return {f"{m._meta.app_label}_{m._meta.model_name}": ma for m, ma in admin.site._registry.items()}


def admin_urls(b: Any) -> tuple[list[str], list[str]]:
    """(every URL to render for a member of shop B, the URL names that could not be filled in)."""
    from orders.models import Order

    urls: list[str] = []
    untried: list[str] = []
    admins = _model_admins()
    every_order = [str(pk) for pk in Order.objects.values_list("pk", flat=True)]  # both shops'
    months = sorted({f"{d:%Y-%m}" for d in Order.objects.dates("paid_at", "month")})
    for namespace, name, pattern in _walk(get_resolver()):
        if namespace != "admin" and not str(pattern.pattern).startswith("admin/"):
            continue
        full = f"admin:{name}" if namespace == "admin" else name
        params = set(pattern.pattern.regex.groupindex)
        if name in SKIPPED:
            continue
        if name == "app_list":
            labels = sorted({m._meta.app_label for m in admin.site._registry})
            urls += [reverse(full, kwargs={"app_label": label}) for label in labels]
            continue
        if not params:
            url = reverse(full)
            urls.append(url)
            if name == "orders_order_packing_slips":  # ids in the query: forged, the other shop's too
                urls.append(url + "?" + "&".join(f"slip={pk}" for pk in every_order))
            if name == "orders_order_bulk_ship":
                urls.append(url + "?ids=" + ",".join(every_order))
            if name in (
                "payouts_reconciliation",
                "payouts_export_orders",
                "payouts_export_line_items",
                "payouts_margin",
                "payouts_export_margin",
            ):
                urls += [f"{url}?month={month}" for month in months]
            continue
        view = next((v for v in ("_change", "_history", "_delete") if name.endswith(v)), None)
        if view and params == {"object_id"} and name[: -len(view)] in admins:
            model = admins[name[: -len(view)]].model
            # A row of shop B; every row of a model that names no shop (it could be either's).
            rows = (
                [first_of(model._meta.label_lower, b)]
                if account_path(model)
                else list(model._default_manager.order_by("pk")[:10])
            )
            urls += [reverse(full, args=[row.pk]) for row in rows if row is not None]
            if not any(rows):
                untried.append(f"{name} (no row)")
            continue
        if name in CUSTOM_URLS and CUSTOM_URLS[name][0] is not None:
            obj = first_of(CUSTOM_URLS[name][0], b) or object_for(CUSTOM_URLS[name][0], b)
            if obj is not None:
                urls.append(reverse(full, kwargs=dict.fromkeys(params, obj.pk)))
                continue
        untried.append(name)
    return urls, untried


def export_posts(b: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every admin action that answers with a file (its name says export or csv), over every row."""
    posts = []
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or []:
            name = action if isinstance(action, str) else action.__name__
            if "export" in name or "csv" in name:
                url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
                pks = list(model._default_manager.values_list("pk", flat=True))  # both shops' rows
                posts.append((url, {"action": name, "select_across": 1, "index": 0, "_selected_action": pks}))
    return posts


def text_of(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def render_all(user: User, b: Any, hidden: tuple[str, ...]) -> tuple[list[str], set[str], int]:
    """Every URL rendered as `user`: (what showed a hidden tag or crashed, URLs that showed B_TAG, count)."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    shown: list[str] = []
    with_b: set[str] = set()
    urls, _ = admin_urls(b)
    requests = [(url, None) for url in urls] + export_posts(b)
    for url, data in requests:
        response = client.post(url, data) if data is not None else client.get(url)
        label = f"{'POST' if data else 'GET'} {url}"
        if response.status_code >= 500:
            shown.append(f"{label}: {response.status_code}")
            continue
        body = text_of(response)
        shown += [f"{label} shows {tag}" for tag in hidden if tag in body]
        if B_TAG in body:
            with_b.add(url)
    return shown, with_b, len(requests)


def test_every_admin_url_is_tried(two_shops: tuple[Any, Any]) -> None:
    _, b = two_shops
    urls, untried = admin_urls(b)
    # Models with no row in the fixture, and nothing else: a new URL with parameters gets an object here.
    assert [n for n in untried if not n.endswith("(no row)")] == [], untried
    assert len(urls) > 200
    assert not any(ma.autocomplete_fields for ma in admin.site._registry.values())  # SKIPPED's reason
    for name in OUR_PAGES:
        assert reverse(name) in urls


def test_a_member_of_shop_b_sees_nothing_of_shop_a(two_shops: tuple[Any, Any]) -> None:
    _, b = two_shops
    clerk = staff(MANAGER, "b-clerk")
    b.members.add(clerk)
    shown, with_b, tried = render_all(clerk, b, hidden=(A_TAG,))
    assert shown == [], "\n".join(shown)
    # ...and the pages did show shop B's own rows (the test sees data when there is some to see).
    for name in ("admin:orders_order_changelist", "admin:orders_order_queue", "cs_inbox", "admin:index"):
        assert reverse(name) in with_b, name
    assert tried > 200


def test_a_user_of_no_shop_sees_no_shops_data(two_shops: tuple[Any, Any]) -> None:
    _, b = two_shops
    nobody = staff(SHIPPING, "no-shop")
    shown, with_b, _ = render_all(nobody, b, hidden=(A_TAG, B_TAG))
    assert shown == [], "\n".join(shown)


# ---- counts: the dashboard's deadlines and queues ----


def test_deadline_counts_are_of_the_users_shops_only(two_shops: tuple[Any, Any]) -> None:
    from backoffice.pages.dashboard import dashboard_context
    from orders.models import Order

    a, b = two_shops
    now = timezone.now()
    Order.objects.update(ship_by=now + timedelta(days=30))
    late = Order.objects.filter(account=a).order_by("pk")[:3].values_list("pk", flat=True)
    Order.objects.filter(pk__in=list(late)).update(
        status="paid", missing=False, local_pickup=False, ship_by=now - timedelta(days=2)
    )
    clerk, nobody = staff(MANAGER, "b-clerk"), staff(SHIPPING, "no-shop")
    b.members.add(clerk)
    root = User.objects.create_superuser("root", "root@example.com", "pw")

    def counts(user: User) -> dict[str, int]:
        return {q.key: q.count for q in dashboard_context(user, now)["work"].queues}

    assert counts(root)["ship-overdue"] == 3
    assert counts(clerk)["ship-overdue"] == 0
    assert set(counts(nobody).values()) == {0}


# ---- one page named in the issue: an offer from a conversation (a money door) ----


def test_staff_of_shop_b_get_404_on_shop_as_conversation_offer(two_shops: tuple[Any, Any]) -> None:
    from messaging.models import Conversation

    a, b = two_shops
    clerk = staff(MANAGER, "b-clerk")
    b.members.add(clerk)
    client = Client()
    client.force_login(clerk)
    theirs = Conversation.objects.filter(account=a).order_by("pk").first()
    ours = Conversation.objects.filter(account=b).order_by("pk").first()
    url = reverse("admin:messaging_conversation_offer", args=[theirs.pk])
    assert reverse("admin:messaging_conversation_offer", args=[ours.pk]) in admin_urls(b)[0]  # walked too
    with nothing_changes(None):
        assert client.get(url).status_code == 404
        assert client.post(url, {"price": "1.00", "confirmed": "yes"}).status_code == 404
    assert client.get(reverse("admin:messaging_conversation_offer", args=[ours.pk])).status_code == 200
