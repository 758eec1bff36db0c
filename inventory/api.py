"""The HTTP API for the shop's other systems (Django REST framework; schema by drf-spectacular).

Authentication: `Authorization: Bearer rbo_<key id>_<secret>` (or `X-Api-Key: ...`), one key per
integration, scoped to one Reverb account, revocable in the admin. Never a staff password or session.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from listings.models import Listing
from orders import tracking_in
from orders.models import Order

from . import services
from .auth import IntegrationKeyAuthentication, IsIntegration
from .models import MAX_KEY_LENGTH, IdempotentRequest, Integration, IntegrationCall, Source

# An Idempotency-Key's characters: printable ASCII, one rule for the served schema and the check.
KEY_CHARACTERS = re.compile(r"^[ -~]*$")

MAX_ROWS = 1000
log = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "too_large"


def max_body_bytes() -> int:
    """Django's own cap on a body read into memory: above it the body is refused unread (413)."""
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's answer, always shaped {"detail": sentence, "errors": {field: [...]}} (the schema's Error)."""
    response = drf_exception_handler(exc, context)
    if response is not None and not (isinstance(response.data, dict) and "detail" in response.data):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": "The request is not valid; see errors.", "errors": errors}
    return response


class IntegrationView(APIView):
    authentication_classes = [IntegrationKeyAuthentication]
    permission_classes = [IsIntegration]
    parser_classes = [JSONParser]  # JSON only: the schema says so, and nothing else is read
    renderer_classes = [JSONRenderer]

    def integration(self) -> Integration:
        return self.request.auth

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RequestDataTooBig):  # a body without Content-Length, over the cap once read
            exc = PayloadTooLarge(f"The body is larger than {max_body_bytes()} bytes.")
        try:
            return super().handle_exception(exc)
        except Exception:  # unexpected: still a JSON answer, and the call recorded on the integration
            log.exception("inventory API: unexpected error on %s %s", self.request.method, self.request.path)
            return Response(
                {"detail": "Unexpected error; nothing of this call was applied. It is recorded; try again."},
                status=status.HTTP_500_INTERNAL_SERVER_ERROR,
            )

    def idempotency_key(self, request: Request) -> str:
        """The batch's Idempotency-Key ('' when none), checked with the body's announced size before the body
        is read (400 for a bad key, 413 for a body over the cap)."""
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > MAX_KEY_LENGTH or not KEY_CHARACTERS.fullmatch(key):
            refusal = f"The Idempotency-Key must be at most {MAX_KEY_LENGTH} printable ASCII characters."
            raise exceptions.ValidationError({"detail": refusal})
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > max_body_bytes():
            raise PayloadTooLarge(f"The body is {int(length)} bytes; the limit is {max_body_bytes()}.")
        return key

    def answer_once(self, key: str, digest: str, apply: Callable[[], dict[str, Any]]) -> Response:
        """`apply()`'s answer (200), in one transaction with the claim of `key`: a twin with the same key and
        body waits for the claim and replays the first answer; with another body it gets 409; neither applies
        anything. Without a key, `apply()` runs alone (an error part way applies nothing)."""
        integration = self.integration()
        if not key:
            with transaction.atomic():
                answer = apply()
            return Response(answer, status=200)
        for _ in range(3):  # a twin holding the key rolled back: claim it again
            with transaction.atomic():
                try:
                    with transaction.atomic():  # the claim: a twin's insert waits here until this commits
                        claim = IdempotentRequest.objects.create(
                            integration=integration, key=key, body_hash=digest, status_code=200, response={}
                        )
                except IntegrityError:
                    claim = None
                if claim is not None:
                    answer = apply()
                    claim.response = answer
                    claim.save(update_fields=["response"])
                    return Response(answer, status=200)
            first = IdempotentRequest.objects.filter(integration=integration, key=key).first()
            if first is not None:
                return self._replay(first, digest)
        raise exceptions.APIException("The Idempotency-Key could not be claimed; try again.")

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

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        integration = getattr(request, "_stock_integration", None) or (
            request.auth if isinstance(getattr(request, "auth", None), Integration) else None
        )
        if integration is not None:
            try:
                record_call(integration, request, response.status_code, response.data)
            except Exception:  # recording must not turn an answer into a failure
                log.exception("inventory API: could not record a call of %s", integration)
        return response


def record_call(integration: Integration, request: Any, status_code: int, data: Any) -> None:
    counts = data if isinstance(data, dict) else {}
    error = ""
    if status_code >= 400:
        error = str(counts.get("detail", data))
        if counts.get("errors"):
            error += " " + json.dumps(counts["errors"], default=str)
        error = error[:2000]
    elif counts.get("refused"):
        refused = [r for r in counts.get("rows", []) if r.get("status") == "refused"]
        error = "; ".join(f"{row_name(r)}: {r.get('error', '')}" for r in refused[:10])
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


def row_name(row: dict[str, Any]) -> str:
    """What a row of an answer is about: its SKU, order number or bundle."""
    return str(row.get("sku") or row.get("order_number") or row.get("bundle_id") or "?")


ErrorAnswer = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "errors": serializers.DictField(required=False, help_text="Per field (per row: by its index)."),
    },
)
UNAUTHORIZED = OpenApiResponse(ErrorAnswer, "No key, a malformed or unknown key, or a revoked key.")
NOT_ACCEPTABLE = OpenApiResponse(ErrorAnswer, "The Accept header asks for something other than JSON.")
SERVER_ERROR = OpenApiResponse(ErrorAnswer, "Unexpected error (recorded on the integration); try again.")


# ---- PUT /api/v1/stock/ ----------------------------------------------------------------------------


@extend_schema_field({"oneOf": [{"type": "string", "pattern": "^[^\\u0000]*$"}, {"type": "integer"}]})
class SkuField(serializers.Field):
    """The shop's SKU: a string (or a number, read as its digits); no NUL, which no database column holds."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise serializers.ValidationError("Must be a string (or a whole number).")
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError("Must not contain a NUL character.")
        return data


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class QuantityField(serializers.Field):
    """The JSON type only; the value (a whole number 0..MAX_QUANTITY) is checked per row, where a bad one
    is that row's refusal, not the batch's."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, float) and data.is_integer():
            return data
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise serializers.ValidationError("Must be a whole number (or a string of digits).")
        return data


@extend_schema_field({"type": "boolean"})
class StrictBooleanField(serializers.Field):
    """A JSON true or false, nothing else (DRF's BooleanField also takes 1 and "true")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.")
        return data


class StockRowSerializer(serializers.Serializer):
    sku = SkuField(
        required=False,
        help_text="The shop's SKU (through the account's SKU mappings). Missing: the row is refused.",
    )
    quantity = QuantityField(
        required=False,
        help_text=(
            f"A whole number from 0 to {services.MAX_QUANTITY} (a JSON number, or a string of ASCII digits). "
            "Any other value refuses the row (its answer says why), not the batch."
        ),
    )
    force = StrictBooleanField(
        required=False,
        help_text="true: send the quantity to Reverb even if it seems to be there already (a repair).",
    )


class StockBatchSerializer(serializers.Serializer):
    items = serializers.ListField(child=StockRowSerializer(), max_length=MAX_ROWS)


StockRowAnswer = inline_serializer(
    "StockRowAnswer",
    {
        "sku": serializers.CharField(),
        "status": serializers.ChoiceField(["accepted", "refused"]),
        "quantity": serializers.IntegerField(required=False, help_text="Accepted rows."),
        "listing_id": serializers.CharField(required=False, help_text="Accepted rows: Reverb's listing id."),
        "reverb_sku": serializers.CharField(required=False, help_text="Accepted rows."),
        "reverb_quantity": serializers.IntegerField(
            required=False, help_text="Accepted rows: what Reverb gets, the quantity less the stock buffer."
        ),
        "queued": serializers.BooleanField(required=False, help_text="Accepted rows: waits to be sent."),
        "error": serializers.CharField(required=False, help_text="Refused rows: why."),
    },
)
StockAnswer = inline_serializer(
    "StockAnswer",
    {
        "accepted": serializers.IntegerField(),
        "refused": serializers.IntegerField(),
        "queued": serializers.IntegerField(),
        "rows": serializers.ListField(child=StockRowAnswer, help_text="One per row sent, in order."),
    },
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": MAX_KEY_LENGTH, "pattern": KEY_CHARACTERS.pattern},
    OpenApiParameter.HEADER,
    required=False,
    description="One per batch, at most 255 printable ASCII characters; per integration.",
)


def batch_errors(nothing: str) -> dict[int, Any]:
    """The refusals of a batch write (PUT stock, POST shipments): `nothing` says what none of it was."""
    return {
        400: OpenApiResponse(
            ErrorAnswer,
            "Not JSON, no `items` list, more than 1,000 rows, a row of the wrong JSON type, or an "
            "Idempotency-Key over 255 characters.",
        ),
        401: UNAUTHORIZED,
        406: NOT_ACCEPTABLE,
        409: OpenApiResponse(
            ErrorAnswer, f"This Idempotency-Key was used with another body: nothing {nothing}."
        ),
        413: OpenApiResponse(
            ErrorAnswer, f"The body is larger than the limit: nothing read, nothing {nothing}."
        ),
        415: OpenApiResponse(ErrorAnswer, "Not `Content-Type: application/json`."),
        500: SERVER_ERROR,
    }


REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    enum=["true"],
    description="Present on a replay: the answer is the first call's with this key; nothing was applied.",
)


def _body_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def stock_rows(data: Any) -> list[dict[str, Any]]:
    """The rows of a body, checked for their JSON types (400 otherwise); their values are checked per row."""
    rows = data.get("items") if isinstance(data, dict) else None  # (a bare list was never documented)
    if not isinstance(rows, list):
        raise exceptions.ValidationError({"detail": 'Send {"items": [{"sku": ..., "quantity": ...}, ...]}.'})
    if len(rows) > MAX_ROWS:
        raise exceptions.ValidationError(
            {"detail": f"At most {MAX_ROWS} rows per call; this one had {len(rows)}."}
        )
    checked = StockRowSerializer(data=rows, many=True)
    if not checked.is_valid():
        found = checked.errors  # {row index: errors} (a list with an entry per row in older DRF)
        pairs = found.items() if isinstance(found, dict) else enumerate(found)
        errors = {str(n): e for n, e in pairs if e}
        raise exceptions.ValidationError(
            {
                "detail": "Some rows are not objects of the documented types; nothing was applied.",
                "errors": errors,
            }
        )
    return rows


class StockView(IntegrationView):
    @extend_schema(
        operation_id="stock_set",
        summary="Set stock levels by SKU (up to 1,000 rows)",
        description=(
            "Answers at once with what was accepted and what was refused per row (unknown SKU, a SKU "
            "used by several listings, bad quantity); accepted changes are sent to Reverb in the "
            "background, quantity 0 first, less the account's or listing's stock buffer "
            "(`reverb_quantity`). "
            "Send an `Idempotency-Key` header (at most 255 characters, one per batch): the key is claimed "
            "with the batch, so a retry of the same key and body answers the first answer (header "
            "`Idempotent-Replayed: true`) and changes nothing, even when both arrive at once; the same key "
            "with another body is refused (409) and nothing of it is applied. Keys are per integration. "
            "The body is JSON, at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes (2.5 MB by default; 413 above)."
        ),
        parameters=[
            IDEMPOTENCY_KEY,
            REPLAYED,
        ],
        request=StockBatchSerializer,
        responses={
            200: StockAnswer,
            **batch_errors("applied"),
        },
    )
    def put(self, request: Request) -> Response:
        key = self.idempotency_key(request)
        rows = stock_rows(request.data)
        integration = self.integration()
        return self.answer_once(key, _body_hash(rows), lambda: self._apply(integration, rows))

    @staticmethod
    def _apply(integration: Integration, rows: list[Any]) -> dict[str, Any]:
        result = services.set_stock(integration.account, rows, source=Source.API, detail=integration.name)
        if result.queued:  # one drain for the account, queued when this commits (none if rolled back)
            services.request_drain(integration.account_id)
        return {
            "accepted": result.accepted,
            "refused": result.refused,
            "queued": result.queued,
            "rows": [r.as_dict() for r in result.rows],
        }


# ---- POST /api/v1/shipments/ -----------------------------------------------------------------------


@extend_schema_field({"type": "string", "pattern": "^[^\\u0000]*$"})
class TextField(serializers.Field):
    """A JSON string without NUL (which no database column holds); its value is checked per row."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        if "\x00" in data:
            raise serializers.ValidationError("Must not contain a NUL character.")
        return data


class ShipmentRowSerializer(serializers.Serializer):
    order_number = SkuField(required=False, help_text="Reverb's order number (or give `bundle_id`).")
    bundle_id = SkuField(
        required=False,
        help_text="Instead of `order_number`: ships every order of Reverb's bundle (one checkout) with it.",
    )
    carrier = TextField(
        required=False,
        help_text="One of Reverb's provider names (UPS, USPS, Royal Mail, ..., Other), or a name mapped to "
        "one in Orders › Shipping provider mappings (case-insensitive). Unknown: the row is refused.",
    )
    tracking_number = TextField(required=False, help_text="At most 255 characters.")
    ship_date = TextField(
        required=False,
        help_text="Optional date (2026-12-07), kept with the shipment's job item. Reverb's ship call takes "
        "no date: Reverb dates the shipment when it is sent.",
    )


class ShipmentBatchSerializer(serializers.Serializer):
    items = serializers.ListField(child=ShipmentRowSerializer(), max_length=MAX_ROWS)


ShipmentRowAnswer = inline_serializer(
    "ShipmentRowAnswer",
    {
        "order_number": serializers.CharField(required=False, help_text="As sent (rows naming an order)."),
        "bundle_id": serializers.CharField(required=False, help_text="As sent (rows naming a bundle)."),
        "status": serializers.ChoiceField(
            [tracking_in.QUEUED, tracking_in.ALREADY, tracking_in.REFUSED],
            help_text="queued: will be shipped on Reverb by job `job_id` (or already waits in it); "
            "already_shipped: Reverb has this tracking number, nothing is sent; refused: see `error`.",
        ),
        "carrier": serializers.CharField(required=False, help_text="Accepted rows: as sent."),
        "provider": serializers.CharField(required=False, help_text="Accepted rows: Reverb's provider name."),
        "tracking_number": serializers.CharField(required=False, help_text="Accepted rows."),
        "order_numbers": serializers.ListField(
            child=serializers.CharField(), required=False, help_text="Accepted rows: the orders it covers."
        ),
        "job_id": serializers.IntegerField(required=False, help_text="Queued rows: the ship job."),
        "error": serializers.CharField(required=False, help_text="Refused rows: why, and what to do."),
    },
)
ShipmentAnswer = inline_serializer(
    "ShipmentAnswer",
    {
        "accepted": serializers.IntegerField(help_text="queued + already_shipped."),
        "refused": serializers.IntegerField(),
        "queued": serializers.IntegerField(),
        "already_shipped": serializers.IntegerField(),
        "job_id": serializers.IntegerField(
            allow_null=True, help_text="The ship job this batch created (null when it queued nothing new)."
        ),
        "rows": serializers.ListField(child=ShipmentRowAnswer, help_text="One per row sent, in order."),
    },
)


def shipment_rows(data: Any) -> list[dict[str, Any]]:
    """The rows of a body, checked for their JSON types (400 otherwise); their values are checked per row."""
    rows = data.get("items") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise exceptions.ValidationError(
            {"detail": 'Send {"items": [{"order_number": .., "carrier": .., "tracking_number": ..}, ..]}.'}
        )
    if len(rows) > MAX_ROWS:
        raise exceptions.ValidationError(
            {"detail": f"At most {MAX_ROWS} rows per call; this one had {len(rows)}."}
        )
    checked = ShipmentRowSerializer(data=rows, many=True)
    if not checked.is_valid():
        found = checked.errors
        pairs = found.items() if isinstance(found, dict) else enumerate(found)
        raise exceptions.ValidationError(
            {
                "detail": "Some rows are not objects of the documented types; nothing was applied.",
                "errors": {str(n): e for n, e in pairs if e},
            }
        )
    return rows


class ShipmentsView(IntegrationView):
    @extend_schema(
        operation_id="shipments_create",
        summary="Ship orders on Reverb with their tracking numbers (up to 1,000 rows)",
        description=(
            "For shipping tools: each row names an order of this integration's Reverb account "
            "(`order_number`, or `bundle_id` for every order of one checkout), a `carrier` and a "
            "`tracking_number`. The answer comes at once, per row: `queued` (shipped on Reverb in the "
            "background by the ship job `job_id`, at Reverb's pace of about one order every two seconds; "
            "its progress is on the job's page in the admin, and `GET /api/v1/orders/?since=...` shows "
            "`shipped_at` and `tracking_code` once Reverb has it), `already_shipped` (Reverb has this "
            "tracking number: nothing is sent again), or `refused` with the reason: unknown order or bundle "
            "(also an order of another shop), an unknown carrier (neither Reverb's name nor mapped), an "
            "order not paid, for local pickup, or already shipped with another tracking number (Reverb's "
            "API documents no way to change it; correct it on Reverb), a tracking number used on another "
            "order, or one missing. Each order is shipped once, through the same service as the admin's "
            "Ship button, with the buyer notified. The `Idempotency-Key` works as on `PUT /api/v1/stock/`: "
            "claimed with the batch, a retry with the same key and body answers the first answer "
            "(`Idempotent-Replayed: true`) and queues nothing; the same key with another body is refused "
            "(409)."
        ),
        parameters=[
            IDEMPOTENCY_KEY,
            REPLAYED,
        ],
        request=ShipmentBatchSerializer,
        responses={
            200: ShipmentAnswer,
            **batch_errors("queued"),
        },
    )
    def post(self, request: Request) -> Response:
        key = self.idempotency_key(request)
        rows = shipment_rows(request.data)
        integration = self.integration()
        account = integration.account
        lookup = tracking_in.carriers(account, [tracking_in.ShipmentRow.of(r) for r in rows])  # outside

        def apply() -> dict[str, Any]:
            taken = tracking_in.take(account, rows, lookup=lookup, source=f"API: {integration.name}")
            return taken.as_dict()

        return self.answer_once(key, _body_hash({"shipments": rows}), apply)


# ---- read API --------------------------------------------------------------------------------------


class SincePagination(pagination.CursorPagination):
    ordering = ("last_synced_at", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_cursor_message = "This cursor is not one this API gave; follow `next` as given."

    def get_page_size(self, request: Request) -> int:
        """A page_size that is not a whole number 1..max_page_size is refused (DRF would ignore it)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise exceptions.ValidationError(
                {"detail": f"page_size must be a whole number from 1 to {self.max_page_size}."}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


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


def parse_since(text: str) -> datetime:
    """An ISO 8601 time, made aware (UTC when it names no zone); a JSON 400 when it is not one, also when it
    is well formed but impossible (month 13). One out of the range the database holds is clamped."""
    try:
        when = parse_datetime(text.replace(" ", "+"))  # a "+" of the offset arrives as a space when unquoted
    except ValueError:
        when = None
    if when is None:
        raise exceptions.ValidationError(
            {"detail": "since: use an ISO 8601 time, e.g. 2026-11-30T12:00:00Z."}
        )
    if timezone.is_naive(when):
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # a few hours past year 9999 or before year 1 in UTC
        return datetime.max.replace(tzinfo=UTC) if when.year > 1 else datetime.min.replace(tzinfo=UTC)


def read_responses(answer: Any) -> dict[int, Any]:
    return {
        200: answer,
        400: OpenApiResponse(ErrorAnswer, "A since that is not an ISO 8601 time, or a bad page_size."),
        401: UNAUTHORIZED,
        404: OpenApiResponse(ErrorAnswer, "A cursor this API did not give."),
        406: NOT_ACCEPTABLE,
        500: SERVER_ERROR,
    }


class ChangedSinceView(IntegrationView, ListAPIView):
    pagination_class = SincePagination
    model: type = Listing

    def get_queryset(self) -> Any:
        rows = self.model.objects.filter(account=self.integration().account)
        since = self.request.query_params.get("since")
        if since is not None:
            rows = rows.filter(last_synced_at__gte=parse_since(since))
        return rows


@extend_schema(
    parameters=[SINCE],
    summary="Listings changed since a time",
    responses=read_responses(ListingSerializer(many=True)),
)
class ListingsView(ChangedSinceView):
    serializer_class = ListingSerializer
    model = Listing


@extend_schema(
    parameters=[SINCE],
    summary="Orders changed since a time",
    responses=read_responses(OrderSerializer(many=True)),
)
class OrdersView(ChangedSinceView):
    serializer_class = OrderSerializer
    model = Order
