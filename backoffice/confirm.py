"""The one confirmation kit (Django's `delete_selected` pattern): whatever moves money, answers a buyer or
cannot be undone shows `page(...)` first (exactly what will be sent, as label/value lines and, for many
items, a table), and acts only on the POST that comes back from it carrying FIELD=yes and the page's
single-use once_token (backoffice/once.py). Form pages validate before the page is shown (`awaits`), so a
bad value is refused on the form itself with the typed values kept; admin actions re-post `action` and
`_selected_action` through `hidden`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backoffice import once

FIELD = "confirmed"
YES = "yes"
BACK = "back"  # the confirmation page's "No, change it": the form again, with what was typed


def given(request: HttpRequest) -> bool:
    """The POST comes from the confirmation page's "yes"."""
    return request.method == "POST" and request.POST.get(FIELD) == YES and not request.POST.get(BACK)


def form_args(request: HttpRequest, initial: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A form's arguments on a page with a confirmation step: bound to the POST, or, when the person went
    back from the confirmation, unbound with what they typed as initial values (nothing is sent)."""
    if request.method == "POST" and request.POST.get(BACK):
        # A hidden checkbox comes back as "True"/"False": the string "False" would tick the box again.
        typed = {k: {"True": True, "False": False}.get(v, v) for k, v in request.POST.dict().items()}
        return {"data": None, "initial": {**(initial or {}), **typed}}
    return {"data": request.POST or None, "initial": dict(initial or {})}


def awaits(request: HttpRequest, form: Any) -> bool:
    """A valid POST not confirmed yet: show the confirmation page. An invalid one shows the form again
    (bound, so the typed values stay) with its errors; nothing is shown that would be refused."""
    return request.method == "POST" and not given(request) and form.is_valid()


def spend(request: HttpRequest, purpose: str) -> tuple[bool, str]:
    """Spend the confirmation's single-use token; on a second send (double click, reload) say so."""
    first, key = once.spend(request, purpose)
    if not first:
        messages.warning(request, once.refusal(request))
    return first, key


def page(
    request: HttpRequest,
    title: str,
    lines: Sequence[tuple[str, Any]],
    *,
    button: str,
    cancel: str,
    form: Any = None,
    hidden: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    opts: Any = None,
    table: Sequence[Sequence[Any]] = (),
    columns: Sequence[str] = (),
    notes: Sequence[str] = (),
    ask: bool = False,
    **extra: Any,
) -> HttpResponse:
    """The page between a decision and Reverb. `lines` (label, value) say exactly what will be sent; a batch
    lists each item as a `table` row under `columns`; `notes` are warnings (what will not be sent, fees).
    An empty `button` shows what would be refused with no "yes" (nothing to send).
    The form's values and `hidden` travel back as hidden fields with FIELD=yes; with `ask` the form is shown
    to be filled on this page instead (a bulk action's parameters, e.g. the reason for ending listings)."""
    pairs = list(hidden.items()) if isinstance(hidden, Mapping) else list(hidden)
    ctx = {
        **admin.site.each_context(request),
        "title": title,
        "opts": opts,
        "form": form,
        "ask": ask,
        "lines": lines,
        "table": table,
        "columns": columns,
        "notes": notes,
        "cancel": cancel,
        "button": button,
        "hidden": pairs,
        "yes_field": FIELD,
        "yes": YES,
        "back_field": BACK,
        **extra,  # what the caller's tests read back from the page's context
    }
    return render(request, "backoffice/confirm.html", ctx)
