"""Single-use form tokens and one-at-a-time claims (issue 16 item 5), on OnceKey rows.

A form that creates or sends carries `{{ once_token }}` (a hidden field named FIELD); its view calls
`spend(request)` before acting: the first POST of that form proceeds, a second one (a double click, a
re-sent page) is told so and does nothing. If the action fails, `release` gives the token back so the
corrected form can be sent again. `claim(key)` holds a key (e.g. "create one SKU on one account") while
the work runs, so two concurrent requests for the same thing cannot both do it.

A token carries the time it was made: one older than TOKEN_LIFETIME is refused (a page left open for
weeks, or sent again after its key was cleaned up), so spent keys can be deleted after that time
(backoffice/background/retention.py) without a very old page ever going through twice."""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from backoffice.models import OnceKey

FIELD = "once_token"
ALREADY_SENT = "This form was already sent: nothing was sent again."
TOO_OLD = "This page is more than a week old: nothing was sent. Reload it and send the form again."
TOKEN_LIFETIME = datetime.timedelta(days=7)
# A claim older than this is a crashed request's leftover, taken over by the next one.
STALE_CLAIM = datetime.timedelta(minutes=10)


class AlreadyClaimed(Exception):
    """Someone else holds the key (another request is doing the same thing)."""


def new_token() -> str:
    return f"{int(time.time()):x}.{secrets.token_urlsafe(24)}"


def made_at(token: str) -> float | None:
    """When a token of ours was made (unix seconds); None for a token without a readable time."""
    stamp, dot, _ = token.partition(".")
    try:
        return float(int(stamp, 16)) if dot else None
    except ValueError:
        return None


def too_old(request: HttpRequest) -> bool:
    made = made_at(str(request.POST.get(FIELD) or ""))
    return made is not None and time.time() - made > TOKEN_LIFETIME.total_seconds()


def refusal(request: HttpRequest) -> str:
    """What to tell the person whose token `spend` refused."""
    return TOO_OLD if too_old(request) else ALREADY_SENT


def _take(key: str) -> bool:
    try:
        with transaction.atomic():
            OnceKey.objects.create(key=key)
    except IntegrityError:
        return False
    return True


def spend(request: HttpRequest, purpose: str) -> tuple[bool, str]:
    """Spend the POSTed form token: (True, key) the first time, (False, key) when it was spent already or
        is missing or too old (a form without a token is refused the same way: it cannot prove it was not sent
    before); `refusal(request)` says which."""
    token = str(request.POST.get(FIELD) or "")
    key = f"form:{purpose}:{token}"
    return (bool(token) and not too_old(request) and _take(key)), key


def first_time(key: str) -> bool:
    """True the first time `key` is taken, False ever after (e.g. one restock per refund request)."""
    return _take(f"first:{key}")


def forget_first(key: str) -> None:
    """Undo `first_time(key)` (what it guarded did not happen after all)."""
    release(f"first:{key}")


def release(key: str) -> None:
    OnceKey.objects.filter(key=key).delete()


def remember(key: str, url: str) -> None:
    """Note where the first submit's result is, for the message a repeated submit gets."""
    OnceKey.objects.filter(key=key).update(result_url=url[:500])


def result_of(key: str) -> str:
    return OnceKey.objects.filter(key=key).values_list("result_url", flat=True).first() or ""


@contextmanager
def claim(key: str) -> Iterator[None]:
    """Hold `key` while the block runs; AlreadyClaimed if another request holds it (and is not stale)."""
    key = f"claim:{key}"
    if not _take(key):
        OnceKey.objects.filter(key=key, created__lt=timezone.now() - STALE_CLAIM).delete()
        if not _take(key):
            raise AlreadyClaimed(key)
    try:
        yield
    finally:
        release(key)
