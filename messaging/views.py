"""Offer inbox and conversation pages (wired in the messaging admins' get_urls)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from backoffice import confirm, once
from backoffice.access import for_user
from backoffice.actions import confirmed, report
from backoffice.pages.paging import pager
from backoffice.pages.render import page, require
from orders.models import Order

from . import answers
from .forms import AcceptForm, ConversationOfferForm, CounterForm, DeclineForm, OfferAnswerForm, ReplyForm
from .models import Conversation, Negotiation
from .services import (
    accept_offer,
    conversation_offer_refusal,
    counter_offer,
    decline_offer,
    decline_with_message,
    find_conversation,
    list_price,
    mark_read,
    offer_floor,
    offer_in_conversation,
    offer_to_make,
    reply,
    write_to_buyer,
)
from .slots import saved_replies


def offers_inbox(request: HttpRequest) -> HttpResponse:
    """The active offers, the shop's turn first, the first to expire first, 100 a page (?p=). Queries,
    whatever the shop's size: a count and the page's rows with their listings and shops (both on the
    negotiation_active index)."""
    require(request, "messaging.view_negotiation")
    active = for_user(Negotiation.objects.filter(state="active", missing=False), request.user)
    pages = pager(request, active.count())
    rows = active.select_related("listing", "account").order_by("-actionable", "expires_at", "id")
    return page(
        request,
        "messaging/offers.html",
        "Offers",
        Negotiation._meta,
        rows=rows[pages.offset : pages.offset + pages.size],
        pager=pages,
        can_respond=request.user.has_perm("messaging.respond_offer"),
    )


ANSWER_FORMS: dict[str, type[OfferAnswerForm]] = {
    "counter": CounterForm,
    "accept": AcceptForm,
    "decline": DeclineForm,
}


def offer(request: HttpRequest, pk: int) -> HttpResponse:
    """The offer page: counter, accept or decline (with a message), each through the confirmation page
    (backoffice/confirm.py) that shows what will be sent; a value that would be refused stays on the form."""
    require(request, "messaging.view_negotiation")
    negotiation = get_object_or_404(
        for_user(Negotiation.objects.select_related("listing", "account"), request.user), pk=pk
    )
    action = request.POST.get("action", "")
    initial = {"counter": {"shipping_price": negotiation.last_offered_shipping}}
    forms = {
        name: cls(
            **(
                confirm.form_args(request, initial.get(name))
                if name == action
                else {"initial": initial.get(name)}
            ),
            negotiation=negotiation,
        )
        for name, cls in ANSWER_FORMS.items()
    }
    if request.method == "POST":
        require(request, "messaging.respond_offer")  # any POST, even a malformed one, needs the permission
    if request.method == "POST" and action in forms:
        form = forms[action]
        if confirm.awaits(request, form):
            return answer_confirmation(request, negotiation, action, form)
        if confirm.given(request):
            done = confirmed(
                request,
                form,
                partial(ANSWERS[action], negotiation, actor=request.user),
                partial(_answered, negotiation, action, form),
                then=reverse("admin:messaging_negotiation_inbox"),
                on_failure="form",
                once_for=f"messaging.{action}",
            )
            if done:
                return done
            if not negotiation.is_open:  # the forms are not shown any more: say why nothing was sent
                errors = [e for field in form.errors.values() for e in field]
                messages.error(request, "Nothing was sent: " + " ".join(dict.fromkeys(errors)))
    offers = negotiation.raw.get("offers") or []
    return page(
        request,
        "messaging/offer.html",
        f"Offer from {negotiation.buyer_name}",
        Negotiation._meta,
        n=negotiation,
        offers=offers,
        counter=forms["counter"],
        accept=forms["accept"],
        decline=forms["decline"],
        list_price=list_price(negotiation),
        floor=offer_floor(negotiation),
        floor_text=answers.floor_text(negotiation),
        offered=answers.buyer_offered(negotiation),
        can_respond=request.user.has_perm("messaging.respond_offer"),
    )


def _decline(negotiation: Negotiation, *, actor: Any, message: str = "") -> str:
    """Decline; a message goes to the buyer in their conversation about the listing, else a new one
    (services.decline_with_message: its result says plainly whether the message went)."""
    if not message:
        decline_offer(negotiation, actor=actor)
        return ""
    done = decline_with_message(negotiation, actor=actor, message=message)
    said = done.message.removeprefix(f"Offer {negotiation.reverb_id} declined.")
    return " ".join([said, *done.warnings])


ANSWERS: dict[str, Any] = {"counter": counter_offer, "accept": accept_offer, "decline": _decline}


def _answered(negotiation: Negotiation, action: str, form: OfferAnswerForm, result: Any) -> str:
    if action == "counter":
        amount = answers.money_text(form.cleaned_data["price"], negotiation.currency)
        return f"Counter-offer of {amount} sent."
    text = f"Offer {negotiation.reverb_id} {action}ed."
    return text + result if isinstance(result, str) else text


def answer_confirmation(
    request: HttpRequest, n: Negotiation, action: str, form: OfferAnswerForm
) -> HttpResponse:
    """Exactly what the answer sends: amounts, currency, total, percent of list price, the buyer's offer."""
    data = form.cleaned_data
    message = data.get("message") or ""
    if action == "counter":
        lines = answers.counter_lines(n, data["price"], data.get("shipping_price"), message)
        button = f"Yes, counter at {answers.money_text(data['price'], n.currency)}"
    elif action == "accept":
        lines = answers.accept_lines(n, message)
        button = f"Yes, sell for {answers.money_text(n.offered_total, n.currency)}"
    else:
        lines = answers.decline_lines(n, message)
        button = "Yes, decline the offer" + (" and send the message" if message else "")
    return confirm.page(
        request,
        f"Confirm: {action} the offer from {n.buyer_name}",
        lines,
        button=button,
        cancel=reverse("admin:messaging_negotiation_offer", args=[n.pk]),
        form=form,
        hidden={"action": action},
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
    saved = saved_replies(convo, order)
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
            first, key = confirm.spend(request, "messaging.reply")
            if not first:
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
        can_offer=request.user.has_perm("messaging.respond_offer"),
    )


def conversation_offer(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the buyer an offer from a conversation about a listing (Reverb's conversation offer): checked
    as a counter (above 0, not above the list price, not below the floor) before the confirmation page
    shows it with its percent of the list price and the floor; sent once, on "Yes"."""
    require(request, "messaging.respond_offer")
    convo = get_object_or_404(
        for_user(Conversation.objects.select_related("listing", "account"), request.user), pk=pk
    )
    offer = offer_to_make(convo)
    form = ConversationOfferForm(**confirm.form_args(request), negotiation=offer)
    here = reverse("admin:messaging_conversation_offer", args=[convo.pk])
    buyer = convo.other_party_name or "the buyer"
    if confirm.awaits(request, form):
        data = form.cleaned_data
        amount = answers.money_text(data["price"], offer.currency)
        return confirm.page(
            request,
            f"Confirm: offer {amount} to {buyer}",
            answers.conversation_offer_lines(
                offer, data["price"], data.get("shipping_price"), data.get("message") or ""
            ),
            button=f"Yes, offer {amount}",
            cancel=here,
            form=form,
            opts=Conversation._meta,
        )
    if confirm.given(request):
        done = confirmed(
            request,
            form,
            partial(offer_in_conversation, convo, actor=request.user),
            lambda _: (
                f"Offer of {answers.money_text(form.cleaned_data['price'], offer.currency)} sent to {buyer}."
            ),
            then=reverse("admin:messaging_conversation_thread", args=[convo.pk]),
            on_failure="form",
            once_for="messaging.conversation_offer",
        )
        if done:
            return done
    return page(
        request,
        "messaging/conversation_offer.html",
        f"Make {buyer} an offer",
        Conversation._meta,
        c=convo,
        offer=offer,
        form=form,
        list_price=list_price(offer),
        floor_text=answers.floor_text(offer),
        refusal=conversation_offer_refusal(offer),
    )


def write_about_order(request: HttpRequest, order_pk: int) -> HttpResponse:
    """The seller writes first, from an order (a delay notice, an address check, return instructions):
    in the buyer's conversation about the listing when there is one, else a new one; saved replies are
    filled with the order's placeholders. Single-use, as every form that sends on Reverb."""
    require(request, "messaging.reply_message")
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=order_pk)
    existing = find_conversation(order.account_id, order.buyer_id, order.product_id)
    if existing is not None and request.method != "POST":
        messages.info(
            request, "You already have a conversation with this buyer about this listing: write there."
        )
        return redirect(reverse("admin:messaging_conversation_thread", args=[existing.pk]))
    saved = saved_replies(None, order)
    chosen = next((text for r, text in saved if str(r.pk) == request.GET.get("saved_reply")), None)
    form = ReplyForm(request.POST or None, initial={"body": chosen} if chosen is not None else None)
    form.fields["body"].label = "Message"
    if request.method == "POST" and form.is_valid():
        first, key = confirm.spend(request, "messaging.write_first")
        if not first:
            return redirect(reverse("admin:orders_order_change", args=[order.pk]))
        done = report(
            request,
            lambda: [  # a list: sent even when Reverb's answer named no conversation (None inside)
                write_to_buyer(
                    order.account,
                    buyer_id=order.buyer_id,
                    listing_reverb_id=order.product_id,
                    body=form.cleaned_data["body"],
                    actor=request.user,
                    about=("order", order.order_number),
                )
            ],
            "Message sent to the buyer.",
        )
        if done is None:  # refused or failed: nothing went, the form may be sent again
            once.release(key)
        elif done[0] is not None:
            return redirect(reverse("admin:messaging_conversation_thread", args=[done[0].pk]))
        else:
            return redirect(reverse("admin:orders_order_change", args=[order.pk]))
    return page(
        request,
        "messaging/write_first.html",
        f"Write to {order.buyer_name or 'the buyer'} about order {order.order_number}",
        Conversation._meta,
        order=order,
        form=form,
        saved_replies=saved,
    )
