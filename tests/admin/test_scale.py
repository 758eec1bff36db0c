"""What keeps the admin fast on a big shop: exact-match search for order numbers and SKUs, the estimated
count on PostgreSQL, and the trigram indexes behind text search there (their presence and use)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backoffice.admin.scale import EstimatedCountPaginator
from backoffice.models import ReverbAccount
from listings.models import Listing
from orders.models import Order
from tests.admin.conftest import admin_url
from tests.factories import ListingFactory, OrderFactory

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def search(client: Client, label: str, term: str) -> tuple[list[object], list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(admin_url(label, "changelist"), {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list), [q["sql"] for q in ctx.captured_queries]


def like_scans(sql: list[str]) -> list[str]:
    return [q for q in sql if " LIKE " in q.upper() and ("orders_order" in q or "listings_listing" in q)]


def test_an_order_number_is_found_by_equality_without_a_like_scan(
    admin_client: Client, account: ReverbAccount
) -> None:
    wanted = OrderFactory(account=account, order_number="123456", buyer_name="Ann")
    OrderFactory(account=account, order_number="1234567", buyer_name="Bob 123456")
    found, sql = search(admin_client, "orders.order", "123456")
    assert found == [wanted]
    assert not like_scans(sql)


def test_a_sku_is_found_by_equality_without_a_like_scan(admin_client: Client, account: ReverbAccount) -> None:
    wanted = ListingFactory(account=account, sku="GTR-001")
    ListingFactory(account=account, sku="GTR-0010", title="for GTR-001 fans")
    found, sql = search(admin_client, "listings.listing", "GTR-001")
    assert found == [wanted]
    assert not like_scans(sql)
    order = OrderFactory(account=account, sku="GTR-001")
    found, sql = search(admin_client, "orders.order", "gtr-001")  # no exact hit: the usual search
    assert found == [order]
    assert like_scans(sql)


def test_a_term_that_matches_no_exact_value_falls_back_to_the_usual_search(
    admin_client: Client, account: ReverbAccount
) -> None:
    order = OrderFactory(account=account, order_number="555", buyer_name="Carla 98765")
    found, sql = search(admin_client, "orders.order", "98765")
    assert found == [order]
    assert like_scans(sql)
    found, _ = search(admin_client, "orders.order", "Carla")  # a word is never taken for a SKU
    assert found == [order]


def test_the_exact_search_costs_one_query_more_than_a_word_search(
    admin_client: Client, account: ReverbAccount
) -> None:
    OrderFactory(account=account, order_number="123456", buyer_name="Carla")
    _, word = search(admin_client, "orders.order", "Carla")
    _, exact = search(admin_client, "orders.order", "123456")
    assert len(exact) == len(word) + 1


def test_the_paginator_counts_exactly_off_postgresql_and_when_filtered(account: ReverbAccount) -> None:
    OrderFactory.create_batch(3, account=account)
    assert EstimatedCountPaginator(Order.objects.order_by("pk"), 50).count == 3
    assert EstimatedCountPaginator(Order.objects.filter(status="nope").order_by("pk"), 50).count == 0


@postgres_only
def test_the_unfiltered_count_on_postgresql_is_the_planners_estimate(
    account: ReverbAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backoffice.admin import scale

    monkeypatch.setattr(scale, "ESTIMATE_ABOVE", 4)  # a "big" table, for the test
    orders = OrderFactory.create_batch(5, account=account)
    with connection.cursor() as cursor:  # the planner's statistics: 5 rows, until the next ANALYZE
        cursor.execute(f"ANALYZE {Order._meta.db_table}")
    Order.objects.filter(pk__in=[o.pk for o in orders[:2]]).delete()
    paginator = EstimatedCountPaginator(Order.objects.order_by("pk"), 50)
    with CaptureQueriesContext(connection) as ctx:
        assert paginator.count == 5  # the estimate, not the exact 3
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    filtered = EstimatedCountPaginator(Order.objects.filter(account=account).order_by("pk"), 50)
    assert filtered.count == 3
    monkeypatch.setattr(scale, "ESTIMATE_ABOVE", 6)  # a small table is counted exactly
    assert EstimatedCountPaginator(Order.objects.order_by("pk"), 50).count == 3


@postgres_only
def test_a_members_whole_list_is_estimated_like_a_superusers(
    account: ReverbAccount, monkeypatch: pytest.MonkeyPatch, strict_membership: None
) -> None:
    from django.contrib.auth import get_user_model

    from backoffice.access import for_user
    from backoffice.admin import scale

    monkeypatch.setattr(scale, "ESTIMATE_ABOVE", 4)
    user = get_user_model().objects.create_user("clerk", is_staff=True)
    account.members.add(user)
    orders = OrderFactory.create_batch(5, account=account, status="paid")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Order._meta.db_table}")
    Order.objects.filter(pk__in=[o.pk for o in orders[:2]]).delete()
    scoped = for_user(Order.objects.order_by("pk"), user)
    with CaptureQueriesContext(connection) as ctx:
        assert EstimatedCountPaginator(scoped, 50).count == 5  # the planner's, not the exact 3
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert EstimatedCountPaginator(scoped.filter(status="paid"), 50).count == 3  # filtered: exact


@postgres_only
@pytest.mark.parametrize(
    ("model", "field", "term"),
    [(Order, "buyer_name", "alice"), (Order, "title", "fender"), (Listing, "title", "fender")],
)
def test_text_search_uses_a_trigram_index_on_postgresql(model: type, field: str, term: str) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        assert f"{table}_{field}_trgm" in {row[0] for row in cursor.fetchall()}
        sql, params = model.objects.filter(**{f"{field}__icontains": term}).order_by().query.sql_with_params()
        # An empty test table is best scanned; forbid the scans so the plan shows what the index can serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"{table}_{field}_trgm" in plan


@postgres_only
def test_mirror_text_columns_keep_their_plain_index_without_a_pattern_ops_copy() -> None:
    """Migration 0010 drops the `varchar_pattern_ops` copies, which every pulled row paid for and no
    query used; the plain b-tree indexes behind lookups and sorting stay."""
    from django.apps import apps

    from backoffice.models import RemoteModel

    tables = [m._meta.db_table for m in apps.get_models() if issubclass(m, RemoteModel)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [tables])
        indexes = cursor.fetchall()
    assert len(tables) >= 10 and not [d for _, d in indexes if "varchar_pattern_ops" in d]
    assert any(t == "orders_order" and d.endswith("USING btree (order_number)") for t, d in indexes)


def test_a_deep_page_reads_its_keys_without_joins_then_the_same_rows_in_the_same_order(
    account: ReverbAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backoffice.admin import scale

    monkeypatch.setattr(scale, "DEEP_PAGE_FROM", 4)
    OrderFactory.create_batch(12, account=account, listing=ListingFactory(account=account))
    qs = Order.objects.select_related("account", "listing").order_by("-remote_created_at", "-id")
    plain = [o.pk for o in qs[5:10]]
    paginator = EstimatedCountPaginator(qs, 5)
    paginator.count  # noqa: B018  (counted first, as the changelist does)
    with CaptureQueriesContext(connection) as ctx:
        page = paginator.page(2)
        shown = [(o.pk, o.listing.title, o.account.name) for o in page.object_list]
    assert [pk for pk, *_ in shown] == plain
    assert len(ctx.captured_queries) == 2  # the page's keys, then its rows with their joins
    offset = [q["sql"] for q in ctx.captured_queries if "OFFSET" in q["sql"].upper()]
    assert len(offset) == 1 and "JOIN" not in offset[0].upper()
    assert page.has_next() and page.has_previous()


def test_an_early_page_is_one_query(account: ReverbAccount) -> None:
    OrderFactory.create_batch(3, account=account)
    qs = Order.objects.select_related("account").order_by("-remote_created_at", "-id")
    paginator = EstimatedCountPaginator(qs, 2)
    paginator.count  # noqa: B018  (counted first, as the changelist does)
    with CaptureQueriesContext(connection) as ctx:
        assert len(paginator.page(2).object_list) == 1
    assert len(ctx.captured_queries) == 1


def test_several_words_are_first_one_phrase_in_the_titles(
    admin_client: Client, account: ReverbAccount
) -> None:
    wanted = ListingFactory(account=account, title="Fender guitar model 77")
    ListingFactory(account=account, title="Gibson guitar", model="model 77")  # the words, not the phrase
    found, sql = search(admin_client, "listings.listing", "guitar model 77")
    assert found == [wanted]
    assert not [q for q in sql if 'UPPER("listings_listing"."model"' in q]  # the title's index alone
    found, _ = search(admin_client, "listings.listing", "77 Gibson")  # no title has it: word by word
    assert {listing.title for listing in found} == {"Fender guitar model 77", "Gibson guitar"}


def table_walks(queries: list[dict[str, str]]) -> list[str]:
    """The DISTINCT reads over every row; one over the rows outside the documented values (NOT IN, a partial
    index) is not one."""
    return [q["sql"] for q in queries if "DISTINCT" in q["sql"].upper() and " NOT (" not in q["sql"].upper()]


@pytest.mark.parametrize(
    "label, make",
    [
        ("orders.order", lambda account, when: OrderFactory(account=account, remote_created_at=when)),
        ("listings.listing", lambda account, when: ListingFactory(account=account, remote_created_at=when)),
    ],
)
def test_filters_and_date_hierarchy_read_no_distinct_values(
    label, make, client: Client, account: ReverbAccount
) -> None:
    """Django's list filter for a plain field and its date hierarchy each SELECT DISTINCT over the shop's
    rows (a read of the whole table per view at 200k orders): the choices are Reverb's documented values,
    the periods those between the first and last row's date."""
    from datetime import datetime

    from django.utils import timezone

    from tests.orders.helpers import role_user

    for year in (2023, 2025):
        make(account, timezone.make_aware(datetime(year, 3, 9, 12)))
    manager = role_user("manager", "Manager")
    account.members.add(manager)
    client.force_login(manager)
    url = admin_url(label, "changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(url).content.decode()
    assert not table_walks(ctx.captured_queries)
    assert ">2023<" in html and ">2024<" in html and ">2025<" in html  # 2024: in the span, without rows
    assert ("=payment_pending" if label == "orders.order" else "=suspended") in html  # documented values
    with CaptureQueriesContext(connection) as ctx:
        year = client.get(url, {"remote_created_at__year": "2025"}).content.decode()
    assert not table_walks(ctx.captured_queries)
    assert "March 2025" in year


def test_catalogue_health_counts_duplicate_skus_without_a_look_up_per_listing(account: ReverbAccount) -> None:
    """A twin look-up per selling listing (EXISTS) was 25,000 probes on a big shop: the SKUs are grouped."""
    from listings.health import counts

    for state in ("live", "draft", "sold"):  # a sold twin does not count
        ListingFactory(account=account, sku="TWIN-1", state=state)
    ListingFactory(account=account, sku="ALONE-1")
    with CaptureQueriesContext(connection) as ctx:
        lines = {line.check.key: line.count for line in counts(Listing.objects.all())}
    assert lines["duplicate_sku"] == 2
    assert not [q["sql"] for q in ctx.captured_queries if "EXISTS" in q["sql"].upper()]


@postgres_only
def test_postgresql_does_not_jit_compile_the_admins_queries() -> None:
    """JIT compiling spent more than the payouts report's totals query ran (72 ms with, 27 ms without at
    200k orders): the connections turn it off (POSTGRES_JIT=True turns it back on)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


@postgres_only
def test_the_conversations_list_walks_an_index_in_its_order_for_a_member(account: ReverbAccount) -> None:
    """Unread first, newest first, for one shop: an index read backwards, not a sort of the shop's
    conversations (30,000 of them sorted took 30 ms a page; 0.4 ms walked)."""
    from django.contrib import admin

    from backoffice.access import for_user
    from messaging.models import Conversation
    from tests.orders.helpers import role_user

    member = role_user("member", "Manager")
    account.members.add(member)
    ordering = admin.site._registry[Conversation].get_ordering(None)
    rows = for_user(Conversation.objects.select_related("account", "listing"), member).order_by(*ordering)
    sql, params = rows[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        # An empty test table is best sorted; forbid the sort so the plan shows what an index can serve.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "conversation_list" in plan and "Sort" not in plan, plan
