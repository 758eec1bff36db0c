"""What the order, refund and messaging services share: the refusal error and the write-back of what
Reverb returned through the sync registry's mapper and `upsert_page` (DESIGN.md section 3, "Push")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from backoffice.audit import audited_call, refused
from backoffice.sync.objects import upsert_objects

if TYPE_CHECKING:
    from backoffice.models import RemoteModel, ReverbAccount
    from backoffice.reverb.client import ReverbClient


class Refused(Exception):
    """An action refused before anything was sent (wrong state, bad input); `already_done` means what
    was asked is already true on Reverb (e.g. shipped with this very tracking number)."""

    def __init__(self, reason: str, *, already_done: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.already_done = already_done


def refuse(
    *,
    account: ReverbAccount,
    actor: Any,
    action: str,
    target: tuple[str, str],
    reason: str,
    summary: Mapping[str, Any] | None = None,
    job: Any = None,
    already_done: bool = False,
) -> Refused:
    """Record the refusal in the audit trail and return the exception to raise."""
    refused(
        account=account, actor=actor, action=action, target=target, reason=reason, summary=summary, job=job
    )
    return Refused(reason, already_done=already_done)


def send(
    *,
    account: ReverbAccount,
    actor: Any,
    action: str,
    target: tuple[str, str],
    call: Callable[[ReverbClient], Any],
    client: ReverbClient | None = None,
    summary: Mapping[str, Any] | None = None,
    refusal: str = "",
    job: Any = None,
) -> tuple[Any, ReverbClient]:
    """The services' one way to act on Reverb: refuse, recorded, when `refusal` says why; otherwise run
    `call` through the audit trail. Returns Reverb's answer and the client used, for the write-back."""
    if refusal:
        raise refuse(
            account=account,
            actor=actor,
            action=action,
            target=target,
            reason=refusal,
            summary=summary,
            job=job,
        )
    client = client or account.client()
    result, _ = audited_call(
        account=account,
        actor=actor,
        action=action,
        target=target,
        summary=summary,
        client=client,
        call=call,
        job=job,
    )
    return result, client


def write_back(
    resource_name: str, account: ReverbAccount, payloads: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Write what Reverb returned through the resource's mapper and the engine's upsert. Returns keys."""
    return upsert_objects(account, resource_name, list(payloads)).keys


def reload(obj: RemoteModel) -> RemoteModel:
    obj.refresh_from_db()
    return obj
