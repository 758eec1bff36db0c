"""Order action pages (wired in OrderAdmin.get_urls, so they sit under /admin/orders/order/ and are
wrapped in admin_view): ship one order, mark picked up, buyer feedback, packing slip, bulk ship."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from backoffice import clock, confirm
from backoffice.access import accounts_of, for_user, limit_account_choices
from backoffice.actions import confirmed, report_each
from backoffice.background.jobs import job_url
from backoffice.deadlines import OVERDUE, TODAY
from backoffice.models import BulkJob, ReverbAccount
from backoffice.pages.paging import pager
from backoffice.pages.render import page, require

from . import bulk, carriers
from .forms import CsvUploadForm, FeedbackForm, PickedUpForm, ShipForm
from .models import Order, SkuMapping, awaiting_shipment
from .services import leave_buyer_feedback, mark_picked_up, ship_order, ship_refusal
from .workbench import days_waiting, due_state, ship_by_at

SIGNING_SALT = "orders.bulk-ship"
PREVIEW_MAX_AGE = 3600


def change_url(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def bundle_orders(order: Order) -> QuerySet[Order]:
    if not order.order_bundle_id:
        return Order.objects.filter(pk=order.pk)
    return Order.objects.filter(account_id=order.account_id, order_bundle_id=order.order_bundle_id).order_by(
        "order_number"
    )


def ship(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "orders.ship_order")
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=pk)
    siblings = [o for o in bundle_orders(order) if o.pk != order.pk and not ship_refusal(o)]
    shop_carriers = carriers.lookup(order.account)
    form = ShipForm(request.POST or None, carriers=shop_carriers, bundle_size=len(siblings) + 1)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        targets = [order, *siblings] if data.get("whole_bundle") else [order]
        client = order.account.client()
        report_each(
            request,
            targets,
            lambda target: ship_order(
                target,
                actor=request.user,
                provider=data["provider"],
                tracking_number=data["tracking_number"],
                send_notification=data["send_notification"],
                client=client,
            ),
            lambda target, _: (
                f"Order {target.order_number} shipped ({data['provider']} {data['tracking_number']})."
            ),
            label=lambda target: f"Order {target.order_number}",
        )
        return redirect(change_url(order))
    return page(
        request,
        "orders/ship.html",
        f"Ship order {order.order_number}",
        Order._meta,
        order=order,
        form=form,
        siblings=siblings,
        refusal=ship_refusal(order),
        hints=carriers.hints([order.account]),
    )


def _order_action_page(
    request: HttpRequest,
    pk: int,
    perm: str,
    form_class: type[forms.Form],
    service: Callable[..., Order],
    template: str,
    title: str,
    success: str,
) -> HttpResponse:
    """One order, one form, one service: `title` and `success` are formatted with the order."""
    require(request, perm)
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=pk)
    form = form_class(request.POST or None)
    done = confirmed(
        request,
        form,
        partial(service, order, actor=request.user),
        success.format(order=order),
        then=change_url(order),
    )
    return done or page(request, template, title.format(order=order), Order._meta, order=order, form=form)


def picked_up(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action_page(
        request,
        pk,
        "orders.mark_picked_up",
        PickedUpForm,
        mark_picked_up,
        "orders/picked_up.html",
        "Mark order {order.order_number} picked up",
        "Order {order.order_number} marked picked up.",
    )


def feedback(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action_page(
        request,
        pk,
        "orders.leave_feedback",
        FeedbackForm,
        leave_buyer_feedback,
        "orders/feedback.html",
        "Feedback for the buyer of order {order.order_number}",
        "Feedback left for {order.buyer_name}.",
    )


def _slips(orders: list[Order]) -> list[dict[str, object]]:
    """One slip per bundle (the first selected order of a bundle stands for it). Queries: bundles 1,
    SKU mappings 1."""
    bundle_ids = {o.order_bundle_id for o in orders if o.order_bundle_id}
    members: dict[tuple[int, str], list[Order]] = {}
    if bundle_ids:
        siblings = Order.objects.filter(
            account_id__in={o.account_id for o in orders}, order_bundle_id__in=bundle_ids
        ).order_by("order_number")
        for o in siblings:
            members.setdefault((o.account_id, o.order_bundle_id), []).append(o)
    maps: dict[tuple[int, str], str] = {
        (m.account_id, m.reverb_sku): m.shop_sku
        for m in SkuMapping.objects.filter(account_id__in={o.account_id for o in orders})
    }
    slips, seen = [], set()
    for order in orders:
        key = (order.account_id, order.order_bundle_id or f"#{order.pk}")
        if key in seen:
            continue
        seen.add(key)
        group = members.get(key, [order]) if order.order_bundle_id else [order]
        lines = [(o, maps.get((o.account_id, o.sku), "")) for o in group]
        slips.append({"order": order, "lines": lines, "address": order.shipping_address})
    return slips


def packing_slip(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "orders.view_order")
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=pk)
    return page(
        request,
        "orders/packing_slip.html",
        f"Packing slip {order.order_number}",
        Order._meta,
        order=order,
        slips=_slips([order]),
    )


def packing_slips(request: HttpRequest) -> HttpResponse:
    """Packing slips of the orders ticked in the shipping queue, one per page when printed."""
    require(request, "orders.view_order")
    ids = [int(x) for x in request.GET.getlist("slip") if x.isdigit()]
    orders = list(
        for_user(Order.objects.filter(pk__in=ids), request.user)
        .select_related("account")
        .order_by("paid_at", "pk")
    )
    return page(
        request,
        "orders/packing_slip.html",
        f"Packing slips ({len(orders)})",
        Order._meta,
        slips=_slips(orders),
    )


# ---- the shipping queue -----------------------------------------------------------------------------


def to_ship(user: Any) -> QuerySet[Order]:
    """Paid orders of `user`'s shops that wait for tracking (orders.models.awaiting_shipment, the rows the
    dashboard and the deadline counts use), oldest payment first."""
    return for_user(awaiting_shipment(), user).select_related("account").order_by("paid_at", "pk")


def last_provider(user: Any) -> str:
    """The carrier of the latest shipment of `user`'s shops: the likely one for today's (a suggestion the
    clerk can change)."""
    latest = (
        for_user(Order.objects.all(), user)
        .exclude(shipping_provider="")
        .exclude(shipping_method="local")
        .exclude(shipping_provider__icontains="collection")  # a pickup's "carrier"
        .filter(shipped_at__isnull=False, local_pickup=False)
        .order_by("-shipped_at")
    )
    return latest.values_list("shipping_provider", flat=True).first() or ""


def destination(order: Order) -> str:
    a = order.shipping_address
    return ", ".join(x for x in (a.get("locality"), a.get("region"), a.get("country_code")) if x)


def queue_rows(orders: list[Order], now: datetime | None = None) -> list[dict[str, Any]]:
    """The shipping queue's rows: days waiting, ship-by and its state in the one clock's words."""
    now = now or timezone.now()
    rows = []
    for o in orders:
        state = due_state(o, now)
        rows.append(
            {
                "order": o,
                "days": days_waiting(o, now),
                "due": state,
                "overdue": state == OVERDUE,
                "today": state == TODAY,
                "ship_by": ship_by_at(o),
                "destination": destination(o),
            }
        )
    return rows


def shipping_queue(request: HttpRequest) -> HttpResponse:
    """The shipping clerk's page: the orders to ship, oldest payment first, a page at a time, with a tracking
    input per row (a scanner's Enter moves to the next row); "Check" goes to the bulk-ship check page with
    the page's rows, then one job. Queries, whatever the shop's size: shops 1, the counts (all, overdue,
    due today) 1, the page's orders 1, provider hints 2 (the stored carrier list per shop and the mapped
    names), last carrier 1."""
    require(request, "orders.view_order")
    now = timezone.now()
    waiting = to_ship(request.user)
    shops = list(for_user(ReverbAccount.objects.all(), request.user).only("pk", "time_zone"))
    # the one clock's definitions (backoffice/clock.py), counted by the database over every page in one pass
    # over the orders to ship (three counts walked them three times); an order whose ship-by is not stored
    # yet (every pull stores it) is judged one by one, as its row is
    counts = waiting.order_by().aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=clock.overdue_q("ship_by", now)),
        due_today=Count("pk", filter=clock.due_today_q("ship_by", now, shops)),
    )
    pages = pager(request, counts["total"])
    overdue, due_today = counts["overdue"], counts["due_today"]
    if pages.total:
        for state in (due_state(o, now) for o in waiting.filter(ship_by__isnull=True, paid_at__isnull=False)):
            overdue += state == OVERDUE
            due_today += state == TODAY
    orders = list(waiting[pages.offset : pages.offset + pages.size])
    rows = queue_rows(orders, now)
    can_ship = request.user.has_perm("orders.ship_order")
    hints = carriers.hints({o.account_id: o.account for o in orders}.values()) if can_ship and orders else []
    return page(
        request,
        "orders/queue.html",
        "Shipping queue",
        Order._meta,
        rows=rows,
        pager=pages,
        can_ship=can_ship,
        hints=hints,
        default_provider=last_provider(request.user) if can_ship and orders else "",
        overdue=overdue,
        due_today=due_today,
    )


# ---- bulk ship ------------------------------------------------------------------------------------------


def _selected(request: HttpRequest) -> list[Order]:
    raw = request.GET.get("ids") or request.POST.get("ids") or ""
    ids = [int(x) for x in raw.split(",") if x.strip().isdigit()]
    return list(
        for_user(Order.objects.filter(pk__in=ids), request.user)
        .select_related("account")
        .order_by("order_bundle_id", "order_number")
    )


def bulk_ship(request: HttpRequest) -> HttpResponse:
    """Step 1: one row per order (provider, tracking) or a CSV; step 2: the validated plan; step 3: send."""
    require(request, "orders.ship_order")
    action = request.POST.get("action", "")
    if confirm.given(request) and action == "confirm":
        return _confirm(request)
    if request.method == "POST" and action == "upload":
        return _upload(request)
    orders = _selected(request)
    if request.POST.get("from_queue"):  # the queue posts every row: keep those with a tracking number
        orders = [o for o in orders if request.POST.get(f"tracking_{o.pk}", "").strip()]
        if not orders:
            messages.warning(request, "Type or scan a tracking number in at least one row.")
            return redirect(reverse("admin:orders_order_queue"))
    accounts = {o.account_id for o in orders}
    if len(accounts) > 1:
        messages.error(
            request, "Select orders of one account at a time (each account has its own rate budget)."
        )
        return redirect(reverse("admin:orders_order_changelist"))
    typed = {o.pk: (o.shipping_provider, "") for o in orders}
    errors: dict[str, str] = {}
    notify = True
    if request.method == "POST" and action == "preview" and orders:
        fallback = request.POST.get(
            "default_provider", ""
        ).strip()  # the queue's "carrier for rows without one"
        typed = {
            o.pk: (
                request.POST.get(f"provider_{o.pk}", "").strip() or fallback,
                request.POST.get(f"tracking_{o.pk}", ""),
            )
            for o in orders
        }
        rows = [bulk.ShipRow(o.order_number, *typed[o.pk], i + 1) for i, o in enumerate(orders)]
        notify = bool(request.POST.get("send_notification"))
        if request.POST.get("skip_errors"):
            return _preview(request, orders[0].account, rows, notify)
        planned = bulk.plan(orders[0].account, rows)
        errors = {p.order_number: p.message for p in planned if p.status == "error"}
        if not errors:
            return _preview(request, orders[0].account, rows, notify, planned)
        # A bad row: the same rows again, every typed value kept, the problem on its row.
        messages.error(request, f"{len(errors)} row(s) need a fix before sending; nothing was sent.")
    hints = carriers.hints([orders[0].account]) if orders else []
    return page(
        request,
        "orders/bulk_ship.html",
        "Ship orders",
        Order._meta,
        rows=[(o, *typed[o.pk], errors.get(o.order_number, "")) for o in orders],
        orders=orders,
        errors=errors,
        notify=notify,
        ids=",".join(str(o.pk) for o in orders),
        hints=hints,
        upload=limit_account_choices(CsvUploadForm(), request.user),
    )


def _upload(request: HttpRequest) -> HttpResponse:
    """A CSV of shipments: its plan to confirm, or the upload form again with the file's problem."""
    upload = limit_account_choices(CsvUploadForm(request.POST, request.FILES), request.user)
    if upload.is_valid():
        try:
            rows = bulk.parse_csv(upload.cleaned_data["file"].read())
        except bulk.CsvError as exc:
            upload.add_error("file", str(exc))
        else:
            account = upload.cleaned_data["account"]
            return _preview(request, account, rows, upload.cleaned_data["send_notification"])
    return page(request, "orders/bulk_ship.html", "Ship orders", Order._meta, orders=[], upload=upload)


def _preview(
    request: HttpRequest,
    account: ReverbAccount,
    rows: list[bulk.ShipRow],
    notify: bool,
    planned: list[bulk.PlannedShipment] | None = None,
) -> HttpResponse:
    planned = planned if planned is not None else bulk.plan(account, rows)
    token = uuid.uuid4().hex
    payload = signing.dumps(
        {"account": account.pk, "rows": bulk.serialise(planned), "token": token, "notify": notify},
        salt=SIGNING_SALT,
    )
    counts = {s: sum(1 for p in planned if p.status == s) for s in ("ok", "skip", "error")}
    ok = counts["ok"]
    return confirm.page(
        request,
        "Check the shipments before sending",
        [
            ("Account", account.name),
            ("To send", f"{ok}; {counts['skip']} already done; {counts['error']} with problems (not sent)"),
            ("Buyers", "will be notified" if notify else "will not be notified"),
        ],
        table=[
            [p.order_number, p.bundle, p.title, _provider_text(p), p.tracking_number, _check(p)]
            for p in planned
        ],
        columns=["Order", "Bundle", "Item", "Provider", "Tracking", "Check"],
        button=f"Yes, ship {ok} order{'s' if ok != 1 else ''}" if ok else "",
        cancel=reverse("admin:orders_order_queue"),
        hidden={"action": "confirm", "payload": payload},
        opts=Order._meta,
    )


def _provider_text(p: bulk.PlannedShipment) -> str:
    if p.provider and p.provider != p.provider_input:
        return f"{p.provider} (from “{p.provider_input}”)"
    return p.provider or p.provider_input


def _check(p: bulk.PlannedShipment) -> str:
    if p.status == "ok":
        return "✔ will be sent" + (f" — {p.message}" if p.message else "")
    return f"↷ {p.message}" if p.status == "skip" else f"✘ not sent: {p.message}"


def _confirm(request: HttpRequest) -> HttpResponse:
    try:
        data = signing.loads(request.POST.get("payload", ""), salt=SIGNING_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:
        messages.error(request, "This confirmation expired or was altered; please start again.")
        return redirect(reverse("admin:orders_order_changelist"))
    account = get_object_or_404(accounts_of(request.user), pk=data["account"])
    # Validated again: orders may have changed (or been shipped) since the preview.
    planned = bulk.plan(account, bulk.rows_from(data["rows"]), expand_bundles=False)
    if not any(p.ok for p in planned):
        messages.warning(request, "Nothing to send: every row is already shipped or has a problem.")
        return redirect(reverse("admin:orders_order_changelist"))
    try:
        job = bulk.submit(
            account, request.user, planned, token=data["token"], send_notification=data["notify"]
        )
    except bulk.AlreadySubmitted as exc:
        messages.info(request, "These shipments were already submitted; nothing was sent twice.")
        if exc.job is not None:
            return redirect(progress_url(exc.job))
        return redirect(reverse("admin:orders_order_changelist"))
    messages.success(request, f"Sending {job.total} shipment(s) in the background.")
    return redirect(progress_url(job))


def progress_url(job: BulkJob) -> str:
    """The shared bulk-job page: a live progress bar and each order's result, without reloading."""
    return job_url(job)


def ship_selected_redirect(ids: list[int]) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admin:orders_order_bulk_ship") + "?ids=" + ",".join(map(str, ids)))
