"""Planned answers through the money door (issue 24): approve one, approve selected and approve all first show
every answer with its amounts (percent of list price, the buyer's offer) and send only on "Yes"; an answer
that would be refused is marked before; read-only roles see no Approve button and cannot forge one."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from automation import offers
from automation.models import Mode
from tests.automation.test_offer_rules import COUNTER, new_offer, rule, writes
from tests.conftest import nothing_changes
from tests.orders.helpers import role_user

pytestmark = pytest.mark.django_db
LIST = "/admin/automation/plannedaction/"


def manager() -> Client:
    client = Client()
    client.force_login(role_user("manager", "Manager"))
    return client


def test_approve_selected_asks_first_with_every_amount_then_sends(emulator, shop):
    rule(shop, Mode.PLAN)
    n = new_offer(emulator, shop, "0.80")
    (action,) = offers.run(shop, [n.reverb_id])
    client = manager()
    data = {"action": "approve_selected", "_selected_action": [action.pk], "index": "0"}
    with nothing_changes(emulator, n):
        asked = client.post(LIST, data)
    html = asked.content.decode()
    assert asked.status_code == 200 and 'id="confirm-form"' in html and "Yes, send 1 answer" in html
    assert f"Counter at {action.price:.2f} {n.currency}" in html and "% of list price" in html
    assert f"{n.last_offered_price:.2f} {n.currency} (80.0 % of list price)" in html  # the buyer's offer
    token = re.search(r'name="once_token" value="([^"]+)"', html).group(1)
    confirmed = {"action": "approve_selected", "_selected_action": [action.pk], "confirmed": "yes"}
    assert client.post(LIST, {**confirmed, "once_token": token}).status_code == 302
    action.refresh_from_db()
    assert action.status == "sent" and emulator.requests[COUNTER] == 1


def test_approve_all_previews_then_sends_only_what_was_previewed(emulator, shop):
    rule(shop, Mode.PLAN)
    first = new_offer(emulator, shop, "0.80")
    offers.run(shop, [first.reverb_id])
    client = manager()
    before = writes(emulator)
    preview = client.post(f"{LIST}approve-all/").content.decode()
    assert writes(emulator) == before and "Yes, send 1 answer" in preview
    ids = re.findall(r'name="ids" value="(\d+)"', preview)
    later = new_offer(emulator, shop, "0.80")  # planned after the preview: not in it, not sent
    (late,) = offers.run(shop, [later.reverb_id])
    token = re.search(r'name="once_token" value="([^"]+)"', preview).group(1)
    client.post(f"{LIST}approve-all/", {"ids": ids, "confirmed": "yes", "once_token": token})
    assert writes(emulator) == before + 1
    late.refresh_from_db()
    assert late.status == "planned"


def test_a_planned_answer_below_the_floor_is_marked_before_it_is_approved(emulator, shop):
    from decimal import Decimal

    from messaging.models import OfferPolicy

    rule(shop, Mode.PLAN)
    n = new_offer(emulator, shop, "0.80")
    (action,) = offers.run(shop, [n.reverb_id])
    OfferPolicy.objects.update_or_create(account=shop, defaults={"floor_percent": Decimal("95")})
    with nothing_changes(emulator, n):
        html = manager().post(f"{LIST}{action.pk}/approve/").content.decode()
    assert "will not be sent: The counter" in html and "below this shop&#x27;s floor" in html
    assert 'id="confirm-yes"' not in html  # nothing would be sent: no "Yes"


@pytest.mark.parametrize("role", ["Viewer", "Bookkeeper"])
def test_read_only_roles_see_no_approve_button_and_cannot_forge_one(emulator, shop, role):
    rule(shop, Mode.PLAN)
    n = new_offer(emulator, shop, "0.80")
    (action,) = offers.run(shop, [n.reverb_id])
    client = Client()
    client.force_login(role_user("ro", role))
    page = client.get(LIST)
    if page.status_code == 200:
        html = page.content.decode()
        assert "approve-one" not in html and "Approve all planned" not in html
        assert "approve_selected" not in html
    with nothing_changes(emulator, n):
        for url in (f"{LIST}{action.pk}/approve/", f"{LIST}approve-all/"):
            assert client.post(url, {"confirmed": "yes", "once_token": "t"}).status_code == 403
