"""Offer inbox and conversation pages (wired in the messaging admins' get_urls)."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from automation import replies as saved_replies
from backoffice import once
from backoffice.access import for_user
from backoffice.actions import confirmed, report
from backoffice.pages.render import awaits_confirmation, confirmation, page, posted, require
from orders.models import Order

from .forms import AcceptForm, CounterForm, ReplyForm
from .models import Conversation, Negotiation
from .services import accept_offer, counter_offer, decline_offer, list_price, mark_read, offer_floor, reply


def offers_inbox(request: HttpRequest) -> HttpResponse:
    require(request, "messaging.view_negotiation")
    rows = (
        for_user(Negotiation.objects.filter(state="active", missing=False), request.user)
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
    negotiation = get_object_or_404(
        for_user(Negotiation.objects.select_related("listing", "account"), request.user), pk=pk
    )
    action = request.POST.get("action", "")
    counter = CounterForm(
        request.POST if action == "counter" else None,
        initial={"shipping_price": negotiation.last_offered_shipping},
    )
    accept = AcceptForm(**posted(request)) if action == "accept" else AcceptForm()
    if request.method == "POST":
        require(request, "messaging.respond_offer")
        inbox = reverse("admin:messaging_negotiation_inbox")
        if action == "accept" and awaits_confirmation(request, accept):
            return accept_confirmation(request, negotiation, accept)
        declined = action == "decline" and report(
            request,
            lambda: decline_offer(negotiation, actor=request.user),
            f"Offer {negotiation.reverb_id} declined.",
        )
        done = confirmed(
            request,
            accept,
            partial(accept_offer, negotiation, actor=request.user),
            f"Offer {negotiation.reverb_id} accepted.",
            then=inbox,
            on_failure="stay",
        ) or confirmed(
            request,
            counter,
            partial(counter_offer, negotiation, actor=request.user),
            lambda _: f"Counter-offer of {counter.cleaned_data['price']} sent.",
            then=inbox,
            on_failure="stay",
            once_for="messaging.counter",
        )
        if declined or done:
            return done or redirect(inbox)
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


def accept_confirmation(request: HttpRequest, n: Negotiation, form: AcceptForm) -> HttpResponse:
    """Accepting sells the item at the offer: say exactly what the buyer will pay."""
    total = n.offered_total
    return confirmation(
        request,
        f"Confirm: accept the offer from {n.buyer_name}",
        form,
        [
            ("Listing", n.listing.title if n.listing else n.listing_reverb_id),
            ("Item", f"{n.last_offered_price} {n.currency}"),
            ("Shipping", f"{n.last_offered_shipping or 0} {n.currency}"),
            ("Total the buyer pays", f"{total} {n.currency}"),
            ("List price", f"{n.listing.price} {n.currency}" if n.listing and n.listing.price else "unknown"),
            ("Message to the buyer", form.cleaned_data["message"] or "(none)"),
        ],
        cancel=reverse("admin:messaging_negotiation_offer", args=[n.pk]),
        button=f"Yes, sell for {total} {n.currency}",
        hidden={"action": "accept"},
        opts=Negotiation._meta,
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
    convo = get_object_or_404(
        for_user(Conversation.objects.select_related("listing", "account"), request.user), pk=pk
    )
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
        done = None
        if action == "reply" and form.is_valid():
            first, key = once.spend(request, "messaging.reply")
            if not first:
                messages.warning(request, once.refusal(request))
                return redirect(reverse("admin:messaging_conversation_thread", args=[convo.pk]))
            done = report(
                request,
                lambda: reply(convo, actor=request.user, body=form.cleaned_data["body"]),
                "Reply sent.",
            )
            if not done:
                once.release(key)
        elif action in ("read", "unread"):
            done = report(
                request,
                lambda: mark_read(convo, actor=request.user, read=action == "read"),
                f"Marked {action}.",
            )
        if done:
            return redirect(reverse("admin:messaging_conversation_thread", args=[convo.pk]))
    elif convo.unread and request.user.has_perm("messaging.reply_message"):
        # Opening the thread reads it: tell Reverb too (a failure is only a message; the page still shows).
        report(request, lambda: mark_read(convo, actor=request.user, read=True), "")
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
