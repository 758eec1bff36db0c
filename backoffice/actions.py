"""The one action kit: how every app changes things on Reverb (DESIGN.md section 3, "Push").

A service builds one `Push` (who acts, on which account and target, as part of which job, with what
summary), asks the verb's `<verb>_refusal(obj)` whether it may act, and then either `push.refuse(...)`
(recorded, nothing sent) or `push.send(call)` (through `audited_call`). What goes wrong comes back as an
`ActionError`: `Refused` when nothing was sent, `ReverbRefused` when Reverb answered with an error or
could not be reached. What Reverb returned is written to the mirror with `write_back`. The pages report
the outcome with `report` (one object), `report_each` (several) or `confirmed` (a form's POST), so every
page words success and failure the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import messages
from django.shortcuts import redirect

from backoffice.audit import Actor as Actor  # who acts; the services name it with the rest of the kit
from backoffice.audit import Audited, audited_call, refused
from backoffice.reverb.errors import ForbiddenError, ReverbError
from backoffice.sync.objects import upsert_objects

if TYPE_CHECKING:
    from django.forms import Form
    from django.http import HttpRequest, HttpResponse

    from backoffice.models import ApiCall, ReverbAccount
    from backoffice.reverb.client import ReverbClient

T = TypeVar("T")
Obj = TypeVar("Obj")


class ActionError(Exception):
    """An action that did not happen as asked. `message` is for people, `field_errors` maps each form
    field to Reverb's (or our) messages, `call` is the audit row when one was written."""

    refused = False
    already_done = False

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, list[str]] | None = None,
        call: ApiCall | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = dict(field_errors or {})
        self.call = call


class Refused(ActionError):
    """Refused before anything was sent (wrong state, bad input); `already_done` means what was asked is
    already true on Reverb (e.g. shipped with this very tracking number)."""

    refused = True

    def __init__(
        self,
        message: str,
        *,
        already_done: bool = False,
        field_errors: Mapping[str, list[str]] | None = None,
        call: ApiCall | None = None,
    ) -> None:
        super().__init__(message, field_errors=field_errors, call=call)
        self.already_done = already_done


class ReverbRefused(ActionError):
    """Reverb answered with an error, or could not be reached; `error` is the client's ReverbError."""

    def __init__(self, error: ReverbError, message: str = "", *, call: ApiCall | None = None) -> None:
        super().__init__(message or reverb_refusal_text(error), field_errors=error.field_errors(), call=call)
        self.error = error


def reverb_refusal_text(error: ReverbError) -> str:
    """The one wording of a Reverb error for people. `str(error)` already lists each field error once."""
    return f"Reverb refused: {error}"


@dataclass
class Done:
    """What an action did: the message for people, the object as the mirror now has it, the audit row,
    Reverb's warnings, and per-item results of a many-item call (sales)."""

    message: str
    obj: Any = None
    call: ApiCall | None = None
    warnings: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join([self.message, *self.warnings])


@dataclass
class Push(Audited):
    """One change sent to Reverb and everything its audit row records (`Audited`): refused or sent."""

    def refuse(
        self,
        reason: str,
        *,
        already_done: bool = False,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> Refused:
        """Record the refusal in the audit trail and return the exception to raise."""
        return Refused(
            reason, already_done=already_done, field_errors=field_errors, call=refused(self, reason)
        )

    def send(self, call: Callable[[ReverbClient], T], *, refusal: str = "", forbidden: str = "") -> T:
        """Refuse, recorded, when `refusal` says why; otherwise run `call` through the audit trail.
        A Reverb error comes back as ReverbRefused (worded `forbidden` for a 403, when given)."""
        if refusal:
            raise self.refuse(refusal)
        try:
            return audited_call(self, call)
        except ForbiddenError as exc:
            raise ReverbRefused(exc, forbidden, call=self.call) from exc
        except ReverbError as exc:
            raise ReverbRefused(exc, call=self.call) from exc


def write_back(
    resource_name: str, account: ReverbAccount, payloads: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Write what Reverb returned through the resource's mapper and the engine's upsert. Returns keys."""
    return upsert_objects(account, resource_name, list(payloads)).keys


# ---- the views' side ------------------------------------------------------------------------------------


def report(
    request: HttpRequest,
    act: Callable[[], T],
    success: str | Callable[[T], str] = "",
    *,
    label: str = "",
    form: Form | None = None,
    refused_level: int = messages.ERROR,
) -> T | None:
    """Run one confirmed action and tell the user how it went: `success` (or the Done's text) as a success
    message; a failure as a message (prefixed with `label`, e.g. the object) or on `form`'s non-field
    errors. Returns what the action returned, or None when it did not happen."""
    try:
        result = act()
    except ActionError as exc:
        text = f"{label}: {exc.message}" if label else exc.message
        if form is not None:
            form.add_error(None, text)
        else:
            level = messages.INFO if exc.already_done else refused_level if exc.refused else messages.ERROR
            messages.add_message(request, level, text)
        return None
    text = success(result) if callable(success) else success or getattr(result, "text", "")
    if text:
        messages.success(request, text)
    return result


def report_each(
    request: HttpRequest,
    objects: Iterable[Obj],
    act: Callable[[Obj], Any],
    success: Callable[[Obj, Any], str] | None = None,
    *,
    label: Callable[[Obj], str] = str,
) -> int:
    """`report` for each object in turn, one message each; in a batch a refusal is a warning (the others
    still go). Returns how many succeeded."""
    done = 0
    for obj in objects:
        result = report(
            request,
            partial(act, obj),
            partial(success, obj) if success else "",
            label=label(obj),
            refused_level=messages.WARNING,
        )
        done += result is not None
    return done


def confirmed(
    request: HttpRequest,
    form: Form,
    act: Callable[..., T],
    success: str | Callable[[T], str],
    *,
    then: str,
    on_failure: str = "redirect",
    once_for: str = "",
) -> HttpResponse | None:
    """The POST of an action page: when `form` is bound and valid, call `act(**form.cleaned_data)` (an
    action form's fields are named as the service's keyword arguments) and `report` the outcome, then
    redirect to `then`. On failure: "redirect" anyway (the message says why),
    "stay" on the page, or "form" to stay with the reason on the form. None means: show the page."""
    if request.method != "POST" or not form.is_valid():
        return None
    key = ""
    if once_for:  # a form that sends something Reverb does not dedupe: its single-use token is spent first
        from backoffice import confirm, once

        first, key = confirm.spend(request, once_for)
        if not first:
            return redirect(then)
    result = report(
        request, partial(act, **form.cleaned_data), success, form=form if on_failure == "form" else None
    )
    if result is None and key:
        once.release(key)  # nothing was sent: the corrected form may be sent again
    if result is None and on_failure != "redirect":
        return None
    return redirect(then)
