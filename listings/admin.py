"""Admin for listings: the mirror (Reverb's values), local edits as pending changes, and the actions
that change listings on Reverb (each with its own permission and a confirmation page)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from backoffice import confirm
from backoffice.actions import Done, report, report_each
from backoffice.admin.links import reverb_link
from backoffice.admin.mirror import ReverbMirrorAdmin, money_column
from backoffice.admin.scale import SKU_RE, known_values
from backoffice.background.jobs import ItemSpec, create_job, job_url

from . import editing, health, services, views
from .bulk_edit import edit_fields
from .exports import export_csv
from .forms import BumpForm, DirectOfferForm, EndForm, SaleForm
from .models import CONDITION_NAMES, STATES, Listing
from .slots import LISTING_ACTIONS, LISTING_LINKS

# More listings than this in one action run as a background job with a progress page.
BULK_THRESHOLD = 5


class PendingFilter(admin.SimpleListFilter):
    title = "local changes"
    parameter_name = "pending"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("yes", "Pending changes"),
            ("conflict", "Conflict with Reverb"),
            ("failed", "Last push failed"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Listing]) -> QuerySet[Listing]:
        if self.value() == "yes":
            return queryset.exclude(pending_changes={})
        if self.value() == "failed":
            return queryset.filter(last_push__status__in=["failed", "refused", "conflict"])
        if self.value() == "conflict":
            # Conflicts are computed from each row; only rows with pending changes can have one.
            rows = queryset.exclude(pending_changes={}).only(
                "pk",
                "pending_changes",
                "raw",
                "price",
                "title",
                "inventory",
                "has_inventory",
                "condition_uuid",
                "make",
                "model",
                "finish",
                "year",
                "sku",
                "offers_enabled",
                "currency",
                "account_id",
            )
            return queryset.filter(pk__in=[row.pk for row in rows.iterator() if editing.conflicts(row)])
        return queryset


class HealthFilter(admin.SimpleListFilter):
    """The catalogue health checks (listings/health.py) as a filter: the health page links here."""

    title = "catalogue health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(check.key, check.label) for check in health.CHECKS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Listing]) -> QuerySet[Listing]:
        if self.value() in health.BY_KEY:
            return health.matching(queryset, self.value())
        return queryset


@admin.register(Listing)
class ListingAdmin(ReverbMirrorAdmin):
    resync_resource = "listings"
    change_form_template = "listings/change_form.html"
    change_list_template = "listings/change_list.html"
    list_display = [
        "photo",
        "title",
        "sku",
        "state",
        money_column("price", "price"),
        "inventory",
        "local_changes",
        "published_at",
        "account",
        "reverb_column",
    ]
    list_display_links = ["title", "sku"]
    list_filter = [
        PendingFilter,
        HealthFilter,
        "account",
        known_values("state", STATES),
        "missing",
        known_values("condition_name", CONDITION_NAMES),
        "offers_enabled",
        "has_inventory",
    ]
    search_fields = ["sku", "title", "make", "model", "=reverb_id"]
    exact_search = {"sku": SKU_RE, "reverb_id": r"\d+"}
    phrase_search = ("title",)
    date_hierarchy = "remote_created_at"
    ordering = ["-remote_created_at", "-id"]
    list_select_related = ["account"]
    own_actions = [
        "resync_from_reverb",
        "push_to_reverb",
        "publish_drafts",
        "end_listings",
        "delete_drafts",
        "set_bump_bid",
        "remove_bump_bid",
        "add_to_sale",
        "remove_from_sale",
        "set_direct_offer",
        "remove_direct_offer",
    ]

    @property
    def link_fields(self) -> tuple[Any, ...]:  # type: ignore[override]
        """The links the apps above add (orders, conversations, offers: LISTING_LINKS)."""
        return tuple(LISTING_LINKS)

    @property
    def actions(self) -> list[Any]:  # type: ignore[override]
        """Listings' own actions, those the apps above add (the price edit: LISTING_ACTIONS), the field edit
        and the export."""
        return [*self.own_actions, *LISTING_ACTIONS, edit_fields, export_csv]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        local = {"pending_changes", "last_push"}  # shown by the change form template instead
        return [f for f in super().get_readonly_fields(request, obj) if f not in local]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[str | None, dict[str, Any]]]:
        sets = super().get_fieldsets(request, obj)
        return [
            (
                name,
                {**opts, "fields": [f for f in opts["fields"] if f not in ("pending_changes", "last_push")]},
            )
            for name, opts in sets
        ]

    # -- permissions: one per action ------------------------------------------------------------------
    def _perm(self, request: HttpRequest, codename: str) -> bool:
        return request.user.has_perm(f"listings.{codename}")

    def has_push_permission(self, request: HttpRequest) -> bool:
        return self._perm(request, "push_listing")

    def has_bulk_edit_permission(self, request: HttpRequest) -> bool:
        # records pending edits (change) and pushes them (push)
        return self._perm(request, "change_listing") and self._perm(request, "push_listing")

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return self._perm(request, "publish_listing")

    def has_end_permission(self, request: HttpRequest) -> bool:
        return self._perm(request, "end_listing")

    def has_delete_draft_permission(self, request: HttpRequest) -> bool:
        return self._perm(request, "delete_draft")

    def has_promote_permission(self, request: HttpRequest) -> bool:
        return self._perm(request, "promote_listing")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """A POSTed action the user may not run is refused with 403, not silently ignored."""
        if request.method == "POST" and request.POST.get("action"):
            name = request.POST["action"]
            if name in self.actions or name == "delete_selected":
                func = getattr(self, name, None)
                needed = getattr(func, "allowed_permissions", ("delete",))
                if not all(getattr(self, f"has_{p}_permission")(request) for p in needed):
                    raise PermissionDenied
        extra = {
            **(extra_context or {}),
            "can_create": self._perm(request, "create_listing"),
            "can_import": self._perm(request, "import_listings"),
        }
        return super().changelist_view(request, extra)

    # -- extra pages ------------------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(lambda request, *a, **kw: view(self, request, *a, **kw))

        return [
            path("new/", wrap(views.create), name="listings_listing_create"),
            path("import/", wrap(views.csv_upload), name="listings_listing_import"),
            path("vacation/", wrap(views.vacation), name="listings_vacation"),
            path("health/", wrap(views.catalogue_health), name="listings_listing_health"),
            path("<int:pk>/edit/", wrap(views.edit_listing), name="listings_listing_edit"),
            path("<int:pk>/push/", wrap(views.push_one), name="listings_listing_push"),
            path("<int:pk>/resolve/", wrap(views.resolve), name="listings_listing_resolve"),
            path("<int:pk>/images/", wrap(views.images), name="listings_listing_images"),
            path("<int:pk>/promotion/", wrap(views.promotion), name="listings_listing_promotion"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None:
            remote = editing.remote_values(obj)
            extra.update(
                pending_rows=[
                    {
                        "name": n,
                        "label": editing.FIELDS[n].label if n in editing.FIELDS else n,
                        "local": c.get("value"),
                        "base": c.get("base"),
                        "remote": remote.get(n),
                        "held": editing.allowed_fields(obj.account, [n])[1] != [],
                    }
                    for n, c in sorted(obj.pending_changes.items())
                ],
                conflicts=editing.conflicts(obj),
                last_push=obj.last_push,
                can_edit=self.has_change_permission(request, obj),
                can_push=self.has_push_permission(request),
                can_promote=self.has_promote_permission(request),
            )
        return super().change_view(request, object_id, form_url, extra)

    # -- columns -------------------------------------------------------------------------------------
    @admin.display(description="Local changes")
    def local_changes(self, obj: Listing) -> SafeString | str:
        if not obj.pending_changes:
            return ""
        if editing.conflicts(obj):
            return format_html('<strong class="conflict-text">conflict</strong>')
        names = format_html_join(", ", "{}", ((n,) for n in sorted(obj.pending_changes)))
        return format_html("pending: {}", names)

    @admin.display(description="")
    def photo(self, obj: Listing) -> SafeString | str:
        url = obj.thumbnail_url
        if not url.startswith(("https://", "http://")):
            return ""
        return format_html('<img src="{}" alt="" loading="lazy" width="48" height="48" class="cover">', url)

    @admin.display(description="Reverb")
    def reverb_column(self, obj: Listing) -> SafeString | str:
        return reverb_link(self.reverb_url(obj), "view")

    # -- confirmation + running ------------------------------------------------------------------------
    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[Listing],
        *,
        action: str,
        title: str,
        run: Callable[[list[Listing], dict[str, Any]], HttpResponse | None],
        form_class: Any = None,
        form_kwargs: dict[str, Any] | None = None,
        refusal: Callable[[Listing], str] | None = None,
        confirm_label: str = "Yes, I'm sure",
    ) -> HttpResponse | None:
        listings = list(queryset.select_related("account"))
        posted = confirm.given(request)
        form = form_class(request.POST if posted else None, **(form_kwargs or {})) if form_class else None
        if posted and (form is None or form.is_valid()):
            return run(listings, form.cleaned_data if form else {})
        checks = [refusal(x) if refusal else "" for x in listings]
        sendable = sum(1 for c in checks if not c)
        return confirm.page(
            request,
            title,
            [],
            table=[
                [
                    str(x),
                    x.sku or "none",
                    x.state or "?",
                    str(x.account),
                    f"will be refused: {c}" if c else "ok",
                ]
                for x, c in zip(listings, checks, strict=True)
            ],
            columns=["Listing", "SKU", "State", "Account", "Check"],
            notes=[f"{len(listings) - sendable} will be refused, with the reason; nothing is sent for them."]
            if sendable < len(listings)
            else [],
            button=confirm_label,
            cancel=request.get_full_path(),
            form=form,
            ask=True,
            hidden=[("action", action), *((admin.helpers.ACTION_CHECKBOX_NAME, x.pk) for x in listings)],
            opts=self.model._meta,
        )

    def _each(
        self,
        request: HttpRequest,
        listings: list[Listing],
        *,
        kind: str,
        title: str,
        act: Callable[[Listing], Done],
        params: dict[str, Any] | None = None,
    ) -> HttpResponse | None:
        if len(listings) > BULK_THRESHOLD:
            accounts = {x.account_id for x in listings}
            job = create_job(
                kind,
                title=f"{title} ({len(listings)} listings)",
                items=[ItemSpec(str(x.pk), str(x)) for x in listings],
                account=listings[0].account if len(accounts) == 1 else None,
                user=request.user,
                params=params or {},
            )
            self.message_user(request, f"{title}: started a background job for {len(listings)} listings.")
            return HttpResponseRedirect(job_url(job))
        report_each(request, listings, act)
        return None

    # -- actions ---------------------------------------------------------------------------------------
    @admin.action(description="Push pending changes to Reverb", permissions=["push"])
    def push_to_reverb(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        return self._confirm(
            request,
            queryset,
            action="push_to_reverb",
            title="Push pending changes to Reverb?",
            refusal=services.push_refusal,
            run=lambda items, data: self._each(
                request,
                items,
                kind="listings.push",
                title="Push to Reverb",
                act=lambda x: services.push_listing(x, actor=request.user),
            ),
        )

    @admin.action(description="Publish selected drafts", permissions=["publish"])
    def publish_drafts(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        return self._confirm(
            request,
            queryset,
            action="publish_drafts",
            title="Publish these listings on Reverb?",
            refusal=services.publish_refusal,
            run=lambda items, data: self._each(
                request,
                items,
                kind="listings.publish",
                title="Publish",
                act=lambda x: services.publish_listing(x, actor=request.user),
            ),
        )

    @admin.action(description="End selected listings", permissions=["end"])
    def end_listings(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        def run(items: list[Listing], data: dict[str, Any]) -> HttpResponse | None:
            reason = data["reason"]
            return self._each(
                request,
                items,
                kind="listings.end",
                title="End listings",
                params={"reason": reason},
                act=lambda x: services.end_listing(x, actor=request.user, reason=reason),
            )

        return self._confirm(
            request,
            queryset,
            action="end_listings",
            title="End these listings on Reverb?",
            form_class=EndForm,
            refusal=services.end_refusal,
            run=run,
        )

    @admin.action(description="Delete selected drafts", permissions=["delete_draft"])
    def delete_drafts(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        return self._confirm(
            request,
            queryset,
            action="delete_drafts",
            title="Delete these drafts on Reverb?",
            refusal=services.delete_draft_refusal,
            run=lambda items, data: self._each(
                request,
                items,
                kind="listings.delete_draft",
                title="Delete drafts",
                act=lambda x: services.delete_draft(x, actor=request.user),
            ),
        )

    def _by_account(
        self, request: HttpRequest, items: list[Listing], act: Callable[[list[Listing]], Done]
    ) -> None:
        groups: dict[int, list[Listing]] = {}
        for listing in items:
            groups.setdefault(listing.account_id, []).append(listing)
        for group in groups.values():
            done = report(request, partial(act, group), lambda done: done.message)
            for row in done.results if done else ():
                if not row.get("success", True):
                    label = row.get("listing") or row.get("listing_id")
                    self.message_user(
                        request, f"{label}: {'; '.join(row.get('errors') or ['refused'])}", messages.WARNING
                    )

    @admin.action(description="Bump: set a bid", permissions=["promote"])
    def set_bump_bid(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        def run(items: list[Listing], data: dict[str, Any]) -> None:
            bid = data["bid"] / 100
            self._by_account(
                request, items, lambda group: services.set_bump(group, actor=request.user, bid=bid)
            )

        return self._confirm(
            request,
            queryset,
            action="set_bump_bid",
            title="Bump these listings?",
            form_class=BumpForm,
            run=run,
        )

    @admin.action(description="Bump: remove the bid", permissions=["promote"])
    def remove_bump_bid(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        return self._confirm(
            request,
            queryset,
            action="remove_bump_bid",
            title="Remove the bump from these listings?",
            run=lambda items, data: self._by_account(
                request, items, lambda group: services.remove_bump(group, actor=request.user)
            ),
        )

    def _sale_action(
        self, request: HttpRequest, queryset: QuerySet[Listing], adding: bool
    ) -> HttpResponse | None:
        accounts = {x.account for x in queryset.select_related("account")}
        if len(accounts) != 1:
            self.message_user(request, "Select listings of one account at a time for sales.", messages.ERROR)
            return None
        account = accounts.pop()
        service = services.add_to_sale if adding else services.remove_from_sale

        def run(items: list[Listing], data: dict[str, Any]) -> None:
            self._by_account(
                request, items, lambda group: service(group, actor=request.user, sale_id=data["sale_id"])
            )

        name = "add_to_sale" if adding else "remove_from_sale"
        title = "Add these listings to a sale?" if adding else "Remove these listings from a sale?"
        return self._confirm(
            request,
            queryset,
            action=name,
            title=title,
            form_class=SaleForm,
            form_kwargs={"account": account},
            run=run,
        )

    @admin.action(description="Sales: add to one of the shop's sales", permissions=["promote"])
    def add_to_sale(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        return self._sale_action(request, queryset, adding=True)

    @admin.action(description="Sales: remove from a sale", permissions=["promote"])
    def remove_from_sale(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        return self._sale_action(request, queryset, adding=False)

    @admin.action(description="Direct offers: set a percentage", permissions=["promote"])
    def set_direct_offer(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        def run(items: list[Listing], data: dict[str, Any]) -> HttpResponse | None:
            pct = data["percentage"]
            return (
                self._each(
                    request,
                    items,
                    kind="",
                    title="Direct offers",
                    act=lambda x: services.set_direct_offer(x, actor=request.user, percentage=pct),
                )
                if len(items) <= BULK_THRESHOLD
                else self._too_many(request)
            )

        return self._confirm(
            request,
            queryset,
            action="set_direct_offer",
            title="Set a direct offer?",
            form_class=DirectOfferForm,
            run=run,
        )

    @admin.action(description="Direct offers: remove", permissions=["promote"])
    def remove_direct_offer(self, request: HttpRequest, queryset: QuerySet[Listing]) -> HttpResponse | None:
        def run(items: list[Listing], data: dict[str, Any]) -> HttpResponse | None:
            if len(items) > BULK_THRESHOLD:
                return self._too_many(request)
            return self._each(
                request,
                items,
                kind="",
                title="Direct offers",
                act=lambda x: services.remove_direct_offer(x, actor=request.user),
            )

        return self._confirm(
            request, queryset, action="remove_direct_offer", title="Remove direct offers?", run=run
        )

    def _too_many(self, request: HttpRequest) -> None:
        self.message_user(
            request, f"Direct offers: select at most {BULK_THRESHOLD} listings at a time.", messages.ERROR
        )
