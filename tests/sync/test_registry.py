"""The sync registry: the apps register their resources from AppConfig.ready(); the core names none, and
the run order follows the resources' links (targets first), INSTALLED_APPS order breaking ties."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from backoffice.sync import registry
from backoffice.sync.resource import Link, Resource

EXPECTED = (
    *("listings", "orders", "payments", "feedback", "refunds"),
    *("conversations", "negotiations", "payouts"),
)


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A copy of the registry's slot to register into; the real one is back (and re-read) afterwards."""
    monkeypatch.setattr(registry, "RESOURCES", registry.RESOURCES.copy())
    yield
    registry._found.clear()
    registry._ordered.clear()


def like_listings(name: str, *links: Link) -> Resource:
    """A top-level resource of the listings app (the first app in INSTALLED_APPS) with `links`."""
    return dataclasses.replace(registry.get("listings"), name=name, links=links)


def test_the_apps_registered_every_resource_in_the_order_of_their_links() -> None:
    assert registry.order() == EXPECTED
    assert {"messages", "payout_line_items"} <= set(registry.resources())  # children: run in their parent
    assert set(registry.night_walks()) == set(EXPECTED)


@pytest.mark.usefixtures("own_registry")
def test_a_new_resource_runs_after_what_its_links_point_to_whatever_its_app() -> None:
    registry.register(like_listings("payout_notes", Link("payout", "payout_reverb_id", "payouts.Payout")))
    assert registry.order() == (*EXPECTED, "payout_notes")


@pytest.mark.usefixtures("own_registry")
def test_without_a_link_its_app_decides_and_after_orders_what_no_link_says() -> None:
    registry.register(like_listings("drafts"))
    assert registry.order() == ("listings", "drafts", *EXPECTED[1:])
    registry.register(like_listings("drafts"), after=("refunds",))
    order = registry.order()
    assert order.index("drafts") == order.index("refunds") + 1


@pytest.mark.usefixtures("own_registry")
def test_resources_waiting_on_each_other_are_refused() -> None:
    registry.register(like_listings("a", Link("x", "y", "listings.Listing")), after=("b",))
    registry.register(like_listings("b"), after=("a",))
    with pytest.raises(ValueError, match="wait on each other"):
        registry.order()
