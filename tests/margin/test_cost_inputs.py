"""Where a listing's cost comes from: the edit and create forms, the CSV import's `cost` column (never sent to
Reverb), Reverb's `seller_cost` when a pulled row carries one (a null keeps the local cost); and where the
margin shows: the listing page, the offer page, the planned actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from automation.models import Mode, OfferRule, PlannedAction
from backoffice.models import ApiCall
from backoffice.sync.engine import upsert_page
from listings import editing
from listings.models import Listing
from listings.sync import map_listing
from tests.factories import AccountFactory, NegotiationFactory, listing_payload, money
from tests.listings.test_admin import edit_data

pytestmark = pytest.mark.django_db
D = Decimal


def rows(*payloads: dict[str, Any]) -> list[Any]:
    return [(*map_listing(p), p) for p in payloads]


def test_seller_cost_sets_the_cost_and_a_null_keeps_the_local_one() -> None:
    account = AccountFactory(token="")
    upsert_page(Listing, account, rows(listing_payload(1, seller_cost=money("420.00"))))
    listing = Listing.objects.get(account=account)
    assert listing.cost == D("420.00")
    Listing.objects.filter(pk=listing.pk).update(cost=D("400.00"))  # set here (form, CSV)
    upsert_page(Listing, account, rows(listing_payload(1, seller_cost=None, title="Renamed")))
    upsert_page(Listing, account, rows(listing_payload(1, title="Renamed again")))  # absent: not told
    listing.refresh_from_db()
    assert (listing.title, listing.cost) == ("Renamed again", D("400.00"))
    upsert_page(Listing, account, rows(listing_payload(2, seller_cost=None)))  # a new row without a cost
    assert Listing.objects.get(account=account, reverb_id="1002").cost is None


def test_the_edit_form_saves_the_cost_here_only(admin_client: Client, shop: Any, emulator: Any) -> None:
    listing = Listing.objects.filter(account=shop, state="live").order_by("pk").first()
    calls = ApiCall.objects.count()
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    assert admin_client.get(url).status_code == 200
    profile = editing.effective(listing, "shipping_profile_id")
    data = edit_data(listing, cost="123.45", shipping_profile_id=profile)
    response = admin_client.post(url, data, follow=True)
    assert "Saved the cost" in response.content.decode()
    listing.refresh_from_db()
    assert listing.cost == D("123.45") and listing.pending_changes == {}
    assert ApiCall.objects.count() == calls  # nothing sent to Reverb
    page = admin_client.get(reverse("admin:listings_listing_change", args=[listing.pk])).content.decode()
    assert 'id="margin"' in page and "123.45" in page and "The shop keeps" in page


def test_the_listing_page_shows_price_fees_keeps_cost_and_margin(admin_client: Client) -> None:
    from tests.factories import ListingFactory

    listing = ListingFactory(account=AccountFactory(token=""), price=D("449.40"), cost=D("420.00"))
    page = admin_client.get(reverse("admin:listings_listing_change", args=[listing.pk])).content.decode()
    for text in ("449.40", "37.30", "412.10", "420.00", "-7.90", "(-1.8%)", "below cost"):
        assert text in page, text


def test_the_csv_import_sets_the_cost_and_never_sends_it(
    admin_client: Client, shop: Any, emulator: Any, django_capture_on_commit_callbacks: Any, inline_jobs: None
) -> None:
    text = (
        "sku,make,model,condition,price,inventory,cost\n"
        'COST-1,Fender,Jazzmaster,Excellent,1500,1,"1,050.00"\n'
        "COST-2,Fender,Mustang,Excellent,500,1,\n"
        "COST-3,Fender,Mustang,Excellent,500,1,cheap\n"
    )
    url = reverse("admin:listings_listing_import")
    preview = admin_client.post(url, {"account": shop.pk, "file": SimpleUploadedFile("c.csv", text.encode())})
    found = {r.sku: r for r in preview.context["rows"]}
    assert found["COST-1"].cost == "1050.00" and "cost" not in found["COST-1"].payload
    assert found["COST-3"].outcome == "refused" and "cost 'cheap' is not a number" in found["COST-3"].reasons
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"apply": "1", "confirmed": "yes", "preview": preview.context["preview"].pk})
    assert Listing.objects.get(sku="COST-1").cost == D("1050.00")
    assert Listing.objects.get(sku="COST-2").cost is None
    sent = ApiCall.objects.filter(action="listings.create").values_list("request_summary", flat=True)
    assert sent and not any("cost" in str(body) for body in sent)


def test_the_offer_page_and_the_planned_actions_show_the_margin(admin_client: Client) -> None:
    account = AccountFactory(token="")
    n = NegotiationFactory(
        account=account,
        reverb_id="77",
        last_offered_price=D("449.40"),
        listing__price=D("500.00"),
        listing__cost=D("420.00"),
    )
    page = admin_client.get(reverse("admin:messaging_negotiation_offer", args=[n.pk])).content.decode()
    assert 'id="margin"' in page and "Margin of this offer" in page and "-7.90" in page
    rule = OfferRule.objects.create(account=account, name="R", mode=Mode.PLAN, floor=D("50"), target=D("95"))
    for number, verb, price in ((1, "counter", D("458.00")), (2, "accept", None), (3, "decline", None)):
        PlannedAction.objects.create(
            account=account,
            rule=rule,
            negotiation=n,
            offer_number=number,
            offer_price=D("449.40"),
            verb=verb,
            price=price,
            reason="r",
            mode=Mode.PLAN,
        )
    listing = Listing.objects.get(pk=n.listing_id)
    html = admin_client.get(reverse("admin:automation_plannedaction_changelist")).content.decode()
    assert "0.00 (0.0%)" in html  # the counter at cost + fees
    assert "-7.90 (-1.8%) below cost" in html  # the accept at the offer
    Listing.objects.filter(pk=listing.pk).update(cost=None)
    html = admin_client.get(reverse("admin:automation_plannedaction_changelist")).content.decode()
    assert "no cost" in html


def test_the_create_form_sets_the_cost(admin_client: Client, shop: Any, emulator: Any) -> None:
    from tests.factories import EXCELLENT

    url = reverse("admin:listings_listing_create")
    page = admin_client.get(url, {"account": shop.pk})
    form = {"account": shop.pk, "sku": "CR-COST", "make": "Gibson", "model": "SG", "condition": EXCELLENT}
    form |= {"price": "900", "cost": "612.50", "once_token": page.context["once_token"]}
    assert admin_client.post(url, form).status_code == 302
    assert Listing.objects.get(sku="CR-COST").cost == D("612.50")
    sent = ApiCall.objects.filter(action="listings.create").values_list("request_summary", flat=True)
    assert not any("612.50" in str(body) for body in sent)
