"""Mirror admins: search, filters, read-only change views, raw payload, links, no add/delete, re-sync."""

from __future__ import annotations

import pytest
from django.test import Client

from backoffice.models import ReverbAccount, SyncRun
from tests.admin.conftest import FACTORIES, admin_url
from tests.factories import (
    AccountFactory,
    ConversationFactory,
    ListingFactory,
    MessageFactory,
    NegotiationFactory,
    OrderFactory,
    PayoutLineItemFactory,
    RefundRequestFactory,
)

pytestmark = pytest.mark.django_db


def results(client: Client, label: str, query: str = "") -> list[object]:
    response = client.get(admin_url(label, "changelist") + query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("label", sorted(FACTORIES))
def test_every_mirror_is_read_only(admin_client: Client, account: ReverbAccount, label: str) -> None:
    obj = FACTORIES[label](account=account)
    changelist = admin_client.get(admin_url(label, "changelist"))
    assert changelist.status_code == 200
    actions = dict(changelist.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert "resync_from_reverb" in actions
    assert admin_client.get(admin_url(label, "add")).status_code == 403
    assert admin_client.get(admin_url(label, "delete", obj.pk)).status_code == 403
    assert admin_client.post(admin_url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    change = admin_client.get(admin_url(label, "change", obj.pk))
    assert change.status_code == 200
    assert not change.context["adminform"].form.fields  # every mirrored field is read-only
    assert b'name="_save"' not in change.content
    assert obj.__class__.objects.filter(pk=obj.pk).exists()


def test_listing_search_and_filters(admin_client: Client, account: ReverbAccount) -> None:
    strat = ListingFactory(account=account, sku="STRAT-65", title="1965 Stratocaster", make="Fender")
    ListingFactory(account=account, sku="LP-59", title="Les Paul", state="ended")
    other = ListingFactory(account=AccountFactory(name="other"), sku="X-1", title="Other shop's")
    assert results(admin_client, "listings.listing", "?q=STRAT-65") == [strat]
    assert results(admin_client, "listings.listing", "?q=fender") == [strat]
    assert len(results(admin_client, "listings.listing", "?state=ended")) == 1
    assert results(admin_client, "listings.listing", f"?account__id__exact={other.account_id}") == [other]
    assert len(results(admin_client, "listings.listing", "?missing__exact=1")) == 0


def test_order_search_and_filters(admin_client: Client, account: ReverbAccount) -> None:
    order = OrderFactory(account=account, order_number="123456", buyer_name="Jimi Hendrix", sku="SKU-JH")
    OrderFactory(account=account, status="shipped", shipping_method="local")
    assert results(admin_client, "orders.order", "?q=123456") == [order]
    assert results(admin_client, "orders.order", "?q=hendrix") == [order]
    assert results(admin_client, "orders.order", "?q=SKU-JH") == [order]
    assert len(results(admin_client, "orders.order", "?status=shipped")) == 1
    assert len(results(admin_client, "orders.order", "?shipping_method=local")) == 1


def test_refund_search_by_order_number_and_buyer(admin_client: Client, account: ReverbAccount) -> None:
    refund = RefundRequestFactory(account=account, order__buyer_name="Stevie Ray")
    RefundRequestFactory(account=account, state="approved")
    assert results(admin_client, "refunds.refundrequest", f"?q={refund.order_number}") == [refund]
    assert results(admin_client, "refunds.refundrequest", "?q=stevie") == [refund]
    assert len(results(admin_client, "refunds.refundrequest", "?state=approved")) == 1


def test_raw_payload_is_pretty_and_escaped(admin_client: Client, account: ReverbAccount) -> None:
    listing = ListingFactory(account=account, raw={"title": "<script>alert(1)</script>", "id": 1})
    html = admin_client.get(admin_url("listings.listing", "change", listing.pk)).content.decode()
    assert '<pre class="raw-payload"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert "{\n  &quot;id&quot;: 1," in html  # indented, sorted keys


def test_money_is_shown_with_currency(admin_client: Client, account: ReverbAccount) -> None:
    ListingFactory(account=account, price="1999.00", currency="EUR", images=["https://img.test/a.jpg"])
    ListingFactory(account=account, images=["javascript:alert(1)"])
    html = admin_client.get(admin_url("listings.listing", "changelist")).content.decode()
    assert "1,999.00 EUR" in html
    assert 'src="https://img.test/a.jpg"' in html and "javascript:" not in html


def test_order_listing_cross_links(admin_client: Client, account: ReverbAccount) -> None:
    listing = ListingFactory(account=account, web_url="https://reverb.com/item/42-strat")
    order = OrderFactory(account=account, listing=listing, order_number="900001")
    listing_url = admin_url("listings.listing", "change", listing.pk)
    order_url = admin_url("orders.order", "change", order.pk)

    changelist = admin_client.get(admin_url("orders.order", "changelist")).content.decode()
    assert f'href="{listing_url}"' in changelist
    # No web link in the payload: our own (unconfirmed) order URL pattern.
    assert 'href="https://reverb.com/my/selling/orders/900001"' in changelist

    order_page = admin_client.get(order_url).content.decode()
    assert f'href="{listing_url}"' in order_page

    listing_page = admin_client.get(listing_url).content.decode()
    assert f"?listing__id__exact={listing.pk}" in listing_page and "1 orders" in listing_page
    assert 'href="https://reverb.com/item/42-strat"' in listing_page
    assert results(admin_client, "orders.order", f"?listing__id__exact={listing.pk}") == [order]


def test_payload_web_link_wins_for_orders(admin_client: Client, account: ReverbAccount) -> None:
    OrderFactory(account=account, raw={"_links": {"web": {"href": "https://reverb.com/my/orders/abc"}}})
    html = admin_client.get(admin_url("orders.order", "changelist")).content.decode()
    assert 'href="https://reverb.com/my/orders/abc"' in html


@pytest.mark.parametrize(
    ("label", "factory", "fk"),
    [
        ("refunds.refundrequest", RefundRequestFactory, "order"),
        ("payouts.payoutlineitem", PayoutLineItemFactory, "order"),
        ("payouts.payoutlineitem", PayoutLineItemFactory, "payout"),
        ("messaging.conversation", ConversationFactory, "listing"),
        ("messaging.negotiation", NegotiationFactory, "listing"),
        ("messaging.message", MessageFactory, "conversation"),
    ],
)
def test_cross_links(
    admin_client: Client, account: ReverbAccount, label: str, factory: object, fk: str
) -> None:
    obj = factory(account=account)
    target = getattr(obj, fk)
    target_url = admin_url(f"{target._meta.app_label}.{target._meta.model_name}", "change", target.pk)
    assert f'href="{target_url}"' in admin_client.get(admin_url(label, "changelist")).content.decode()
    assert f'href="{target_url}"' in admin_client.get(admin_url(label, "change", obj.pk)).content.decode()


def test_conversation_shows_messages_inline(admin_client: Client, account: ReverbAccount) -> None:
    message = MessageFactory(account=account, body="Does it come with the case?")
    html = admin_client.get(admin_url("messaging.conversation", "change", message.conversation_id)).content
    assert b"Does it come with the case?" in html


def test_resync_action_runs_the_sync_and_reports(
    emulator: object, admin_client: Client, account: ReverbAccount
) -> None:
    listing = ListingFactory(account=account)
    response = admin_client.post(
        admin_url("listings.listing", "changelist"),
        {"action": "resync_from_reverb", "_selected_action": [listing.pk]},
        follow=True,
    )
    assert response.status_code == 200
    run = SyncRun.objects.get(account=account, resource="listings")
    assert run.ok
    texts = [str(m) for m in response.context["messages"]]
    assert any("main-shop listings: fetched=" in text for text in texts), texts


def test_resync_reports_a_disabled_account(admin_client: Client, account: ReverbAccount) -> None:
    account.enabled = False
    account.save()
    order = OrderFactory(account=account)
    response = admin_client.post(
        admin_url("orders.order", "changelist"),
        {"action": "resync_from_reverb", "_selected_action": [order.pk]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any("disabled" in text for text in texts), texts
    assert not SyncRun.objects.exists()


def test_viewer_cannot_resync(client: Client, account: ReverbAccount) -> None:
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_listing"))
    client.force_login(user)
    listing = ListingFactory(account=account)
    response = client.get(admin_url("listings.listing", "changelist"))
    assert response.status_code == 200
    # the only action a viewer may run reads: the CSV export of what they see (never a re-sync)
    offered = [name for name, _ in response.context["action_form"].fields["action"].choices if name]
    assert offered == ["export_csv"]
    client.post(
        admin_url("listings.listing", "changelist"),
        {"action": "resync_from_reverb", "_selected_action": [listing.pk]},
    )
    assert not SyncRun.objects.exists()


def test_admin_shows_a_synced_emulator_shop(
    emulator: object, admin_client: Client, account: ReverbAccount
) -> None:
    """Real payloads (through the sync engine) render in every changelist and change view."""
    from django.apps import apps

    from backoffice.sync.runner import sync_account

    runs = sync_account(account, full=True)
    assert all(run.ok for run in runs), [run.summary() for run in runs]
    for label in ("listings.listing", "orders.order"):
        assert apps.get_model(label).objects.exists()
    for label in FACTORIES:
        model = apps.get_model(label)
        assert results(admin_client, label) or not model.objects.exists()
        first = model.objects.first()
        if first is not None:
            response = admin_client.get(admin_url(label, "change", first.pk))
            assert response.status_code == 200, label
            assert b'class="raw-payload"' in response.content
    assert admin_client.get("/admin/sync-log/").status_code == 200
    assert admin_client.get("/admin/backoffice/syncrun/").status_code == 200


def test_payout_search_by_order_number_counts_line_items(
    admin_client: Client, account: ReverbAccount
) -> None:
    item = PayoutLineItemFactory(account=account, order_number="777001")
    PayoutLineItemFactory(account=account, payout=item.payout)
    PayoutLineItemFactory(account=account)
    found = results(admin_client, "payouts.payout", "?q=777001")
    assert found == [item.payout]
    assert found[0].line_count == 2


RESYNCED = {
    "listings.listing": "listings",
    "orders.order": "orders",
    "orders.payment": "payments",
    "orders.feedback": "feedback",
    "refunds.refundrequest": "refunds",
    "messaging.conversation": "conversations",
    "messaging.message": "conversations",
    "messaging.negotiation": "negotiations",
    "payouts.payout": "payouts",
    "payouts.payoutlineitem": "payouts",
}


@pytest.mark.parametrize("label", sorted(RESYNCED))
def test_resync_uses_the_right_resource(
    emulator: object, admin_client: Client, account: ReverbAccount, label: str
) -> None:
    obj = FACTORIES[label](account=account)
    admin_client.post(
        admin_url(label, "changelist"), {"action": "resync_from_reverb", "_selected_action": [obj.pk]}
    )
    run = SyncRun.objects.get(account=account, resource=RESYNCED[label])
    assert run.ok, run.error
