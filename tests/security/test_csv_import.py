"""Issue 16 item 15: a CSV import reads the file whole and right, or refuses it with a clear message;
nothing is applied from a file that was not; a normal 5,000-row file can be applied."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from backoffice.models import BulkJob
from listings.models import CsvImportPreview
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

HEADER = "sku,title,make,model,condition,price,inventory,description,photos"
URL = reverse("admin:listings_listing_import")


def row(i: int, price: str = "100", title: str = "Guitar") -> str:
    return f"S-{i},{title} {i},Fender,Jazzmaster,Excellent,{price},1,,"


def upload(client: Client, data: bytes) -> Any:
    account = AccountFactory(name="shop")
    response = client.post(URL, {"account": account.pk, "file": SimpleUploadedFile("p.csv", data)})
    assert response.status_code == 200
    return response


def refused(response: Any) -> str:
    """The file-level problem; and nothing may be applied."""
    assert response.context["applicable"] is False and response.context["rows"] == []
    assert not CsvImportPreview.objects.exists()
    (problem,) = response.context["problems"]
    assert problem in response.content.decode()
    return problem


def test_old_mac_line_endings_are_read(admin_client: Client) -> None:
    data = "\r".join([HEADER, row(1), row(2)]).encode() + b"\r"
    response = upload(admin_client, data)
    assert [r.outcome for r in response.context["rows"]] == ["create", "create"]
    assert response.context["applicable"]


def test_a_cell_over_128_kb_is_refused(admin_client: Client) -> None:
    data = "\n".join([HEADER, row(1), row(2, title="x" * 140_000)]).encode()
    assert "longer than 128 KB" in refused(upload(admin_client, data))


@pytest.mark.parametrize("price", ["Infinity", "-Infinity", "NaN", "sNaN", "1e30", "99999999999"])
def test_impossible_prices_are_refused_per_row(admin_client: Client, price: str) -> None:
    response = upload(admin_client, "\n".join([HEADER, row(1, price=price), row(2)]).encode())
    first, second = response.context["rows"]
    assert first.outcome == "refused" and "price" in first.reasons[0]
    assert second.outcome == "create"


def test_a_latin1_file_is_refused(admin_client: Client) -> None:
    data = "\n".join([HEADER, row(1), row(2, title="Café")]).encode("latin-1")
    problem = refused(upload(admin_client, data))
    assert "not UTF-8" in problem and "line 3" in problem


def test_more_rows_than_allowed_is_refused_not_cut(admin_client: Client) -> None:
    data = "\n".join([HEADER, *(row(i) for i in range(5001))]).encode()
    assert "more than 5,000 rows" in refused(upload(admin_client, data))


def test_a_5000_row_file_is_applied_once(admin_client: Client, settings: Any) -> None:
    settings.JOBS_BACKEND = "none"  # the job is stored; running it is the jobs tests' business
    data = "\n".join([HEADER, *(row(i, title="A rather long and descriptive title") for i in range(5000))])
    assert len(data) > 300_000
    response = upload(admin_client, data.encode())
    assert response.context["applicable"] and response.context["counts"]["create"] == 5000
    form = {"apply": "1", "confirmed": "yes", "preview": response.context["preview"].pk}
    body = "&".join(f"{k}={v}" for k, v in form.items())
    assert len(body) < 100  # the rows stay on the server
    applied = admin_client.post(URL, form)
    assert applied.status_code == 302
    job = BulkJob.objects.get(kind="listings.csv_import")
    assert job.total == 5000
    again = admin_client.post(URL, form, follow=True)
    assert "already applied" in again.content.decode()
    assert BulkJob.objects.filter(kind="listings.csv_import").count() == 1


def test_someone_elses_preview_cannot_be_applied(admin_client: Client, django_user_model: Any) -> None:
    response = upload(admin_client, "\n".join([HEADER, row(1)]).encode())
    other = django_user_model.objects.create_superuser("other", "o@x.io", "pw")
    client = Client()
    client.force_login(other)
    client.post(URL, {"apply": "1", "confirmed": "yes", "preview": response.context["preview"].pk})
    assert not BulkJob.objects.exists()


def test_the_bulk_ship_csv_reads_the_same_way() -> None:
    from orders import bulk

    rows = bulk.parse_csv(b"order_number,provider,tracking_number\r100,UPS,1Z\r101,USPS,94\r")
    assert [(r.order_number, r.line) for r in rows] == [("100", 2), ("101", 3)]
    for data, message in [
        (b"order_number,provider,tracking_number\n1,UPS,\xe9\n", "not UTF-8"),
        (b"order_number,provider,tracking_number\n1,UPS," + b"9" * 140_000 + b"\n", "128 KB"),
    ]:
        with pytest.raises(bulk.CsvError, match=message):
            bulk.parse_csv(data)
