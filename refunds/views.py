"""Refund pages (wired in RefundRequestAdmin.get_urls): the queue of active requests, the response page,
and a seller-initiated refund from an order."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from backoffice import confirm
from backoffice.access import for_user
from backoffice.actions import confirmed
from backoffice.pages.paging import pager
from backoffice.pages.render import page, require
from orders.models import Order

from .forms import RespondForm, SellerRefundForm
from .models import RefundRequest, awaiting_shop
from .services import (
    FREE_SELLER_REFUNDS_PER_MONTH,
    REASONS,
    RESPONSE_LABELS,
    SELLER_STATES,
    TRANSITIONS,
    reasons_for,
    refundable_amount,
    request_refund,
    respond_to_refund,
    seller_refunds_this_month,
    states_for,
)


def queue(request: HttpRequest) -> HttpResponse:
    """The active refund requests, the first to answer first, 100 a page (?p=). Queries, whatever the shop's
    size: a count and the page's rows with their orders and shops (both on the refund_answer_by index)."""
    require(request, "refunds.view_refundrequest")
    awaiting = for_user(awaiting_shop(), request.user)
    pages = pager(request, awaiting.count())
    rows = awaiting.select_related("order", "account").order_by(
        F("answer_by").asc(nulls_last=True), "remote_created_at", "id"
    )[pages.offset : pages.offset + pages.size]
    return page(
        request,
        "refunds/queue.html",
        "Refund requests awaiting you",
        RefundRequest._meta,
        rows=[(r, refundable_amount(r.order, r)) for r in rows],
        pager=pages,
        can_respond=request.user.has_perm("refunds.respond_refund"),
    )


def respond(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "refunds.respond_refund")
    refund = get_object_or_404(
        for_user(RefundRequest.objects.select_related("order", "account"), request.user), pk=pk
    )
    allowed = TRANSITIONS.get(refund.state, ())
    currency = refund.currency or refund.account.currency
    refundable = refundable_amount(refund.order, refund)
    form = RespondForm(
        allowed=allowed,
        refundable=refundable,
        currency=currency,
        **confirm.form_args(request, {"amount": refund.amount}),
    )
    if confirm.awaits(request, form):
        data = form.cleaned_data
        denied = data["state"] == "denied"
        amount = _amount_text(data["amount"], currency)
        return confirm.page(
            request,
            f"Confirm: {RESPONSE_LABELS[data['state']].lower()} refund request {refund.reverb_id}",
            [
                ("Response", RESPONSE_LABELS[data["state"]]),
                ("Amount refunded to the buyer", "nothing (a denial)" if denied else amount),
                ("Requested by the buyer", f"{refund.amount} {currency}"),
                *_order_lines(refund.order, data["amount"], refundable, currency),
                ("Note to the buyer", data["note_to_buyer"] or "(none)"),
                ("Stock", _restock_line(refund, data["restock"])),
            ],
            button="Yes, deny the refund" if denied else f"Yes, refund {amount}",
            cancel=reverse("admin:refunds_refundrequest_respond", args=[refund.pk]),
            form=form,
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
        once_for="refunds.respond",
    )
    return done or page(
        request,
        "refunds/respond.html",
        f"Refund request {refund.reverb_id}",
        RefundRequest._meta,
        refund=refund,
        order=refund.order,
        form=form,
        refundable=refundable,
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
    currency = order.account.currency
    # Never pre-filled: the amount is typed (or "Full refund" ticked), then repeated on the confirmation.
    form = SellerRefundForm(
        refundable=refundable,
        currency=currency,
        reasons=reasons_for(order),
        states=states_for(order),
        **confirm.form_args(request),
    )
    if confirm.awaits(request, form):
        data = form.cleaned_data
        amount = _amount_text(data["amount"], currency)
        later = data["state"] == "conditionally_approved"
        return confirm.page(
            request,
            f"Confirm: refund order {order.order_number}",
            [
                ("Amount refunded to the buyer", amount),
                *_order_lines(order, data["amount"], refundable, currency),
                ("Reason", dict(REASONS).get(data["reason"], data["reason"])),
                ("When", SELLER_STATES[data["state"]]),
            ],
            button=f"Yes, refund {amount}" + (" once the item is back" if later else ""),
            cancel=reverse("admin:refunds_refundrequest_new_for_order", args=[order.pk]),
            form=form,
            opts=RefundRequest._meta,
            notes=["Beyond the free seller-initiated refunds this month: Reverb charges fees."]
            if used >= FREE_SELLER_REFUNDS_PER_MONTH
            else [],
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
        currency=currency,
    )


def _amount_text(amount: Decimal | None, currency: str) -> str:
    return f"{amount} {currency}" if amount is not None else "everything still refundable (unknown here)"


def _order_lines(
    order: Order | None, amount: Decimal | None, refundable: Decimal | None, currency: str
) -> list[tuple[str, str]]:
    """The order, its total, what is left to refund and what this refund is of it, in percent."""
    if order is None:
        return [("Order", "not in the back office yet")]
    total = order.amount_total
    share = (
        f" ({(amount * 100 / total).quantize(Decimal('0.1'))} % of the order total)"
        if amount and total
        else ""
    )
    left = f"{refundable} {currency}" if refundable is not None else "unknown"
    return [
        ("Order", f"{order.order_number}: {order.title}, {order.buyer_name}"),
        ("Order total", f"{total} {order.currency}{share}"),
        ("Left to refund before this one", left),
    ]
