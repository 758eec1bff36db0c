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
from backoffice.pages.render import awaits_confirmation, confirmation, page, posted, require
from orders.models import Order

from .forms import RespondForm, SellerRefundForm
from .models import RefundRequest, awaiting_shop
from .services import (
    FREE_SELLER_REFUNDS_PER_MONTH,
    REASONS,
    RESPONSE_LABELS,
    TRANSITIONS,
    refundable_amount,
    request_refund,
    respond_to_refund,
    seller_refunds_this_month,
)


def queue(request: HttpRequest) -> HttpResponse:
    require(request, "refunds.view_refundrequest")
    rows = (
        for_user(awaiting_shop(), request.user)
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
    form = RespondForm(allowed=allowed, **posted(request, {"amount": refund.amount}))
    if awaits_confirmation(request, form):
        data = form.cleaned_data
        denied = data["state"] == "denied"
        amount = data["amount"] if data["amount"] is not None else refund.amount
        currency = refund.currency or refund.account.currency
        return confirmation(
            request,
            f"Confirm: {RESPONSE_LABELS[data['state']].lower()} refund request {refund.reverb_id}",
            form,
            [
                ("Response", RESPONSE_LABELS[data["state"]]),
                ("Amount refunded to the buyer", "nothing (a denial)" if denied else f"{amount} {currency}"),
                ("Order", f"{refund.order_number} ({refund.order.buyer_name if refund.order else ''})"),
                ("Note to the buyer", data["note_to_buyer"] or "(none)"),
                ("Stock", _restock_line(refund, data["restock"])),
            ],
            cancel=reverse("admin:refunds_refundrequest_respond", args=[refund.pk]),
            button="Yes, deny the refund" if denied else f"Yes, refund {amount} {currency}",
            opts=RefundRequest._meta,
        )
    done = confirmed(
        request,
        form,
        partial(respond_to_refund, refund, actor=request.user),
        lambda r: " ".join(
            filter(None, [f"Refund request {r.reverb_id}: {r.state.replace('_', ' ')}.", r.restock_note])
        ),
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


def _restock_line(refund: RefundRequest, restock: bool) -> str:
    if not restock:
        return "unchanged"
    order = refund.order
    quantity = order.quantity if order is not None and order.quantity else 1
    what = order.sku or order.title if order is not None else "the order's listing"
    return f"put back: +{quantity} for {what}, sent to Reverb with the stock queue"


def new_for_order(request: HttpRequest, order_pk: int) -> HttpResponse:
    require(request, "refunds.request_refund")
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=order_pk)
    refundable = refundable_amount(order)
    used = seller_refunds_this_month(order.account)
    # Never pre-filled: the amount is typed, then repeated on the confirmation page.
    form = SellerRefundForm(**posted(request))
    if awaits_confirmation(request, form):
        data = form.cleaned_data
        return confirmation(
            request,
            f"Confirm: refund order {order.order_number}",
            form,
            [
                ("Amount refunded to the buyer", f"{data['amount']} {order.account.currency}"),
                ("Of the order total", f"{order.amount_total} {order.currency} (refundable: {refundable})"),
                ("Order", f"{order.order_number}: {order.title}, {order.buyer_name}"),
                ("Reason", dict(REASONS).get(data["reason"], data["reason"])),
            ]
            + (
                [("Fees", "Beyond the free seller-initiated refunds this month: Reverb charges fees.")]
                if used >= FREE_SELLER_REFUNDS_PER_MONTH
                else []
            ),
            cancel=reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk]),
            button=f"Yes, refund {data['amount']} {order.account.currency}",
            opts=RefundRequest._meta,
        )
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
