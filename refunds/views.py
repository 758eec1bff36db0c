"""Refund pages (wired in RefundRequestAdmin.get_urls): the queue of active requests, the response page,
and a seller-initiated refund from an order."""

from __future__ import annotations

from functools import partial

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from backoffice.access import for_user
from backoffice.actions import confirmed
from backoffice.pages.render import page, require
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


def queue(request: HttpRequest) -> HttpResponse:
    require(request, "refunds.view_refundrequest")
    rows = (
        for_user(RefundRequest.objects.filter(state__in=ACTIVE, missing=False), request.user)
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
    refund = get_object_or_404(
        for_user(RefundRequest.objects.select_related("order", "account"), request.user), pk=pk
    )
    allowed = TRANSITIONS.get(refund.state, ())
    form = RespondForm(request.POST or None, allowed=allowed, initial={"amount": refund.amount})
    done = confirmed(
        request,
        form,
        partial(respond_to_refund, refund, actor=request.user),
        lambda r: f"Refund request {r.reverb_id}: {r.state.replace('_', ' ')}.",
        then=reverse("admin:refunds_refundrequest_queue"),
        on_failure="form",
    )
    return done or page(
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
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=order_pk)
    refundable = refundable_amount(order)
    used = seller_refunds_this_month(order.account)
    form = SellerRefundForm(request.POST or None, initial={"amount": refundable})
    done = confirmed(
        request,
        form,
        partial(request_refund, order, actor=request.user),
        f"Refund sent for order {order.order_number}.",
        then=reverse("admin:orders_order_change", args=[order.pk]),
        on_failure="form",
        once_for="refunds.request",
    )
    return done or page(
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
