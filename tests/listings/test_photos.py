"""Listing photos uploaded from a file on the create and edit forms: checked by content (JPEG, PNG, WebP),
size and count capped with a clear message, stored under MEDIA_ROOT with a random name, served by the app,
sent to Reverb as absolute URLs on SITE_URL, in the order chosen (dragged: photo_order; or numbered)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from backoffice.models import ApiCall, ReverbAccount
from emulator.photos import png
from listings import photo_list, photos, services
from listings.models import Listing
from tests.factories import EXCELLENT, new_listing
from tests.listings.conftest import emu_record

SITE = "https://shop.example.com"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = SITE
    return tmp_path


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def create_data(account: ReverbAccount, sku: str, **extra: Any) -> dict[str, Any]:
    return {
        "account": account.pk,
        "sku": sku,
        "make": "Gibson",
        "model": "SG",
        "condition": EXCELLENT,
        "price": "900",
        "offers_enabled": "on",
        **extra,
    }


def sent_urls(emulator: Any, listing: Listing) -> list[str]:
    return [p["url"] for p in emu_record(emulator, listing.reverb_id)["photos"]]


def test_the_kind_is_read_from_the_content_not_the_name() -> None:
    assert photos.kind_of(JPEG) == "jpg"
    assert photos.kind_of(png(3)) == "png"
    assert photos.kind_of(WEBP) == "webp"
    assert photos.kind_of(b"<html><script>alert(1)</script>") is None
    assert photos.kind_of(b"\x89PNG\r\n\x1a\n") is None  # a signature alone is not a PNG
    page = upload("guitar.jpg", b"<html><script>alert(1)</script></html>")
    assert photos.problem(page) == (
        "guitar.jpg is not a JPEG, PNG or WebP image (checked by its content, not its name)."
    )
    assert photos.problem(upload("renamed.gif", png(1))) == ""


def test_a_file_over_the_size_cap_is_refused_with_its_size(settings: Any) -> None:
    settings.LISTING_PHOTO_MAX_MB = 1
    big = upload("big.jpg", JPEG + b"\x00" * (1024 * 1024 + 200_000))
    assert photos.problem(big) == "big.jpg is 1.2 MB; a photo can be at most 1 MB."


def test_create_uploads_a_file_and_sends_its_absolute_url_in_the_dragged_order(
    admin_client: Client, account: ReverbAccount, emulator: Any, media: Path
) -> None:
    url = reverse("admin:listings_listing_create")
    page = admin_client.get(url)
    assert 'enctype="multipart/form-data"' in page.content.decode()
    data = create_data(
        account,
        "UP-1",
        once_token=page.context["once_token"],
        photos="https://photos.example.com/front.jpg",
        photo_files=[upload("back.png", png(2)), upload("neck.jpg", JPEG)],
        photo_list="1",
        photo_order="f1,f0",  # what photo_order.js writes after the neck was dragged above the back
    )
    assert admin_client.post(url, data).status_code == 302
    listing = Listing.objects.get(sku="UP-1")
    sent = sent_urls(emulator, listing)
    assert len(sent) == 3 and sent[2] == "https://photos.example.com/front.jpg"
    pattern = rf"{SITE}/media/listing-photos/([A-Za-z0-9_-]{{24}})\.(jpg|png)"
    (neck, neck_kind), (back, back_kind) = [re.fullmatch(pattern, u).groups() for u in sent[:2]]
    assert (neck_kind, back_kind) == ("jpg", "png")
    assert (media / "listing-photos" / f"{back}.png").read_bytes() == png(2)
    # Served by the app, without a login (Reverb fetches it), as what its content is.
    served = Client().get(f"/media/listing-photos/{back}.png")
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == png(2)
    assert Client().get("/media/listing-photos/" + "a" * 24 + ".png").status_code == 404


def test_a_bad_file_is_refused_and_the_good_ones_are_kept_for_the_next_try(
    admin_client: Client, account: ReverbAccount, emulator: Any, media: Path
) -> None:
    url = reverse("admin:listings_listing_create")
    data = create_data(
        account,
        "UP-2",
        photo_files=[upload("good.jpg", JPEG), upload("notes.png", b"just text")],
        photo_list="1",
    )
    answer = admin_client.post(url, data)
    assert answer.status_code == 200
    assert answer.context["form"].errors["photo_files"] == [
        "notes.png is not a JPEG, PNG or WebP image (checked by its content, not its name)."
    ]
    kept = answer.context["form"].photo_rows
    assert len(kept) == 1 and kept[0].url.startswith(f"{SITE}/media/listing-photos/")
    assert f'name="photo" value="{kept[0].url}"' in answer.content.decode()
    assert not emulator.store.table("listings") or not Listing.objects.filter(sku="UP-2").exists()
    again = create_data(
        account,
        "UP-2",
        once_token=answer.context["once_token"],
        photo_list="1",
        photo=[kept[0].url],
        photo_id=[""],
        photo_position=["1"],
    )
    assert admin_client.post(url, again).status_code == 302
    assert sent_urls(emulator, Listing.objects.get(sku="UP-2")) == [kept[0].url]


def test_at_most_the_photo_count_a_listing_can_have(
    admin_client: Client, account: ReverbAccount, settings: Any, media: Path
) -> None:
    settings.LISTING_PHOTO_MAX_COUNT = 2
    data = create_data(
        account,
        "UP-3",
        photos="https://photos.example.com/a.jpg\nhttps://photos.example.com/b.jpg",
        photo_files=[upload("c.jpg", JPEG)],
        photo_list="1",
    )
    answer = admin_client.post(reverse("admin:listings_listing_create"), data)
    assert (
        "A listing can have at most 2 photos; this would make 3."
        in answer.context["form"].errors["photo_files"]
    )
    assert not Listing.objects.filter(sku="UP-3").exists()


def edit_post(listing: Listing, rows: list[photo_list.Row], **extra: Any) -> dict[str, Any]:
    from tests.listings.test_admin import edit_data

    return {
        **edit_data(listing),
        "photo_list": "1",
        "photo": [r.url for r in rows],
        "photo_on_reverb": ["1" if r.on_reverb else "" for r in rows],
        **extra,
    }


def test_edit_without_javascript_orders_by_the_numbers_and_adds_an_upload(
    admin_client: Client, account: ReverbAccount, emulator: Any, media: Path
) -> None:
    first, second = "https://photos.example.com/1.jpg", "https://photos.example.com/2.jpg"
    listing = services.create_listing(account, new_listing("ED-P", photos=[first, second]), actor=None).obj
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    page = admin_client.get(url)
    rows = page.context["form"].photo_rows
    assert [r.url for r in rows] == [first, second] and all(r.on_reverb for r in rows)
    answer = admin_client.post(
        url, edit_post(listing, rows, photo_position=["2", "1"], photo_files=[upload("3.webp", WEBP)])
    )
    assert answer.status_code == 302
    sent = sent_urls(emulator, listing)
    assert sent[:2] == [second, first] and re.fullmatch(rf"{SITE}/media/listing-photos/.+\.webp", sent[2])
    assert ApiCall.objects.filter(action="listings.reorder_images").count() == 1
    # The same order again sends nothing more.
    rows = admin_client.get(url).context["form"].photo_rows
    assert admin_client.post(url, edit_post(listing, rows)).status_code == 302
    assert sent_urls(emulator, listing) == sent
    assert ApiCall.objects.filter(action="listings.reorder_images").count() == 1


def test_a_position_that_is_not_a_number_is_refused(
    admin_client: Client, account: ReverbAccount, emulator: Any, media: Path
) -> None:
    listing = services.create_listing(account, new_listing("ED-Q"), actor=None).obj
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    rows = admin_client.get(url).context["form"].photo_rows
    answer = admin_client.post(url, edit_post(listing, rows, photo_position=["first"]))
    assert answer.context["form"].errors["photo_files"] == [
        "Photo positions are whole numbers (“first” is not)."
    ]


def test_the_order_tokens_win_over_the_numbers_and_unknown_tokens_are_ignored() -> None:
    rows = [photo_list.Row("https://x/a", "1"), photo_list.Row("https://x/b", "2")]
    new = [photo_list.Row("https://x/n")]
    data = {"photo_order": "f0,p1,zz", "photo_position": ["1", "2"]}
    assert [r.url for r in photo_list.ordered(data, rows, new, ["https://x/t"])] == [
        "https://x/n",
        "https://x/b",
        "https://x/a",
        "https://x/t",
    ]
    # A new photo (not on Reverb) can be left out; one Reverb has cannot (the photos page deletes).
    left = {"photo_remove": ["0", "1"], "photo_position": ["1", "2"]}
    assert [r.url for r in photo_list.ordered(left, [rows[0], photo_list.Row("https://x/new")], [], [])] == [
        "https://x/a"
    ]


def test_the_edit_page_asks_reverb_nothing_and_a_save_refuses_if_its_photos_changed_since(
    admin_client: Client, account: ReverbAccount, emulator: Any, media: Path
) -> None:
    listing = services.create_listing(account, new_listing("ED-R"), actor=None).obj
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    images = ("GET", "/api/listings/{listing_id}/images")
    reads = emulator.requests[images]
    rows = admin_client.get(url).context["form"].photo_rows
    assert emulator.requests[images] == reads  # the photos shown are the mirror's
    services.add_image(listing, actor=None, url="https://photos.example.com/added-on-reverb.jpg")
    before = sent_urls(emulator, listing)
    answer = admin_client.post(
        url, edit_post(listing, rows, photo_files=[upload("n.jpg", JPEG)]), follow=True
    )
    assert "Photos not changed: Reverb has 2 photo(s) for this listing, the page showed 1." in (
        answer.content.decode()
    )
    assert sent_urls(emulator, listing) == before
    assert not ApiCall.objects.filter(action="listings.reorder_images").exists()
    assert emulator.requests[images] == reads + 1  # read at the save, to find the change


def test_a_post_without_the_photo_list_adds_new_photos_after_reverbs(
    admin_client: Client, account: ReverbAccount, emulator: Any, media: Path
) -> None:
    from tests.listings.test_admin import edit_data

    listing = services.create_listing(account, new_listing("ED-S"), actor=None).obj
    before = sent_urls(emulator, listing)
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    answer = admin_client.post(url, {**edit_data(listing), "photo_files": [upload("n.jpg", JPEG)]})
    assert answer.status_code == 302
    sent = sent_urls(emulator, listing)
    assert sent[: len(before)] == before and len(sent) == len(before) + 1
    assert ApiCall.objects.filter(action="listings.add_image").count() == 1


def test_a_reorder_sends_the_urls_first_sent_not_reverbs_copies(
    account: ReverbAccount, emulator: Any
) -> None:
    first, second = "https://photos.example.com/1.jpg", "https://photos.example.com/2.jpg"
    listing = services.create_listing(account, new_listing("ED-T", photos=[first, second]), actor=None).obj
    # On Reverb the mirror holds its image host's copies (API-NOTES 5.2), matched to originals by position.
    copies = ["https://images.reverb.test/a/large.jpg", "https://images.reverb.test/b/large.jpg"]
    Listing.objects.filter(pk=listing.pk).update(images=copies)
    listing.refresh_from_db()
    done = services.arrange_photos(
        listing, actor=None, urls=[copies[1], copies[0], "https://photos.example.com/3.jpg"], current=copies
    )
    assert (
        done.message
        == "Photos sent to Reverb in the new order, 1 new (Reverb fetches them in the background)."
    )
    assert sent_urls(emulator, listing) == [second, first, "https://photos.example.com/3.jpg"]
