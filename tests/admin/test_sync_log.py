"""The sync-log page: staff only, newest first, paginated, filterable; and the read-only SyncRun admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from backoffice.models import ReverbAccount, SyncLogEntry, SyncRun
from tests.factories import AccountFactory, ListingFactory

pytestmark = pytest.mark.django_db

URL = "/admin/sync-log/"


def make_runs(account: ReverbAccount, n: int, **fields: object) -> list[SyncRun]:
    now = timezone.now()
    return SyncRun.objects.bulk_create(
        SyncRun(
            account=account,
            resource=fields.get("resource", "listings"),
            status=fields.get("status", SyncRun.Status.SUCCESS),
            started_at=now - timedelta(minutes=i),
            fetched=10,
            created=i,
        )
        for i in range(n)
    )


def make_entries(account: ReverbAccount, n: int, **fields: object) -> list[SyncLogEntry]:
    entries = SyncLogEntry.objects.bulk_create(
        SyncLogEntry(
            account=account,
            resource=fields.get("resource", "listings"),
            reverb_id=str(fields.get("reverb_id", f"item-{i}")),
            sku=f"SKU-{i}",
            web_url="https://reverb.com/item/1-guitar",
            status=fields.get("status", SyncLogEntry.Status.FAILED),
            message=str(fields.get("message", f"entry {i}")),
            field_errors={"price": ["must be positive"]},
            raw={"id": i},
        )
        for i in range(n)
    )
    return entries


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_permission_is_refused(client: Client) -> None:
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403


def test_page_renders_in_admin_look(admin_client: Client, account: ReverbAccount) -> None:
    make_entries(account, 1, message="price <b>bad</b>")
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="breadcrumbs"' in html and "admin/css/base.css" in html
    assert "price &lt;b&gt;bad&lt;/b&gt;" in html  # messages are escaped
    assert "<strong>price</strong>: must be positive" in html  # per-field errors readable
    assert 'href="https://reverb.com/item/1-guitar"' in html


def test_newest_first(admin_client: Client, account: ReverbAccount) -> None:
    old, new = make_entries(account, 2)
    SyncLogEntry.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=1), message="OLD"
    )
    SyncLogEntry.objects.filter(pk=new.pk).update(message="NEW")
    html = admin_client.get(URL).content.decode()
    assert html.index("NEW") < html.index("OLD")
    html = admin_client.get(URL + "?sort=created_at").content.decode()
    assert html.index("OLD") < html.index("NEW")


def test_paginated(admin_client: Client, account: ReverbAccount) -> None:
    make_entries(account, 60)
    first = admin_client.get(URL)
    assert len(first.context["table"].page.object_list) == 50
    second = admin_client.get(URL + "?page=2")
    assert len(second.context["table"].page.object_list) == 10


def test_filters(admin_client: Client, account: ReverbAccount) -> None:
    other = AccountFactory(name="other-shop")
    make_entries(account, 2, resource="listings", status="failed", message="L-FAILED")
    make_entries(account, 1, resource="orders", status="skipped", message="O-SKIPPED")
    make_entries(other, 1, resource="orders", status="failed", message="OTHER-ACCOUNT")

    def messages(query: str) -> set[str]:
        table = admin_client.get(URL + query).context["table"]
        return {row.record.message for row in table.page.object_list}

    assert messages(f"?account={other.pk}") == {"OTHER-ACCOUNT"}
    assert messages("?resource=orders") == {"O-SKIPPED", "OTHER-ACCOUNT"}
    assert messages("?status=skipped") == {"O-SKIPPED"}
    assert messages(f"?account={account.pk}&resource=orders&status=failed") == set()
    assert messages("?status=bogus") == set()  # an invalid filter shows nothing, not everything


def test_item_id_links_to_mirror_when_known(admin_client: Client, account: ReverbAccount) -> None:
    listing = ListingFactory(account=account)
    make_entries(account, 1, reverb_id=listing.reverb_id)
    make_entries(account, 1, reverb_id="never-mirrored")
    html = admin_client.get(URL).content.decode()
    assert f'href="/admin/listings/listing/{listing.pk}/change/"' in html
    assert "never-mirrored" in html


def test_entry_detail_and_log_changelist_redirect(admin_client: Client, account: ReverbAccount) -> None:
    (entry,) = make_entries(account, 1)
    detail = admin_client.get(f"/admin/backoffice/synclogentry/{entry.pk}/change/")
    assert detail.status_code == 200
    assert b'class="raw-payload"' in detail.content
    redirect = admin_client.get("/admin/backoffice/synclogentry/?status=failed")
    assert redirect.status_code == 302 and redirect["Location"] == URL + "?status=failed"


def test_syncrun_changelist_and_filters(admin_client: Client, account: ReverbAccount) -> None:
    make_runs(account, 2, resource="listings")
    make_runs(account, 1, resource="orders", status=SyncRun.Status.FAILED)
    response = admin_client.get("/admin/backoffice/syncrun/?resource=orders")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1
    response = admin_client.get("/admin/backoffice/syncrun/?status__exact=failed")
    assert len(response.context["cl"].result_list) == 1
    response = admin_client.get(f"/admin/backoffice/syncrun/?account__id__exact={account.pk}")
    assert len(response.context["cl"].result_list) == 3
    run = SyncRun.objects.first()
    assert admin_client.get(f"/admin/backoffice/syncrun/{run.pk}/change/").status_code == 200
    assert admin_client.get("/admin/backoffice/syncrun/add/").status_code == 403


def test_run_filter_from_syncrun(admin_client: Client, account: ReverbAccount) -> None:
    run_a, run_b = make_runs(account, 2)
    SyncLogEntry.objects.create(account=account, run=run_a, resource="listings", status="failed", message="A")
    SyncLogEntry.objects.create(account=account, run=run_b, resource="listings", status="failed", message="B")
    table = admin_client.get(f"{URL}?run={run_a.pk}").context["table"]
    assert [row.record.message for row in table.page.object_list] == ["A"]


def test_admin_index_links_to_the_sync_log(admin_client: Client) -> None:
    html = admin_client.get("/admin/").content.decode()
    assert f'href="{URL}"' in html


@pytest.mark.parametrize("page", ["999", "abc", "0"])
def test_out_of_range_page_does_not_fail(admin_client: Client, account: ReverbAccount, page: str) -> None:
    make_entries(account, 3)
    assert admin_client.get(f"{URL}?page={page}").status_code == 200
