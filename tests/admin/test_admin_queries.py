"""Each mirror changelist and change view runs the same number of queries for 1 row as for 50."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backoffice.models import ReverbAccount
from tests.admin.conftest import FACTORIES, admin_url
from tests.factories import AccountFactory, MessageFactory, PayoutLineItemFactory

pytestmark = pytest.mark.django_db

MEASURED: dict[str, tuple[int, int]] = {}


def record(name: str, one: int, fifty: int) -> None:
    MEASURED[name] = (one, fifty)
    print(f"queries {name}: {one} for 1 row, {fifty} for 50")  # shown with pytest -s


def count_queries(client: Client, url: str) -> int:
    client.get(url)  # warm per-process caches (content types, permissions) so both counts compare alike
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("label", sorted(FACTORIES))
def test_changelist_query_count_is_constant(admin_client: Client, account: ReverbAccount, label: str) -> None:
    factory = FACTORIES[label]
    other = AccountFactory(name="second-shop")
    factory(account=account)
    url = admin_url(label, "changelist")
    one = count_queries(admin_client, url)
    factory.create_batch(30, account=account)
    factory.create_batch(19, account=other)  # rows of two accounts, each with its own related rows
    fifty = count_queries(admin_client, url)
    record(f"{label} changelist", one, fifty)
    assert fifty == one, f"{label}: {one} queries for 1 row, {fifty} for 50"


@pytest.mark.parametrize("label", sorted(FACTORIES))
def test_change_view_query_count_is_constant(
    admin_client: Client, account: ReverbAccount, label: str
) -> None:
    obj = FACTORIES[label](account=account)
    one = count_queries(admin_client, admin_url(label, "change", obj.pk))
    FACTORIES[label].create_batch(49, account=account)
    fifty = count_queries(admin_client, admin_url(label, "change", obj.pk))
    record(f"{label} change view", one, fifty)
    assert fifty == one


@pytest.mark.parametrize(
    ("label", "child_factory", "fk"),
    [
        ("messaging.conversation", MessageFactory, "conversation"),
        ("payouts.payout", PayoutLineItemFactory, "payout"),
    ],
)
def test_inline_query_count_is_constant(
    admin_client: Client, account: ReverbAccount, label: str, child_factory: Any, fk: str
) -> None:
    parent = FACTORIES[label](account=account)
    child_factory(account=account, **{fk: parent})
    url = admin_url(label, "change", parent.pk)
    one = count_queries(admin_client, url)
    child_factory.create_batch(49, account=account, **{fk: parent})
    response = admin_client.get(url)
    assert len(response.context["inline_admin_formsets"][0].formset.forms) == 50
    fifty = count_queries(admin_client, url)
    record(f"{label} change view with inline", one, fifty)
    assert fifty == one


def test_sync_log_query_count_is_constant(admin_client: Client, account: ReverbAccount) -> None:
    from tests.admin.test_sync_log import make_entries

    make_entries(account, 1)
    one = count_queries(admin_client, "/admin/sync-log/")
    make_entries(account, 49)
    fifty = count_queries(admin_client, "/admin/sync-log/")
    record("sync log page", one, fifty)
    assert fifty == one


def test_syncrun_changelist_query_count_is_constant(admin_client: Client, account: ReverbAccount) -> None:
    from tests.admin.test_sync_log import make_runs

    make_runs(account, 1)
    url = "/admin/backoffice/syncrun/"
    one = count_queries(admin_client, url)
    make_runs(account, 49)
    fifty = count_queries(admin_client, url)
    record("backoffice.syncrun changelist", one, fifty)
    assert fifty == one
