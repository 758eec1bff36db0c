"""django-tables2 table of reconciliation findings (rows are matching.Mismatch dataclasses)."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_tables2.data import TableListData

from backoffice.admin.links import EMPTY

from .matching import Findings, Mismatch, PageLink


class FindingsData(TableListData):
    """The report's findings as the table's data without listing them all: the paginator slices out the page
    shown, and only that page is built (matching.Findings). The order is the report's (no column sorting)."""

    def __init__(self, findings: Findings) -> None:
        super().__init__(findings)

    def order_by(self, aliases: object) -> None:
        return None


class MismatchTable(tables.Table):
    kind = tables.Column(verbose_name="Finding")
    account = tables.Column()
    when = tables.DateTimeColumn(verbose_name="Date", format="Y-m-d")
    order_number = tables.Column(verbose_name="Order")
    payout_id = tables.Column(verbose_name="Payout")
    amount = tables.Column(attrs={"td": {"class": "amount"}})
    reason = tables.Column(orderable=False)
    links = tables.Column(verbose_name="Objects", orderable=False)

    class Meta:
        attrs = {"id": "findings", "class": "findings"}
        empty_text = "Nothing to report for this period."
        order_by = ()
        orderable = False  # the findings are built a page at a time, in the report's order

    def render_kind(self, value: str) -> SafeString:
        slug = value.replace(" ", "-")
        return format_html('<span class="finding finding-{}">{}</span>', slug, value)

    def render_amount(self, value: Decimal | None, record: Mismatch) -> str:
        return EMPTY if value is None else f"{value:,.2f} {record.currency}".strip()

    def render_links(self, value: tuple[PageLink, ...]) -> SafeString | str:
        if not value:
            return EMPTY
        return format_html_join(
            " · ",
            "{}",
            (
                (format_html('<a href="{}">{}</a>', link.url, link.label) if link.url else link.label,)
                for link in value
            ),
        )
