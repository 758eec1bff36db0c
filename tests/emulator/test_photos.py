"""The emulator serves its own placeholder photos from its loopback origin (no outside host)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from emulator import Emulator
from emulator.server import start_in_thread, stop
from tests.conftest import EMULATOR_TEST_PACE

TOKEN = "photo-token"


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(token=TOKEN, seed=3, size="tiny", **EMULATOR_TEST_PACE)
    server, origin = start_in_thread(emulator)
    yield emulator, origin
    stop(server)


def test_listing_photos_point_at_the_emulator_and_are_served_as_png(served) -> None:
    _, origin = served
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {TOKEN}", "Accept-Version": "3.0"})
    listings = s.get(f"{origin}/api/my/listings", timeout=5).json()["listings"]
    urls = [p["_links"]["full"]["href"] for x in listings for p in x["photos"]]
    assert urls and all(u.startswith(f"{origin}/__emulator__/photos/") for u in urls)
    photo = s.get(urls[0], timeout=5)
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/png"
    assert photo.content.startswith(b"\x89PNG\r\n\x1a\n")
    thumb = next(x["_links"]["photo"]["href"] for x in listings if x["photos"])
    assert s.get(thumb, timeout=5).headers["Content-Type"] == "image/png"  # ?crop=large too


def test_a_listing_sent_back_with_its_absolute_photo_urls_keeps_its_photo_ids(served) -> None:
    emulator, origin = served
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {TOKEN}", "Accept-Version": "3.0"})
    listing = next(
        x for x in s.get(f"{origin}/api/my/listings", timeout=5).json()["listings"] if len(x["photos"]) > 1
    )
    urls = [p["_links"]["full"]["href"] for p in listing["photos"]]
    before = [p["id"] for p in emulator.store.table("listings")[int(listing["id"])]["photos"]]
    answer = s.put(
        f"{origin}/api/listings/{listing['id']}",
        json={"photos": list(reversed(urls)), "photo_upload_method": "override_position"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    after = [p["id"] for p in emulator.store.table("listings")[int(listing["id"])]["photos"]]
    assert after == list(reversed(before))
