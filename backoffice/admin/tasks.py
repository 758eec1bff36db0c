"""django-q2's task pages (done, failed, queued), scoped: a task row names no shop, yet its arguments and
result may name any ("Zanzibar Music: 3 pulled"). As backoffice/access.py does with every row it cannot
place, only superusers see them; Managers keep the schedules (backoffice/admin/schedules.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Success

from backoffice.access import for_user


class _ShopScoped:
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return for_user(super().get_queryset(request), request.user)  # type: ignore[misc]


class SuccessAdmin(_ShopScoped, q_admin.TaskAdmin):
    pass


class FailureAdmin(_ShopScoped, q_admin.FailAdmin):
    pass


class QueuedAdmin(_ShopScoped, q_admin.QueueAdmin):
    pass


for _model, _admin in ((Success, SuccessAdmin), (Failure, FailureAdmin), (OrmQ, QueuedAdmin)):
    if admin.site.is_registered(_model):  # OrmQ's page exists with the ORM broker only
        admin.site.unregister(_model)
        admin.site.register(_model, _admin)
