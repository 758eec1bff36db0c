"""Admin for the rules (Managers), the planned list (approve one, approve selected, approve all, dismiss),
holidays, the account's automation settings (kill switch, digest hour) and saved replies."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from backoffice import confirm
from backoffice.actions import report
from backoffice.admin.base import BaseAdmin, ReadOnlyAdmin
from backoffice.pages.render import page
from messaging import answers
from messaging.services import respond_refusal
from payouts.fees import Rates
from payouts.margin import margin_of

from . import offers
from .models import (
    Alert,
    AlertKind,
    AlertSubscription,
    AutomationSettings,
    Holiday,
    OfferRule,
    PlannedAction,
    PriceChange,
    SavedReply,
    StaleStockRule,
)

APPROVE = "automation.approve_plannedaction"
RESPOND = "messaging.respond_offer"


@admin.register(AutomationSettings)
class AutomationSettingsAdmin(BaseAdmin):
    list_display = ["account", "rules_paused", "digest_hour", "digest_sent_on"]
    list_editable = ["rules_paused"]
    list_select_related = ["account"]


@admin.register(Holiday)
class HolidayAdmin(BaseAdmin):
    list_display = ["date", "name", "account"]
    list_filter = ["account"]
    date_hierarchy = "date"
    list_select_related = ["account"]


@admin.register(OfferRule)
class OfferRuleAdmin(BaseAdmin):
    list_display = [
        "name",
        "mode",
        "scope",
        "basis",
        "floor",
        "target",
        "step_percent",
        "floor_mode",
        "margin_percent",
        "below_cost_ok",
        "account",
    ]
    list_filter = ["account", "mode"]
    list_select_related = ["account", "listing"]
    raw_id_fields = ["listing"]
    fields = [
        "account",
        "name",
        "mode",
        "listing",
        "category",
        "basis",
        "floor",
        "target",
        "step_percent",
        "floor_mode",
        "margin_percent",
        "below_cost_ok",
        "decline_message",
    ]


@admin.register(PlannedAction)
class PlannedActionAdmin(BaseAdmin):
    """The "planned" list: what the rules would send, waiting for a person; newest first."""

    list_display = [
        "created",
        "offer",
        "offer_price",
        "what",
        "margin",
        "reason",
        "status",
        "approve_button",
        "rule",
        "account",
    ]
    list_filter = ["status", "account", "rule", "verb", "mode"]
    list_select_related = ["account__fee_schedule", "rule", "negotiation__listing"]
    readonly_fields = [f.name for f in PlannedAction._meta.fields]
    actions = ["approve_selected", "dismiss_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def may_approve(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE) and request.user.has_perm(RESPOND)

    @admin.display(description="offer")
    def offer(self, obj: PlannedAction) -> str:
        listing = obj.negotiation.listing
        return f"{obj.negotiation.buyer_name or obj.negotiation.reverb_id} on {listing or '?'}"

    @admin.display(description="would send")
    def what(self, obj: PlannedAction) -> str:
        text = obj.get_verb_display()
        if obj.price is not None:
            text += f" at {obj.price} {obj.negotiation.currency}"
        return text + (f" ({obj.message})" if obj.message else "")

    @admin.display(description="margin")
    def margin(self, obj: PlannedAction) -> SafeString | str:
        """What an accept or a counter would leave after fees, over the listing's cost (at the offer's
        shipping); '' for a decline, "no cost" when the listing has none."""
        price = obj.offer_price if obj.verb == PlannedAction.Verb.ACCEPT else obj.price
        if obj.verb == PlannedAction.Verb.DECLINE or price is None:
            return ""
        negotiation = obj.negotiation
        cost = negotiation.listing.cost if negotiation.listing is not None else None
        if cost is None:
            return "no cost"
        schedule = getattr(obj.account, "fee_schedule", None)  # select_related: no query per row
        m = margin_of(price, cost, Rates.of(schedule), negotiation.last_offered_shipping)
        text = f"{m.margin} ({m.percent}%)"
        return format_html('<span class="below-cost">{} below cost</span>', text) if m.below_cost else text

    @admin.display(description="")
    def approve_button(self, obj: PlannedAction) -> SafeString | str:
        if obj.status != PlannedAction.Status.PLANNED:
            return obj.outcome
        url = reverse("admin:automation_plannedaction_approve", args=[obj.pk])
        return format_html(
            '<button type="submit" class="button approve-one" formaction="{}" formmethod="post">{}</button>',
            url,
            "Approve",
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/approve/",
                view(require_POST(self.approve_one)),
                name="automation_plannedaction_approve",
            ),
            path(
                "approve-all/",
                view(require_POST(self.approve_all)),
                name="automation_plannedaction_approve_all",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {"may_approve": self.may_approve(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def get_list_display(self, request: HttpRequest) -> list[str]:
        """Read-only roles see what is planned, not an Approve button they may not press."""
        shown = list(super().get_list_display(request))
        return shown if self.may_approve(request) else [f for f in shown if f != "approve_button"]

    def _approve(self, request: HttpRequest, actions: QuerySet | list[PlannedAction]) -> None:
        if not self.may_approve(request):
            raise PermissionDenied
        counts = report(request, partial(offers.approve, list(actions), actor=request.user))
        if counts is None:  # refused (the kill switch is on); the message says why
            return
        if not counts:
            self.message_user(request, "Nothing planned to approve.", messages.WARNING)
            return
        sent = counts.get(PlannedAction.Status.SENT, 0)
        others = {k: v for k, v in counts.items() if k != PlannedAction.Status.SENT}
        level = messages.SUCCESS if not others else messages.WARNING
        detail = ", ".join(f"{v} {PlannedAction.Status(k).label.lower()}" for k, v in others.items())
        self.message_user(request, f"{sent} sent to Reverb" + (f"; {detail}" if detail else "") + ".", level)

    def _confirm_or_approve(
        self, request: HttpRequest, actions: list[PlannedAction], hidden: list[tuple[str, Any]]
    ) -> HttpResponse | None:
        """Approving sends answers to buyers: first the list of exactly what each will send (the one
        confirmation kit), then, on its "yes", send them. None: done, go back to the list."""
        if not self.may_approve(request):
            raise PermissionDenied
        planned = [a for a in actions if a.status == PlannedAction.Status.PLANNED]
        if not planned:
            self.message_user(request, "Nothing planned to approve.", messages.WARNING)
            return None
        paused = offers.paused_refusal(planned)
        if paused:  # refused before any confirmation is shown, as the send would be
            self.message_user(request, paused, messages.ERROR)
            return None
        if not confirm.given(request):
            return planned_confirmation(request, planned, hidden, self.model._meta)
        first, _ = confirm.spend(request, "automation.approve")
        if first:
            self._approve(request, planned)
        return None

    def _planned(self, request: HttpRequest) -> QuerySet:
        return self.get_queryset(request).select_related(
            "negotiation__listing", "negotiation__account", "rule"
        )

    def approve_one(self, request: HttpRequest, pk: int) -> HttpResponse:
        action = get_object_or_404(self._planned(request), pk=pk)
        shown = self._confirm_or_approve(request, [action], [])
        return shown or HttpResponseRedirect(reverse("admin:automation_plannedaction_changelist"))

    def approve_all(self, request: HttpRequest) -> HttpResponse:
        """Every planned answer, previewed with its amounts; the "yes" sends exactly the previewed ones."""
        planned = self._planned(request).filter(status=PlannedAction.Status.PLANNED)
        if confirm.given(request):
            planned = planned.filter(pk__in=[x for x in request.POST.getlist("ids") if x.isdigit()])
        actions = list(planned.order_by("pk"))
        shown = self._confirm_or_approve(request, actions, [("ids", a.pk) for a in actions])
        return shown or HttpResponseRedirect(reverse("admin:automation_plannedaction_changelist"))

    @admin.action(description="Approve selected (send to Reverb)", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        actions = list(
            queryset.select_related("negotiation__listing", "negotiation__account", "rule").order_by("pk")
        )
        hidden = [("action", "approve_selected"), *((ACTION_CHECKBOX_NAME, a.pk) for a in actions)]
        return self._confirm_or_approve(request, actions, hidden)

    @admin.action(description="Dismiss selected (send nothing)", permissions=["approve"])
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        from django.utils import timezone

        done = queryset.filter(status=PlannedAction.Status.PLANNED).update(
            status=PlannedAction.Status.DISMISSED, decided_by=request.user, decided_at=timezone.now()
        )
        self.message_user(request, f"{done} dismissed.")

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return self.may_approve(request)


def planned_confirmation(
    request: HttpRequest, actions: list[PlannedAction], hidden: list[tuple[str, Any]], opts: Any
) -> HttpResponse:
    """One row per answer: the buyer's offer, what will be sent (amount, currency, percent of list price,
    the buyer's total) and, checked now, why one would not be sent (it is then marked, not sent)."""
    rows = [_planned_row(a) for a in actions]
    refused = sum(1 for r in rows if r[-1] != "will be sent")
    count = len(actions) - refused
    notes = (
        [f"{refused} of these would be refused now and will not be sent (see the last column)."]
        if refused
        else []
    )
    return confirm.page(
        request,
        f"Confirm: send {len(actions)} planned answer{'s' if len(actions) != 1 else ''} to buyers",
        [],
        table=rows,
        columns=["Offer", "The buyer offered", "Will send", "Message", "Check"],
        notes=notes,
        button=f"Yes, send {count} answer{'s' if count != 1 else ''}" if count else "",
        cancel=reverse("admin:automation_plannedaction_changelist"),
        hidden=hidden,
        opts=opts,
    )


def _planned_row(action: PlannedAction) -> list[str]:
    n = action.negotiation
    listing = n.listing.title if n.listing else n.listing_reverb_id
    if action.verb == PlannedAction.Verb.COUNTER and action.price is not None:
        ship = n.last_offered_shipping or Decimal(0)
        sends = (
            f"Counter at {answers.with_percent(action.price, n)}; "
            f"the buyer would pay {answers.money_text(action.price + ship, n.currency)} in all"
        )
        problem = answers.counter_problem(n, action.price)
    elif action.verb == PlannedAction.Verb.ACCEPT:
        sends = f"Accept: the buyer pays {answers.money_text(n.offered_total, n.currency)}"
        problem = answers.accept_problem(n)
    else:
        sends = "Decline"
        problem = respond_refusal(n, "declined")
    if n.offers_count != action.offer_number:
        problem = "The buyer made a new offer since this was planned (stale)."
    return [
        f"{n.buyer_name or n.buyer_id} on {listing}",
        answers.buyer_offered(n),
        sends,
        action.message or "(none)",
        f"will not be sent: {problem}" if problem else "will be sent",
    ]


@admin.register(SavedReply)
class SavedReplyAdmin(BaseAdmin):
    list_display = ["name", "account"]
    list_filter = ["account"]
    search_fields = ["name", "body"]
    list_select_related = ["account"]


@admin.register(StaleStockRule)
class StaleStockRuleAdmin(BaseAdmin):
    list_display = ["name", "mode", "category", "days", "percent", "floor_percent", "period_days", "account"]
    list_filter = ["account", "mode"]
    list_select_related = ["account"]


@admin.register(PriceChange)
class PriceChangeAdmin(BaseAdmin):
    """What the stale-stock rule lowered or plans to lower; planned ones are pushed from here."""

    list_display = ["created", "listing", "old_price", "new_price", "status", "outcome", "rule"]
    list_filter = ["status", "rule"]
    list_select_related = ["listing", "rule"]
    readonly_fields = [
        "rule",
        "listing",
        "old_price",
        "new_price",
        "first_price",
        "status",
        "outcome",
        "created",
    ]
    actions = ["push_planned"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_push_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("listings.push_listing")

    @admin.action(description="Push selected planned price changes to Reverb", permissions=["push"])
    def push_planned(self, request: HttpRequest, queryset: QuerySet) -> None:
        from .prices import push_change

        planned = queryset.filter(status=PriceChange.Status.PLANNED).select_related(
            "rule", "listing__account"
        )
        results = [push_change(change, actor=request.user) for change in planned]
        sent = sum(1 for c in results if c.status == PriceChange.Status.SENT)
        level = messages.SUCCESS if sent == len(results) else messages.WARNING
        self.message_user(request, f"{sent} of {len(results)} planned price change(s) pushed.", level)


# ---- instant alerts: each person's own settings, and the record of what was sent --------------------


class AlertSubscriptionForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(
        label="Tell me at once about",
        choices=AlertKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Only for the shops you work for, and only what your role may answer.",
    )

    class Meta:
        model = AlertSubscription
        fields = ["kinds", "by_email", "quiet_from", "quiet_until", "time_zone"]
        widgets = {
            "quiet_from": forms.TimeInput(attrs={"type": "time"}),
            "quiet_until": forms.TimeInput(attrs={"type": "time"}),
        }

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip() or "UTC"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"Unknown time zone {zone!r}; e.g. Europe/London.") from None
        return zone


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "text", "account", "channel", "sent_at", "error"]
    list_filter = ["kind", "account"]
    search_fields = ["text", "key"]
    date_hierarchy = "created_at"

    def get_urls(self) -> list[URLPattern]:
        mine = path("mine/", self.admin_site.admin_view(self.my_alerts), name="automation_alert_mine")
        return [mine, *super().get_urls()]

    def my_alerts(self, request: HttpRequest) -> HttpResponse:
        """Any staff user sets their own alerts here; no permission beyond being staff is needed."""
        subscription = AlertSubscription.objects.filter(user=request.user).first() or AlertSubscription(
            user=request.user, time_zone=settings.TIME_ZONE
        )
        form = AlertSubscriptionForm(request.POST or None, instance=subscription)
        if request.method == "POST" and form.is_valid():
            form.save()
            messages.success(request, "Saved: your alerts.")
            return HttpResponseRedirect(reverse("admin:automation_alert_mine"))
        recent = Alert.objects.filter(channel=f"user:{request.user.pk}").select_related("account")[:20]
        return page(
            request,
            "automation/my_alerts.html",
            "My alerts",
            opts=Alert._meta,
            form=form,
            recent=recent,
            no_email=not request.user.email,
        )
