"""Listing photos in real Chromium: upload a file on the edit form, drag it (and another photo) into place,
save, and the emulator gets the photos in that order, the upload as a URL this app serves."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from backoffice.models import ReverbAccount
from emulator.photos import png
from listings import services
from tests.factories import AccountFactory, new_listing

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = "https://photos.example.com/first.jpg"
SECOND = "https://photos.example.com/second.jpg"
GRIP = {"x": 30, "y": 20}  # on the thumbnail (not the position box)
TOP = {"x": 30, "y": 2}  # the upper half of a row: drop above it


@pytest.fixture
def shop(emulator: Any, settings: Any, tmp_path: Path, live_server: Any) -> ReverbAccount:
    settings.WORKER_BACKEND = "inline"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = live_server.url  # where Reverb would fetch the uploads from
    return AccountFactory(name="photo-shop", auto_sync=False)


def test_upload_drag_into_place_and_save_sends_that_order(
    page: Any,
    live_server: Any,
    admin_user: Any,
    admin_login: Any,
    shop: ReverbAccount,
    emulator: Any,
    tmp_path: Path,
) -> None:
    listing = services.create_listing(shop, new_listing("BR-PHOTO", photos=[FIRST, SECOND]), actor=None).obj
    photo = tmp_path / "amp.jpg"  # named .jpg, a PNG inside: the content decides
    photo.write_bytes(png(5))
    admin_login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/listings/listing/{listing.pk}/edit/")
    rows = page.locator("#photo-list li.photo-row")
    assert rows.count() == 2
    page.set_input_files("#id_photo_files", str(photo))
    assert rows.count() == 3 and "amp.jpg (new)" in rows.nth(2).inner_text()
    # its preview is read in the background: drag once the list has its final layout
    page.wait_for_function("() => [...document.querySelectorAll('#photo-list img')].every(i => i.src)")
    # The new photo to the top, then the second photo above the first.
    rows.nth(2).drag_to(rows.nth(0), source_position=GRIP, target_position=TOP)
    assert page.input_value("#photo-order") == "f0,p0,p1"
    rows.nth(2).drag_to(rows.nth(1), source_position=GRIP, target_position=TOP)
    assert page.input_value("#photo-order") == "f0,p1,p0"
    assert [rows.nth(i).locator(".photo-position").input_value() for i in range(3)] == ["1", "2", "3"]
    page.click("input[name=_save]")
    page.wait_for_selector("text=Photos sent to Reverb in the new order, 1 new")

    emulator.settle()
    sent = [p["url"] for p in emulator.store.table("listings")[int(listing.reverb_id)]["photos"]]
    assert sent[1:] == [SECOND, FIRST]
    assert sent[0].startswith(f"{live_server.url}/media/listing-photos/") and sent[0].endswith(".png")
    with urllib.request.urlopen(sent[0], timeout=10) as fetched:  # as Reverb would: no session
        assert fetched.status == 200 and fetched.headers["Content-Type"] == "image/png"
        assert fetched.read() == png(5)
