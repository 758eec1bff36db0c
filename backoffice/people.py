"""Who is told: THE one way any email or notification picks its recipients (DESIGN.md: staff see their
shops, by construction).

A shop's people are the active users with an email address who work for it: its members, and superusers,
who work for every shop (`backoffice/access.py`). `perm` narrows them to those who may act on what the
message is about (a digest's queue, an answer to give). `ADMIN_EMAILS` (settings.ADMINS) are the
operators of the install: they get operational mail (a run failed, an endpoint is down) when asked with
`operators=True`, never buyers' data, since they need not work for the shop."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from backoffice.models import ReverbAccount


def people_of(account: ReverbAccount | None, *, perm: str | None = None) -> list[Any]:
    """Active users with an email who work for `account` (members and superusers), each once, by pk.
    `account=None` (what belongs to no shop) is superusers only. With `perm`, only those who hold it."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    works_for = Q(is_superuser=True)
    if account is not None:
        works_for |= Q(reverb_accounts=account)
    users = users.filter(works_for).distinct().order_by("pk")
    return [u for u in users if perm is None or u.has_perm(perm)]


def emails_of(
    account: ReverbAccount | None, *, perm: str | None = None, operators: bool = False
) -> list[str]:
    """The email addresses of `people_of(account, perm=perm)`, plus ADMIN_EMAILS when `operators` (for
    operational mail only: no buyer's data may be in it). Sorted, each once."""
    found = {user.email for user in people_of(account, perm=perm)}
    if operators:
        found |= {email for _, email in settings.ADMINS}
    return sorted(found)
