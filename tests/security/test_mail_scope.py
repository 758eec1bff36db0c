"""Every email picks its recipients through backoffice/people.py (issue 24, "done means").

The call sites are collected, not listed: an AST scan of the product code finds every send_mail,
send_mass_mail, mail_admins, mail_managers and EmailMessage/EmailMultiAlternatives, and fails unless its
module asks backoffice.people (people_of/emails_of) and picks no one by hand (no user query, no ADMINS).
Then each message is rendered for a two-shop install: nothing of the other shop is in it, and no one of
another shop, or of no shop, receives it."""

from __future__ import annotations

import ast
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail

from backoffice.roles import CUSTOMER_SERVICE, MANAGER, SHIPPING
from tests.factories import AccountFactory, OrderFactory
from tests.orders.helpers import role_user
from tests.security.shops import A_TAG, B_TAG

ROOT = Path(settings.BASE_DIR)
SENDERS = {
    "send_mail",
    "send_mass_mail",
    "mail_admins",
    "mail_managers",
    "EmailMessage",
    "EmailMultiAlternatives",
}
TO_OPERATORS = {"mail_admins", "mail_managers"}  # ADMINS/MANAGERS with whatever is in the message
HELPERS = {"people_of", "emails_of"}
# Modules not yet moved onto backoffice.people. Each MUST move (then leave this list):
ALLOWED: set[str] = set()


def product_modules() -> list[Path]:
    skip = {"tests", "docs", "node_modules", "migrations"}
    return [
        p
        for p in ROOT.rglob("*.py")
        if not any(part in skip or part.startswith(".") for part in p.relative_to(ROOT).parts)
    ]


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def mail_sites() -> dict[str, list[str]]:
    """{module path: what is wrong with its mail sending} for every module that sends mail."""
    found: dict[str, list[str]] = {}
    for path in product_modules():
        tree = ast.parse(path.read_text(), str(path))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        senders = [c for c in calls if _name(c.func) in SENDERS]
        if not senders:
            continue
        wrong = [
            f"line {c.lineno}: {_name(c.func)} goes to the operators"
            for c in senders
            if _name(c.func) in TO_OPERATORS
        ]
        imported = {
            alias.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == "backoffice.people"
            for alias in n.names
        }
        if not imported & HELPERS or not any(_name(c.func) in HELPERS for c in calls):
            wrong.append("its recipients do not come from backoffice.people (people_of/emails_of)")
        by_hand = {
            n.lineno
            for n in ast.walk(tree)
            if (isinstance(n, ast.Name) and n.id == "get_user_model")
            or (isinstance(n, ast.Attribute) and n.attr in ("ADMINS", "MANAGERS"))
        }
        if by_hand:
            wrong.append(f"picks people by hand (users or ADMINS) at lines {sorted(by_hand)}")
        found[str(path.relative_to(ROOT))] = wrong
    return found


def test_every_mail_call_site_takes_its_recipients_from_people() -> None:
    sites = mail_sites()
    assert {"automation/digest.py", "backoffice/sync/reconcile.py"} <= set(sites)  # the scan sees them
    wrong = {path: problems for path, problems in sites.items() if problems and path not in ALLOWED}
    assert wrong == {}


# ---- the messages, for two shops ----

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 6, 1, 14, 0, tzinfo=CHICAGO)


def person(name: str, role: str | None, *shops: Any) -> User:
    user = role_user(name, role)
    user.email = f"{name}@shop.test"
    user.save()
    for shop in shops:
        shop.members.add(user)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def shops(db: None, strict_membership: None) -> tuple[Any, Any]:
    """(A, B): each with an overdue order to ship and a refund request due today, named after the shop."""
    from refunds.models import RefundRequest

    pair = []
    for tag, number in ((A_TAG, "810001"), (B_TAG, "820001")):
        shop = AccountFactory(name=f"{tag} Music", time_zone="America/Chicago")
        OrderFactory(
            account=shop,
            order_number=number,
            buyer_name=f"{tag} Buyer",
            title=f"{tag} Telecaster",
            ship_by=NOW - timedelta(hours=3),
        )
        RefundRequest.objects.create(
            account=shop,
            reverb_id=f"{number}9",
            state="pending_seller_response",
            order_number=number,
            amount=Decimal("50.00"),
            currency="USD",
            answer_by=NOW + timedelta(hours=2),
        )
        pair.append(shop)
    return pair[0], pair[1]


def test_the_digest_goes_to_the_shops_people_only(shops: tuple[Any, Any]) -> None:
    from automation.digest import send_digests

    a, b = shops
    person("cs-b", CUSTOMER_SERVICE, b)
    person("ship-b", SHIPPING, b)
    person("ship-none", SHIPPING)
    person("boss-a", MANAGER, a)
    User.objects.create_superuser("root", "root@shop.test", "pw")

    send_digests(a, NOW)
    to_a = {m.to[0]: m for m in mail.outbox}
    assert sorted(to_a) == ["boss-a@shop.test", "root@shop.test"]
    assert all("810001" in m.body and f"{A_TAG} Buyer" in m.body for m in to_a.values())

    mail.outbox.clear()
    send_digests(b, NOW)
    to_b = {m.to[0]: m for m in mail.outbox}
    assert sorted(to_b) == ["cs-b@shop.test", "root@shop.test", "ship-b@shop.test"]
    for message in to_b.values():
        assert A_TAG not in message.subject + message.body and "810001" not in message.body
    assert f"{B_TAG} Buyer" in to_b["ship-b@shop.test"].body
    assert "refund request 8200019" in to_b["cs-b@shop.test"].body


def test_the_reconciliation_summary_goes_to_the_shops_people_and_operators_get_no_names(
    shops: tuple[Any, Any], settings: Any
) -> None:
    from backoffice.models import ReconciliationFinding, ReconciliationReport
    from backoffice.sync.reconcile import send_summary

    settings.ADMINS = [("Ops", "ops@shop.test")]
    a, b = shops
    person("boss-a", MANAGER, a)
    person("boss-b", MANAGER, b)
    person("boss-none", MANAGER)
    person("viewer-a", "Viewer", a)
    report = ReconciliationReport.objects.create(
        account=a, state=ReconciliationReport.State.NEEDS_ATTENTION, counts={"orders": {"conflicts": 1}}
    )
    ReconciliationFinding.objects.create(
        report=report,
        resource="orders",
        object_key="810001",
        object_label=f"order 810001 to {A_TAG} Buyer",
        field="shipping_address",
        action=ReconciliationFinding.Action.LEFT_FOR_PERSON,
        reason="changed on both sides",
    )
    assert send_summary(report)
    sent = {tuple(m.to): m for m in mail.outbox}
    assert set(sent) == {("boss-a@shop.test",), ("ops@shop.test",)}
    assert f"{A_TAG} Buyer" in sent[("boss-a@shop.test",)].body
    ops = sent[("ops@shop.test",)].body
    assert f"{A_TAG} Buyer" not in ops and "810001" not in ops
    assert "Needs a person: 1 finding(s)" in ops and f"/reconciliationreport/{report.pk}/" in ops
