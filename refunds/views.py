"""Refund pages (wired in RefundRequestAdmin.get_urls): the queue of active requests, the response page,
and a seller-initiated refund from an order."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from backoffice.actions import Refused
from backoffice.pages import page, require
from backoffice.reverb.errors import ReverbError
from orders.models import Order

from .forms import RespondForm, SellerRefundForm
from .models import RefundRequest
from .services import (
    FREE_SELLER_REFUNDS_PER_MONTH,
    TRANSITIONS,
    refundable_amount,
    request_refund,
    respond_to_refund,
    seller_refunds_this_month,
)

ACTIVE = ("pending_seller_response", "conditionally_approved")


def _error(exc: ReverbError) -> str:
    errors = exc.field_errors()
    detail = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in errors.items())
    return f"Reverb refused: {exc}" + (f" ({detail})" if detail else "")


def queue(request: HttpRequest) -> HttpResponse:
    require(request, "refunds.view_refundrequest")
    rows = (
        RefundRequest.objects.filter(state__in=ACTIVE, missing=False)
        .select_related("order", "account")
        .order_by(F("answer_by").asc(nulls_last=True), "remote_created_at", "id")
    )
    return page(
        request,
        "refunds/queue.html",
        "Refund requests awaiting you",
        RefundRequest._meta,
        rows=[(r, refundable_amount(r.order, r)) for r in rows],
        can_respond=request.user.has_perm("refunds.respond_refund"),
    )


def respond(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "refunds.respond_refund")
    refund = get_object_or_404(RefundRequest.objects.select_related("order", "account"), pk=pk)
    allowed = TRANSITIONS.get(refund.state, ())
    form = RespondForm(request.POST or None, allowed=allowed, initial={"amount": refund.amount})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        amount = None if data["state"] == "denied" else data["amount"]
        try:
            respond_to_refund(
                refund,
                actor=request.user,
                state=data["state"],
                amount=amount,
                note_to_buyer=data["note_to_buyer"],
            )
        except Refused as exc:
            form.add_error(None, exc.reason)
        except ReverbError as exc:
            form.add_error(None, _error(exc))
        else:
            messages.success(request, f"Refund request {refund.reverb_id}: {refund.state.replace('_', ' ')}.")
            return redirect(reverse("admin:refunds_refundrequest_queue"))
    return page(
        request,
        "refunds/respond.html",
        f"Refund request {refund.reverb_id}",
        RefundRequest._meta,
        refund=refund,
        order=refund.order,
        form=form,
        refundable=refundable_amount(refund.order, refund),
        allowed=allowed,
    )


def new_for_order(request: HttpRequest, order_pk: int) -> HttpResponse:
    require(request, "refunds.request_refund")
    order = get_object_or_404(Order.objects.select_related("account"), pk=order_pk)
    refundable = refundable_amount(order)
    used = seller_refunds_this_month(order.account)
    form = SellerRefundForm(request.POST or None, initial={"amount": refundable})
    if request.method == "POST" and form.is_valid():
        try:
            request_refund(
                order,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                amount=form.cleaned_data["amount"],
            )
        except Refused as exc:
            form.add_error(None, exc.reason)
        except ReverbError as exc:
            form.add_error(None, _error(exc))
        else:
            messages.success(request, f"Refund sent for order {order.order_number}.")
            return redirect(reverse("admin:orders_order_change", args=[order.pk]))
    return page(
        request,
        "refunds/new_for_order.html",
        f"Refund order {order.order_number}",
        RefundRequest._meta,
        order=order,
        form=form,
        refundable=refundable,
        used=used,
        free=FREE_SELLER_REFUNDS_PER_MONTH,
        over=used >= FREE_SELLER_REFUNDS_PER_MONTH,
        currency=order.account.currency,
    )
