"""Offer inbox and conversation pages (wired in the messaging admins' get_urls)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from automation import replies as saved_replies
from backoffice.actions import Refused
from backoffice.pages import page, require
from backoffice.reverb.errors import ReverbError
from orders.models import Order

from .forms import AcceptForm, CounterForm, ReplyForm
from .models import Conversation, Negotiation
from .services import accept_offer, counter_offer, decline_offer, list_price, mark_read, offer_floor, reply


def _error(exc: ReverbError) -> str:
    errors = exc.field_errors()
    detail = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in errors.items())
    return f"Reverb refused: {exc}" + (f" ({detail})" if detail else "")


def offers_inbox(request: HttpRequest) -> HttpResponse:
    require(request, "messaging.view_negotiation")
    rows = (
        Negotiation.objects.filter(state="active", missing=False)
        .select_related("listing", "account")
        .order_by("-actionable", "expires_at", "id")
    )
    return page(
        request,
        "messaging/offers.html",
        "Offers",
        Negotiation._meta,
        rows=rows,
        can_respond=request.user.has_perm("messaging.respond_offer"),
    )


def offer(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "messaging.view_negotiation")
    negotiation = get_object_or_404(Negotiation.objects.select_related("listing", "account"), pk=pk)
    action = request.POST.get("action", "")
    counter = CounterForm(
        request.POST if action == "counter" else None,
        initial={"shipping_price": negotiation.last_offered_shipping},
    )
    accept = AcceptForm(request.POST if action == "accept" else None)
    if request.method == "POST":
        require(request, "messaging.respond_offer")
        try:
            if action == "accept" and accept.is_valid():
                accept_offer(negotiation, actor=request.user, message=accept.cleaned_data["message"])
                messages.success(request, f"Offer {negotiation.reverb_id} accepted.")
                return redirect(reverse("admin:messaging_negotiation_inbox"))
            if action == "decline":
                decline_offer(negotiation, actor=request.user)
                messages.success(request, f"Offer {negotiation.reverb_id} declined.")
                return redirect(reverse("admin:messaging_negotiation_inbox"))
            if action == "counter" and counter.is_valid():
                data = counter.cleaned_data
                counter_offer(
                    negotiation,
                    actor=request.user,
                    price=data["price"],
                    shipping_price=data["shipping_price"],
                    message=data["message"],
                )
                messages.success(request, f"Counter-offer of {data['price']} sent.")
                return redirect(reverse("admin:messaging_negotiation_inbox"))
        except Refused as exc:
            messages.error(request, exc.reason)
        except ReverbError as exc:
            messages.error(request, _error(exc))
    offers = negotiation.raw.get("offers") or []
    return page(
        request,
        "messaging/offer.html",
        f"Offer from {negotiation.buyer_name}",
        Negotiation._meta,
        n=negotiation,
        offers=offers,
        counter=counter,
        accept=accept,
        list_price=list_price(negotiation),
        floor=offer_floor(negotiation),
        can_respond=request.user.has_perm("messaging.respond_offer"),
    )


def related_order(conversation: Conversation) -> Order | None:
    if not (conversation.other_party_id and conversation.listing_reverb_id):
        return None
    return (
        Order.objects.filter(
            account_id=conversation.account_id,
            buyer_id=conversation.other_party_id,
            product_id=conversation.listing_reverb_id,
        )
        .order_by("-remote_created_at")
        .first()
    )


def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "messaging.view_conversation")
    convo = get_object_or_404(Conversation.objects.select_related("listing", "account"), pk=pk)
    order = related_order(convo)
    saved = saved_replies.for_conversation(convo, order)
    chosen = next((text for r, text in saved if str(r.pk) == request.GET.get("saved_reply")), None)
    form = ReplyForm(
        request.POST if request.POST.get("action") == "reply" else None,
        initial={"body": chosen} if chosen is not None else None,
    )
    if request.method == "POST":
        require(request, "messaging.reply_message")
        action = request.POST.get("action")
        try:
            if action == "reply" and form.is_valid():
                reply(convo, actor=request.user, body=form.cleaned_data["body"])
                messages.success(request, "Reply sent.")
                return redirect(reverse("admin:messaging_conversation_thread", args=[convo.pk]))
            if action in ("read", "unread"):
                mark_read(convo, actor=request.user, read=action == "read")
                messages.success(request, f"Marked {action}.")
                return redirect(reverse("admin:messaging_conversation_thread", args=[convo.pk]))
        except Refused as exc:
            messages.error(request, exc.reason)
        except ReverbError as exc:
            messages.error(request, _error(exc))
    return page(
        request,
        "messaging/conversation.html",
        str(convo),
        Conversation._meta,
        c=convo,
        thread=convo.messages.order_by("sent_at", "id"),
        form=form,
        order=order,
        saved_replies=saved,
        can_reply=request.user.has_perm("messaging.reply_message"),
    )
