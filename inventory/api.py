"""The HTTP API for the shop's other systems (Django REST framework; schema by drf-spectacular).

Authentication: `Authorization: Bearer rbo_<key id>_<secret>` (or `X-Api-Key: ...`), one key per
integration, scoped to one Reverb account, revocable in the admin. Never a staff password or session.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from listings.models import Listing
from orders.models import Order

from . import services
from .auth import IntegrationKeyAuthentication, IsIntegration
from .models import IdempotentRequest, Integration, IntegrationCall, Source

MAX_ROWS = 1000


class IntegrationView(APIView):
    authentication_classes = [IntegrationKeyAuthentication]
    permission_classes = [IsIntegration]

    def integration(self) -> Integration:
        return self.request.auth

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        integration = getattr(request, "_stock_integration", None) or (
            request.auth if isinstance(getattr(request, "auth", None), Integration) else None
        )
        if integration is not None:
            record_call(integration, request, response.status_code, response.data)
        return response


def record_call(integration: Integration, request: Any, status_code: int, data: Any) -> None:
    counts = data if isinstance(data, dict) else {}
    error = ""
    if status_code >= 400:
        error = str(counts.get("detail", data))[:2000]
    elif counts.get("refused"):
        refused = [r for r in counts.get("rows", []) if r.get("status") == "refused"]
        error = "; ".join(f"{r['sku']}: {r['error']}" for r in refused[:10])
    IntegrationCall.objects.create(
        integration=integration,
        method=request.method,
        path=request.path[:200],
        status_code=status_code,
        rows=len(counts.get("rows", [])),
        accepted=counts.get("accepted", 0) or 0,
        refused=counts.get("refused", 0) or 0,
        error=error,
    )


# ---- PUT /api/v1/stock/ ----------------------------------------------------------------------------


class StockRowSerializer(serializers.Serializer):
    sku = serializers.CharField(help_text="The shop's SKU (translated through the account's SKU mappings).")
    quantity = serializers.IntegerField(min_value=0, max_value=services.MAX_QUANTITY)
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send the quantity to Reverb even if it seems to be there already (a repair).",
    )


class StockBatchSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.DictField(), max_length=MAX_ROWS)


StockAnswer = inline_serializer(
    "StockAnswer",
    {
        "accepted": serializers.IntegerField(),
        "refused": serializers.IntegerField(),
        "queued": serializers.IntegerField(),
        "rows": serializers.ListField(
            child=inline_serializer(
                "StockRowAnswer",
                {
                    "sku": serializers.CharField(),
                    "status": serializers.ChoiceField(["accepted", "refused"]),
                    "quantity": serializers.IntegerField(required=False),
                    "listing_id": serializers.CharField(required=False),
                    "reverb_sku": serializers.CharField(required=False),
                    "queued": serializers.BooleanField(required=False),
                    "error": serializers.CharField(required=False),
                },
            )
        ),
    },
)


def _body_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class StockView(IntegrationView):
    @extend_schema(
        operation_id="stock_set",
        summary="Set stock levels by SKU (up to 1,000 rows)",
        description=(
            "Answers at once with what was accepted and what was refused per row (unknown SKU, bad "
            "quantity); accepted changes are sent to Reverb in the background, quantity 0 first. "
            "Send an `Idempotency-Key` header: a replay of the same key returns the first answer and "
            "changes nothing."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        request=StockBatchSerializer,
        responses={200: StockAnswer},
    )
    def put(self, request: Request) -> Response:
        integration = self.integration()
        key = request.headers.get("Idempotency-Key", "").strip()[:255]
        data = request.data
        rows = data if isinstance(data, list) else data.get("items") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            return Response({"detail": 'Send {"items": [{"sku": ..., "quantity": ...}, ...]}.'}, status=400)
        if len(rows) > MAX_ROWS:
            return Response({"detail": f"At most {MAX_ROWS} rows per call; this one had {len(rows)}."}, 400)
        digest = _body_hash(rows)
        if key:
            first = IdempotentRequest.objects.filter(integration=integration, key=key).first()
            if first is not None:
                return self._replay(first, digest)
        result = services.set_stock(
            integration.account,
            [r if isinstance(r, dict) else {} for r in rows],
            source=Source.API,
            detail=integration.name,
        )
        answer = {
            "accepted": result.accepted,
            "refused": result.refused,
            "queued": result.queued,
            "rows": [r.as_dict() for r in result.rows],
        }
        if key:
            try:
                with transaction.atomic():
                    IdempotentRequest.objects.create(
                        integration=integration, key=key, body_hash=digest, status_code=200, response=answer
                    )
            except IntegrityError:  # the same key raced in: its answer is the first one
                return self._replay(IdempotentRequest.objects.get(integration=integration, key=key), digest)
        if result.queued:
            services.request_drain(integration.account_id)
        return Response(answer, status=200)

    @staticmethod
    def _replay(first: IdempotentRequest, digest: str) -> Response:
        if first.body_hash != digest:
            return Response(
                {"detail": "This Idempotency-Key was used with another body; use a new key for a new batch."},
                status=status.HTTP_409_CONFLICT,
            )
        response = Response(first.response, status=first.status_code)
        response["Idempotent-Replayed"] = "true"
        return response


# ---- read API --------------------------------------------------------------------------------------


class SincePagination(pagination.CursorPagination):
    ordering = ("last_synced_at", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class ListingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Listing
        fields = [
            "reverb_id",
            "sku",
            "title",
            "make",
            "model",
            "state",
            "inventory",
            "price",
            "currency",
            "web_url",
            "last_synced_at",
            "missing",
        ]


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = [
            "order_number",
            "status",
            "sku",
            "title",
            "quantity",
            "product_id",
            "buyer_name",
            "currency",
            "paid_at",
            "shipped_at",
            "shipping_provider",
            "tracking_code",
            "web_url",
            "last_synced_at",
        ]


SINCE = OpenApiParameter(
    "since",
    datetime,
    OpenApiParameter.QUERY,
    required=False,
    description="Only objects that changed in the mirror at or after this time (ISO 8601).",
)


class ChangedSinceView(IntegrationView, ListAPIView):
    pagination_class = SincePagination
    model: type = Listing

    def get_queryset(self) -> Any:
        rows = self.model.objects.filter(account=self.integration().account)
        since = self.request.query_params.get("since")
        if since:
            when = parse_datetime(since.replace(" ", "+"))
            if when is None:
                raise exceptions.ValidationError(
                    {"since": "Use an ISO 8601 time, e.g. 2026-11-30T12:00:00Z."}
                )
            if timezone.is_naive(when):
                when = timezone.make_aware(when, UTC)
            rows = rows.filter(last_synced_at__gte=when)
        return rows


@extend_schema(parameters=[SINCE], summary="Listings changed since a time")
class ListingsView(ChangedSinceView):
    serializer_class = ListingSerializer
    model = Listing


@extend_schema(parameters=[SINCE], summary="Orders changed since a time")
class OrdersView(ChangedSinceView):
    serializer_class = OrderSerializer
    model = Order
