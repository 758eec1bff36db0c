"""Payout pages inside the admin's look: one payout against its orders, the reconciliation report for a
period, and the CSV exports. Wired by PayoutAdmin.get_urls (admin_view: staff only); each view checks the
model view permissions it needs."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.safestring import SafeString

from backoffice.access import for_user
from backoffice.pages.charts import Bar, bar_chart
from orders.models import Order

from . import margin_report
from .exports import line_item_rows, orders_rows, stream_csv
from .forms import PeriodForm
from .matching import Kind, Totals, check_payout, match_period
from .models import Payout

REPORT_PERMS = ("payouts.view_payout", "payouts.view_payoutlineitem", "orders.view_order")
FINDINGS_PER_PAGE = 100


def require(request: HttpRequest, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


def payout_reconcile(request: HttpRequest, pk: int) -> HttpResponse:
    """One payout: its line items against their orders, and its total against the line items' sum."""
    require(request, *REPORT_PERMS)
    payout = get_object_or_404(for_user(Payout.objects.select_related("account"), request.user), pk=pk)
    check = check_payout(payout)
    context = {
        **admin.site.each_context(request),
        "title": f"Payout {payout.reverb_id}: reconciliation",
        "check": check,
        "payout": payout,
        "opts": Payout._meta,
    }
    return render(request, "payouts/payout_reconcile.html", context)


def reconciliation_report(request: HttpRequest) -> HttpResponse:
    """Findings and totals for a month or from-to range, optionally for one account."""
    require(request, *REPORT_PERMS)
    form = PeriodForm(request.GET or None, user=request.user)
    period = form.period()
    report = match_period(period, form.account_ids())
    charts = [(t.currency, totals_chart(t)) for t in report.totals]
    findings = Paginator(report.findings, FINDINGS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.urlencode()
    context = {
        **admin.site.each_context(request),
        "title": f"Payouts reconciliation, {period}",
        "form": form,
        "form_invalid": form.is_bound and bool(form.errors),
        "report": report,
        "findings": findings,
        "previous_query": page_query(request, findings.number - 1),
        "next_query": page_query(request, findings.number + 1),
        "kinds": Kind.ALL,
        "charts": charts,
        "opts": Payout._meta,
        "orders_csv": f"{reverse('admin:payouts_export_orders')}?{query}",
        "line_items_csv": f"{reverse('admin:payouts_export_line_items')}?{query}",
    }
    return render(request, "payouts/reconciliation.html", context)


def page_query(request: HttpRequest, number: int) -> str:
    """The report's query string (period, account) for another page of findings."""
    query = request.GET.copy()
    query["page"] = str(number)
    return query.urlencode()


def totals_chart(totals: Totals) -> SafeString:
    """The period at a glance: paid vs paid out vs still owed, fees and refunds, as SVG bars."""
    bars = [
        Bar("paid", totals.orders_paid_amount),
        Bar("paid out", totals.paid_out_amount),
        Bar("waiting", totals.waiting_amount),
        Bar("overdue", totals.overdue_amount),
        Bar("fees", totals.fees_charged),
        Bar("refunds", totals.refunds_approved_amount),
    ]
    return bar_chart(f"Period {totals.currency}", bars, totals.currency, "chart-period", label_every=1)


def _period_or_400(request: HttpRequest) -> PeriodForm | HttpResponse:
    form = PeriodForm(request.GET or None, user=request.user)
    if form.is_bound and not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    return form


def export_orders(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    require(request, "orders.view_order")
    form = _period_or_400(request)
    if isinstance(form, HttpResponse):
        return form
    period = form.period()
    header, rows = orders_rows(period, form.account_ids())
    return stream_csv(f"orders-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv", header, rows)


def export_line_items(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    require(request, "payouts.view_payoutlineitem")
    form = _period_or_400(request)
    if isinstance(form, HttpResponse):
        return form
    period = form.period()
    header, rows = line_item_rows(period, form.account_ids())
    return stream_csv(f"payout-line-items-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv", header, rows)


# ---- the monthly margin report ----------------------------------------------------------------------------

MARGIN_PERMS = ("payouts.view_payout", "orders.view_order")
MARGIN_ROWS_PER_PAGE = 100
MARGIN_UNKNOWN_SHOWN = 100


def _margin(request: HttpRequest, form: PeriodForm) -> margin_report.MarginReport:
    period = form.period()
    orders = for_user(Order.objects.all(), request.user)
    return margin_report.margin_report(period, margin_report.orders_paid(period, orders, form.account_ids()))


def margin_page(request: HttpRequest) -> HttpResponse:
    """The period's orders with revenue, fees, cost and margin, totals per shop and currency (the user's shops
    only: for_user), orders without a known cost apart; the CSV has every row."""
    require(request, *MARGIN_PERMS)
    form = PeriodForm(request.GET or None, user=request.user)
    report = _margin(request, form)
    rows = Paginator(report.known, MARGIN_ROWS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        **admin.site.each_context(request),
        "title": f"Margin, {report.period}",
        "form": form,
        "form_invalid": form.is_bound and bool(form.errors),
        "report": report,
        "rows": rows,
        "shown": report.rows_of(rows.object_list),
        "unknown": report.rows_of(report.unknown[:MARGIN_UNKNOWN_SHOWN]),
        "previous_query": page_query(request, rows.number - 1),
        "next_query": page_query(request, rows.number + 1),
        "opts": Payout._meta,
        "margin_csv": f"{reverse('admin:payouts_export_margin')}?{request.GET.urlencode()}",
    }
    return render(request, "payouts/margin.html", context)


def export_margin(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    require(request, *MARGIN_PERMS)
    form = _period_or_400(request)
    if isinstance(form, HttpResponse):
        return form
    report = _margin(request, form)
    name = f"margin-{report.period.start:%Y%m%d}-{report.period.end:%Y%m%d}.csv"
    return stream_csv(name, margin_report.CSV_HEADER, margin_report.csv_rows(report))
