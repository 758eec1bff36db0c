"""Staff see only their shops (issue 16): THE one place that limits what a user sees to their accounts.

A user works for the Reverb accounts they are a member of (`ReverbAccount.members`, managed by superusers
in the account admin); a superuser works for every account. `for_user(queryset, user)` limits any
queryset whose model belongs to an account: the account itself, a model with an `account` foreign key,
or a model one foreign key away from one (a sync log entry's run, a job item's job, a finding's report).
Every admin's get_queryset (backoffice/admin/base.py), every custom page and view, every export and
count goes through it; a model it cannot place is shown to superusers only.

For a member the filter is a list of account ids (`account_id IN (1, 2)`), read once per user object (a
request's user) and cached on it: a subquery (`account_id IN (SELECT ... members ...)`) hides the shop from
PostgreSQL's planner, which then filters whole tables instead of walking the (account, ...) indexes."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.signals import m2m_changed

from backoffice.models import ReverbAccount

QS = TypeVar("QS", bound=QuerySet[Any])


def sees_every_account(user: Any) -> bool:
    return bool(user and user.is_active and user.is_superuser)


def accounts_of(user: Any) -> QuerySet[ReverbAccount]:
    """The accounts `user` works for (all of them for a superuser, none for an anonymous one)."""
    if sees_every_account(user):
        return ReverbAccount.objects.all()
    if not user or not user.is_authenticated or not user.is_active:
        return ReverbAccount.objects.none()
    return ReverbAccount.objects.filter(members=user)


_CACHE = "_shop_ids"
_generation = 0  # bumped whenever a shop's members change: every user's cached ids are then read again


def account_ids_of(user: Any) -> list[int]:
    """The pks of the accounts a (non-superuser) `user` works for, read once per user object."""
    if not user or not user.is_authenticated or not user.is_active:
        return []
    cached = getattr(user, _CACHE, None)
    if cached is not None and cached[0] == _generation:
        return cached[1]
    ids = sorted(ReverbAccount.objects.filter(members=user).values_list("pk", flat=True))
    setattr(user, _CACHE, (_generation, ids))
    return ids


def _members_changed(**kwargs: Any) -> None:
    global _generation
    if kwargs.get("action") in ("post_add", "post_remove", "post_clear"):
        _generation += 1


m2m_changed.connect(_members_changed, sender=ReverbAccount.members.through, dispatch_uid="access-members")


def account_path(model: type[models.Model]) -> str | None:
    """The lookup from `model` to its ReverbAccount ("pk" for the account itself), or None."""
    if issubclass(model, ReverbAccount):
        return "pk"
    hops: list[str] = []
    for field in model._meta.concrete_fields:
        target = getattr(field, "related_model", None)
        if not isinstance(field, models.ForeignKey) or target is None:
            continue
        if issubclass(target, ReverbAccount):
            return field.name
        hops.append(field.name)
    for name in hops:
        target = model._meta.get_field(name).related_model
        for field in target._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and issubclass(field.related_model, ReverbAccount):
                return f"{name}__{field.name}"
    return None


def for_user(queryset: QS, user: Any) -> QS:
    """`queryset` limited to the rows of `user`'s accounts (unchanged for a superuser)."""
    if sees_every_account(user):
        return queryset
    path = account_path(queryset.model)
    if path is None:
        return queryset.none()
    mine = Q(**{f"{path}__in": account_ids_of(user)})
    if path != "pk" and _nullable(queryset.model, path):
        mine |= Q(**{f"{path}__isnull": True})  # a row of no shop (a job over no account) is no shop's secret
    scoped = queryset.filter(mine)
    if not queryset.query.where:  # remember where the scope ends: a changelist can estimate its count
        scoped.query.scope_conditions = len(scoped.query.where.children)  # type: ignore[attr-defined]
    return scoped


def only_scoped(queryset: QuerySet[Any]) -> bool:
    """Whether `queryset` is a whole table limited to a user's shops and nothing else (no filter added
    after for_user): a changelist may then estimate its count as it does for a superuser's."""
    marked = getattr(queryset.query, "scope_conditions", None)
    return marked is not None and len(queryset.query.where.children) == marked


def _nullable(model: type[models.Model], path: str) -> bool:
    for name in path.split("__"):
        field = model._meta.get_field(name)
        if field.null:
            return True
        model = field.related_model
    return False


def may_use(user: Any, account: ReverbAccount | int | None) -> bool:
    """Whether `user` works for `account` (an instance or a pk)."""
    if sees_every_account(user):
        return True
    pk = getattr(account, "pk", account)
    try:
        return pk is not None and int(pk) in account_ids_of(user)
    except (TypeError, ValueError):
        return False


def limit_account_choices(form: Any, user: Any) -> Any:
    """Limit every account choice of `form` (a ModelChoiceField over ReverbAccount) to `user`'s accounts,
    keeping the field's own filter (e.g. enabled only). Returns the form."""
    if sees_every_account(user):
        return form
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        if queryset is not None and issubclass(queryset.model, ReverbAccount):
            field.queryset = queryset.filter(pk__in=account_ids_of(user))
    return form
