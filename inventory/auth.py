"""Integration API keys for DRF: `Authorization: Bearer rbo_<key id>_<secret>` (or `X-Api-Key`).

Kept apart from inventory/api.py: the REST_FRAMEWORK settings name these classes, and DRF imports them
while its own views module is still loading."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .models import KEY_PREFIX, Integration


class IntegrationKeyAuthentication(BaseAuthentication):
    """`request.user` becomes the Integration; `request.auth` too. A revoked key is refused."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Integration, Integration] | None:
        raw = request.headers.get("X-Api-Key", "")
        header = request.headers.get("Authorization", "")
        if not raw and header:
            scheme, _, raw = header.partition(" ")
            if scheme.lower() not in ("bearer", "api-key"):
                return None
        raw = raw.strip()
        if not raw:
            return None
        prefix, _, rest = raw.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != KEY_PREFIX or not key_id or not secret:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        integration = Integration.objects.select_related("account").filter(key_id=key_id).first()
        if integration is None or not integration.matches(secret):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if not integration.active:
            request._request._stock_integration = integration  # the refusal is shown on the integration
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        now = timezone.now()
        if integration.last_used_at is None or (now - integration.last_used_at).total_seconds() > 60:
            Integration.objects.filter(pk=integration.pk).update(last_used_at=now)
        return integration, integration

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    target_class = "inventory.auth.IntegrationKeyAuthentication"
    name = "integrationKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration's API key: rbo_<id>_<secret>.",
        }


class IsIntegration(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Integration)
