"""Order action pages (wired in OrderAdmin.get_urls, so they sit under /admin/orders/order/ and are
wrapped in admin_view): ship one order, mark picked up, buyer feedback, packing slip, bulk ship."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial

from django import forms
from django.contrib import messages
from django.core import signing
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from backoffice.access import accounts_of, for_user, limit_account_choices
from backoffice.actions import confirmed, report_each
from backoffice.background.jobs import job_url
from backoffice.models import BulkJob, ReverbAccount
from backoffice.pages.render import page, require

from . import bulk
from .forms import CsvUploadForm, FeedbackForm, PickedUpForm, ShipForm
from .models import Order, ShippingProviderMapping, SkuMapping
from .services import leave_buyer_feedback, mark_picked_up, ship_order, ship_refusal, shipping_providers

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


def shop_sku(order: Order) -> str:
    if not order.sku:
        return ""
    mapping = SkuMapping.objects.filter(account_id=order.account_id, reverb_sku=order.sku).first()
    return mapping.shop_sku if mapping else ""


def ship(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "orders.ship_order")
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=pk)
    siblings = [o for o in bundle_orders(order) if o.pk != order.pk and not ship_refusal(o)]
    providers = shipping_providers(order.account)
    form = ShipForm(request.POST or None, providers=providers, bundle_size=len(siblings) + 1)
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


def packing_slip(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "orders.view_order")
    order = get_object_or_404(for_user(Order.objects.select_related("account"), request.user), pk=pk)
    lines = [(o, shop_sku(o)) for o in bundle_orders(order)]
    return page(
        request,
        "orders/packing_slip.html",
        f"Packing slip {order.order_number}",
        Order._meta,
        order=order,
        lines=lines,
        address=order.shipping_address,
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


def _provider_hints(account: ReverbAccount) -> list[str]:
    names = list(shipping_providers(account))
    names += [m.local_name for m in ShippingProviderMapping.objects.filter(account=account)]
    return names


def bulk_ship(request: HttpRequest) -> HttpResponse:
    """Step 1: one row per order (provider, tracking) or a CSV; step 2: the validated plan; step 3: send."""
    require(request, "orders.ship_order")
    action = request.POST.get("action", "")
    if request.method == "POST" and action == "confirm":
        return _confirm(request)
    if request.method == "POST" and action == "upload":
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
    orders = _selected(request)
    accounts = {o.account_id for o in orders}
    if len(accounts) > 1:
        messages.error(
            request, "Select orders of one account at a time (each account has its own rate budget)."
        )
        return redirect(reverse("admin:orders_order_changelist"))
    if request.method == "POST" and action == "preview" and orders:
        rows = [
            bulk.ShipRow(
                o.order_number,
                request.POST.get(f"provider_{o.pk}", ""),
                request.POST.get(f"tracking_{o.pk}", ""),
                i + 1,
            )
            for i, o in enumerate(orders)
        ]
        return _preview(request, orders[0].account, rows, bool(request.POST.get("send_notification")))
    hints = _provider_hints(orders[0].account) if orders else []
    return page(
        request,
        "orders/bulk_ship.html",
        "Ship orders",
        Order._meta,
        orders=orders,
        ids=",".join(str(o.pk) for o in orders),
        hints=hints,
        upload=limit_account_choices(CsvUploadForm(), request.user),
    )


def _preview(
    request: HttpRequest, account: ReverbAccount, rows: list[bulk.ShipRow], notify: bool
) -> HttpResponse:
    planned = bulk.plan(account, rows)
    token = uuid.uuid4().hex
    payload = signing.dumps(
        {"account": account.pk, "rows": bulk.serialise(planned), "token": token, "notify": notify},
        salt=SIGNING_SALT,
    )
    counts = {s: sum(1 for p in planned if p.status == s) for s in ("ok", "skip", "error")}
    return page(
        request,
        "orders/bulk_ship_preview.html",
        "Check the shipments before sending",
        Order._meta,
        account=account,
        planned=planned,
        payload=payload,
        counts=counts,
        notify=notify,
    )


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
