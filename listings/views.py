"""Admin pages for listings beyond the changelist: edit (pending changes), create, resolve a conflict,
photos, promotion (bump + direct offer), the shop's vacation mode, and the CSV import.

Every page is mounted by ListingAdmin.get_urls (so it runs inside admin_view) and checks its own
permission; every change goes through listings/services.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from backoffice import confirm, once
from backoffice.access import accounts_of, for_user, limit_account_choices
from backoffice.actions import ActionError, Actor, Done, Refused, report
from backoffice.background.jobs import ItemSpec, create_job, job_url
from backoffice.models import BulkJob
from backoffice.reverb.errors import ForbiddenError, ReverbError

from . import costs, csv_import, editing, health, photo_list, readiness, services
from .forms import BumpForm, CsvUploadForm, DirectOfferForm, ImageUrlForm, ListingCreateForm, ListingEditForm
from .models import CsvImportPreview, Listing


def change_url(listing: Listing) -> str:
    return reverse("admin:listings_listing_change", args=[listing.pk])


def _need(request: HttpRequest, codename: str) -> None:
    if not request.user.has_perm(f"listings.{codename}"):
        raise PermissionDenied


def _context(admin: ModelAdmin, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {
        **admin.admin_site.each_context(request),
        "opts": Listing._meta,
        "title": title,
        **extra,
    }


def push_settings_url(request: HttpRequest, listing: Listing) -> str:
    """The account's push settings, for those who may change them (a Manager), else ''."""
    if not request.user.has_perm("backoffice.change_reverbaccount"):
        return ""
    return reverse("admin:backoffice_reverbaccount_change", args=[listing.account_id])


def held_notice(request: HttpRequest, listing: Listing, text: str) -> str:
    """The held-back message, with the one-click way to the push settings for a Manager."""
    url = push_settings_url(request, listing)
    if not url:
        return f"{text} Ask a manager to change the account's push settings."
    return format_html('{} <a href="{}">Change the push settings</a>', text, url)


def queue_push(listing: Listing, user: Actor) -> BulkJob:
    return create_job(
        "listings.push",
        title=f"Push {listing}",
        items=[ItemSpec(str(listing.pk), str(listing))],
        account=listing.account,
        user=user,
    )


COST_SAVED = "Saved the cost (kept here: Reverb is not told your cost)."


# ---- edit ------------------------------------------------------------------------------------------


def edit_listing(admin: ModelAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "change_listing")
    listing = get_object_or_404(for_user(Listing.objects.select_related("account"), request.user), pk=pk)
    initial = ListingEditForm.initial_for(listing)
    if request.method == "POST":
        # The photos the page showed (the mirror's) are posted back with it.
        form = ListingEditForm(request.POST, request.FILES, initial=initial, account=listing.account)
        if form.is_valid():
            _save_edits(request, listing, form)
            # Photos are not pending changes: like the photos page, the new order and new photos go now.
            if form.photos_changed():
                report(
                    request,
                    lambda: services.arrange_photos(
                        listing, actor=request.user, urls=form.photo_urls(), current=form.photo_current
                    ),
                )
            return HttpResponseRedirect(change_url(listing))
    else:
        form = ListingEditForm(
            initial=initial, account=listing.account, photo_rows=photo_list.listing_rows(listing)
        )
        if listing.last_push.get("status") in ("failed", "refused"):
            form.is_bound = True  # show Reverb's field errors from the last push on the fields
            form.data = {**{k: v for k, v in initial.items() if v is not None}}
            form.full_clean()
            form.show_reverb_errors(listing.last_push.get("field_errors") or {})
    gaps = _explain_fields(listing, form)
    context = _context(
        admin,
        request,
        f"Edit {listing}",
        held_all=editing.held_message(listing.account, form.fields),
        gaps=gaps,
        push_settings_url=push_settings_url(request, listing),
        listing=listing,
        form=form,
        conflicts=editing.conflicts(listing),
        pending=listing.pending_changes,
    )
    return TemplateResponse(request, "listings/edit.html", context)


def _save_edits(request: HttpRequest, listing: Listing, form: ListingEditForm) -> None:
    """Record the form's edits as pending changes and its cost, queue the push when the account pushes by
    itself, and say what happened (what the push settings hold back included)."""
    with transaction.atomic():
        changed = editing.record_edits(listing, form.edited_values())
        Listing.objects.filter(pk=listing.pk).update(pending_changes=listing.pending_changes)
        cost_changed = costs.set_cost(listing, form.cleaned_data.get("cost"))
        held = editing.held_message(listing.account, changed)
        if not changed:
            messages.info(request, COST_SAVED if cost_changed else "Nothing changed.")
        elif held and not editing.allowed_fields(listing.account, list(changed))[0]:
            messages.warning(
                request, held_notice(request, listing, f"Saved here, not sent to Reverb: {held}.")
            )
        elif listing.pending_changes and listing.account.auto_sync:
            job = queue_push(listing, request.user)
            messages.success(request, f"Saved; the push to Reverb is queued (job {job.pk}).")
        else:
            messages.success(request, "Saved as pending changes. Use “Push to Reverb” to send them.")
        if held and editing.allowed_fields(listing.account, list(changed))[0]:
            messages.warning(request, held_notice(request, listing, f"Some of it stays here: {held}."))


def _explain_fields(listing: Listing, form: ListingEditForm) -> list[readiness.Gap]:
    """Tell on each field what the push settings hold back and what publishing needs; the gaps."""
    for name, field in form.fields.items():
        held = editing.held_message(listing.account, [name])
        if held:
            field.help_text = f"{field.help_text} Not sent to Reverb when saved: {held}.".strip()
    gaps = readiness.listing_gaps(listing) if listing.state in services.PUBLISHABLE else []
    for gap in gaps:
        if gap.field in form.fields:
            field = form.fields[gap.field]
            field.help_text = f"{field.help_text} Needed to publish: {gap.message}".strip()
    return gaps


def resolve(admin: ModelAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _need(request, "change_listing")
    listing = get_object_or_404(for_user(Listing.objects.all(), request.user), pk=pk)
    keep = request.POST.get("keep", "")
    if keep not in ("local", "reverb"):
        messages.error(request, "Choose local or Reverb.")
    else:
        services.resolve_conflict(listing, actor=request.user, keep=keep)
        messages.success(
            request,
            "Kept the local values; push them when ready."
            if keep == "local"
            else "Kept Reverb's values; the local changes are discarded.",
        )
    return HttpResponseRedirect(change_url(listing))


def push_one(admin: ModelAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _need(request, "push_listing")
    listing = get_object_or_404(for_user(Listing.objects.select_related("account"), request.user), pk=pk)
    report(request, lambda: services.push_listing(listing, actor=request.user), lambda done: done.message)
    return HttpResponseRedirect(change_url(listing))


# ---- create ----------------------------------------------------------------------------------------


def create(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    _need(request, "create_listing")
    accounts = list(accounts_of(request.user).filter(enabled=True).order_by("name"))
    if not accounts:
        messages.error(request, "Add a Reverb account first.")
        return HttpResponseRedirect(reverse("admin:listings_listing_changelist"))
    chosen = request.GET.get("account") or request.POST.get("account")
    account = next((a for a in accounts if str(a.pk) == str(chosen)), accounts[0])
    form = ListingCreateForm(request.POST or None, request.FILES or None, account=account)
    token = request.POST.get(once.FIELD) or once.new_token()
    if request.method == "POST" and form.is_valid():
        first, key = once.spend(request, "listings.create")
        if not first:
            earlier = once.result_of(key)
            messages.warning(
                request,
                once.TOO_OLD
                if once.too_old(request)
                else "This form was already sent: nothing was created again.",
            )
            return HttpResponseRedirect(earlier or reverse("admin:listings_listing_changelist"))
        try:
            done = services.create_listing(account, form.payload(), actor=request.user)
        except ActionError as exc:
            once.release(key)  # nothing was created: the corrected form may be sent again
            form.show_reverb_errors(exc.field_errors)
            messages.error(request, exc.message)
        else:
            if done.obj is not None and form.cleaned_data.get("cost") is not None:
                costs.set_cost(done.obj, form.cleaned_data["cost"])
            once.remember(key, change_url(done.obj))
            messages.success(request, done.text)
            return HttpResponseRedirect(change_url(done.obj))
    context = _context(
        admin,
        request,
        f"Create a listing on {account.name}",
        form=form,
        account=account,
        accounts=accounts,
        once_token=token,
    )
    return TemplateResponse(request, "listings/create.html", context)


# ---- photos ----------------------------------------------------------------------------------------


def images(admin: ModelAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "view_listing")
    listing = get_object_or_404(for_user(Listing.objects.select_related("account"), request.user), pk=pk)
    if request.method == "POST":
        _need(request, "change_listing")
        if request.POST.get("op") == "delete" and not confirm.given(request):  # cannot be undone: ask
            return confirm.page(
                request,
                f"Delete this photo from {listing} on Reverb?",
                [
                    ("Listing", str(listing)),
                    ("Photo", request.POST.get("url", "")),
                    ("Then", "Cannot be undone."),
                ],
                button="Yes, delete the photo",
                cancel=request.path,
                hidden={"op": "delete", "image_id": request.POST.get("image_id", "")},
                opts=Listing._meta,
            )
        _operation(request, listing, PHOTO_OPS, "Unknown photo operation.")
        return HttpResponseRedirect(request.path)
    try:
        photos = listing.account.client().listing_images(listing.reverb_id)
        error = ""
    except ReverbError as exc:
        photos, error = [], f"Could not read the photos from Reverb: {exc}"
    orders = []
    for i, photo in enumerate(photos):
        urls = [str(p.get("url")) for p in photos]
        up = urls[:]
        if i > 0:
            up[i - 1], up[i] = up[i], up[i - 1]
        orders.append({"photo": photo, "up": up if i > 0 else None})
    context = _context(
        admin,
        request,
        f"Photos of {listing}",
        listing=listing,
        photos=orders,
        error=error,
        form=ImageUrlForm(),
        can_change=request.user.has_perm("listings.change_listing"),
    )
    return TemplateResponse(request, "listings/images.html", context)


def _cleaned(form_class: Any, request: HttpRequest, invalid: str) -> dict[str, Any]:
    form = form_class(request.POST)
    if not form.is_valid():
        raise Refused(invalid)
    return form.cleaned_data


def _operation(
    request: HttpRequest, listing: Listing, ops: dict[str, Callable[[Listing, Any], Done]], unknown: str
) -> None:
    """Run the POSTed `op` on the listing and report it (the photo and promotion pages)."""
    op = ops.get(request.POST.get("op", ""))

    def act() -> Done:
        if op is None:
            raise Refused(unknown)
        return op(listing, request)

    report(request, act, lambda done: done.message)


PHOTO_OPS: dict[str, Callable[[Listing, Any], Done]] = {
    "add": lambda listing, request: services.add_image(
        listing, actor=request.user, url=_cleaned(ImageUrlForm, request, "Enter a valid photo URL.")["url"]
    ),
    "delete": lambda listing, request: services.delete_image(
        listing, actor=request.user, image_id=request.POST["image_id"]
    ),
    "reorder": lambda listing, request: services.reorder_images(
        listing, actor=request.user, urls=[u for u in request.POST.getlist("url") if u]
    ),
}


# ---- promotion -------------------------------------------------------------------------------------


def promotion(admin: ModelAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "promote_listing")
    listing = get_object_or_404(for_user(Listing.objects.select_related("account"), request.user), pk=pk)
    if request.method == "POST":
        _operation(request, listing, PROMOTION_OPS, "Unknown operation.")
        return HttpResponseRedirect(request.path)
    client = listing.account.client()
    bump: dict[str, Any] = {}
    offer: dict[str, Any] | None = None
    notes = []
    try:
        bump = client.get_bump(listing.reverb_id) or {}
    except ReverbError as exc:
        notes.append(f"Bump: {exc}")
    try:
        offer = client.get_auto_offer(listing.reverb_id)
    except ForbiddenError:
        notes.append(services.NO_DIRECT_OFFERS)
    except ReverbError as exc:
        notes.append(f"Direct offer: {exc}")
    context = _context(
        admin,
        request,
        f"Promote {listing}",
        listing=listing,
        bump=bump,
        offer=offer,
        notes=notes,
        bump_form=BumpForm(),
        offer_form=DirectOfferForm(),
    )
    return TemplateResponse(request, "listings/promotion.html", context)


PROMOTION_OPS: dict[str, Callable[[Listing, Any], Done]] = {
    "bump": lambda listing, request: services.set_bump(
        [listing],
        actor=request.user,
        bid=_cleaned(BumpForm, request, "Enter a bid between 0.1 and 50%.")["bid"] / 100,
    ),
    "unbump": lambda listing, request: services.remove_bump([listing], actor=request.user),
    "offer": lambda listing, request: services.set_direct_offer(
        listing,
        actor=request.user,
        percentage=_cleaned(DirectOfferForm, request, "Enter a percentage from 1 to 99.")["percentage"],
    ),
    "no_offer": lambda listing, request: services.remove_direct_offer(listing, actor=request.user),
}


# ---- the shop: vacation ----------------------------------------------------------------------------


def vacation(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not (request.user.has_perm("listings.set_vacation") or request.user.has_perm("listings.view_listing")):
        raise PermissionDenied
    accounts = list(accounts_of(request.user).filter(enabled=True).order_by("name"))
    if request.method == "POST":
        _need(request, "set_vacation")
        account = get_object_or_404(accounts_of(request.user), pk=request.POST.get("account"))
        on = request.POST.get("on") == "1"
        if not confirm.given(request):
            word = "on" if on else "off"
            effect = (
                "All of the shop's listings become unavailable until it is turned off."
                if on
                else "All listings are re-enabled."
            )
            return confirm.page(
                request,
                f"Turn vacation mode {word} for {account}?",
                [("Account", str(account)), ("Vacation mode", word), ("Effect", effect)],
                button=f"Yes, turn it {word}",
                cancel=request.path,
                hidden={"account": account.pk, "on": "1" if on else "0"},
                opts=admin.model._meta,
            )
        report(
            request, lambda: services.set_vacation(account, actor=request.user, on=on), lambda d: d.message
        )
        return HttpResponseRedirect(request.path)
    rows = []
    for account in accounts:
        try:
            state: bool | None = bool((account.client().get_vacation() or {}).get("vacation"))
            error = ""
        except ReverbError as exc:
            state, error = None, str(exc)
        rows.append({"account": account, "on": state, "error": error})
    context = _context(
        admin, request, "Vacation mode", rows=rows, can_set=request.user.has_perm("listings.set_vacation")
    )
    return TemplateResponse(request, "listings/vacation.html", context)


# ---- CSV import ------------------------------------------------------------------------------------

PREVIEW_MAX_AGE = timedelta(hours=1)


def csv_upload(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Upload -> preview (the checked rows are kept server-side as a CsvImportPreview) -> Apply (the
    preview's id only: a 5,000-row file's rows would pass Django's request-size limit in a form field)."""
    _need(request, "import_listings")
    if confirm.given(request) and request.POST.get("apply"):
        preview_id = request.POST.get("preview", "")
        with transaction.atomic():
            preview = (
                CsvImportPreview.objects.select_for_update()
                .filter(
                    pk=int(preview_id) if preview_id.isdigit() else None,
                    created_by=request.user,
                    account__in=accounts_of(request.user),
                    applied_at__isnull=True,
                    created_at__gte=timezone.now() - PREVIEW_MAX_AGE,
                )
                .select_related("account")
                .first()
            )
            if preview is None:
                messages.error(request, "The preview expired or was already applied; upload the file again.")
                return HttpResponseRedirect(request.path)
            preview.applied_at = timezone.now()
            preview.save(update_fields=["applied_at"])
            account = preview.account
            items = [
                ItemSpec(r["sku"], r["sku"], {k: r.get(k) for k in ("payload", "row", "cost")})
                for r in preview.rows
            ]
            job = create_job(
                "listings.csv_import",
                title=f"CSV import into {account.name} ({len(items)} rows)",
                items=items,
                account=account,
                user=request.user,
                params={"account_id": account.pk},
            )
        messages.success(
            request, f"Import started: {len(items)} row(s). Each row's result goes to the sync log."
        )
        return HttpResponseRedirect(job_url(job))
    form = limit_account_choices(CsvUploadForm(request.POST or None, request.FILES or None), request.user)
    context = _context(admin, request, "Import products from CSV", form=form, columns=csv_import.COLUMNS)
    if request.method == "POST" and form.is_valid():
        account = form.cleaned_data["account"]
        rows, problems = csv_import.parse(account, form.cleaned_data["file"].read())
        good = [
            {"sku": r.sku, "payload": r.payload, "row": r.number, "cost": r.cost}
            for r in rows
            if r.outcome != "refused"
        ]
        preview = None
        if good and not problems:
            preview = CsvImportPreview.objects.create(account=account, created_by=request.user, rows=good)
        return _checked_rows(admin, request, account, rows, problems, preview)
    return TemplateResponse(request, "listings/csv_import.html", context)


def _checked_rows(
    admin: ModelAdmin,
    request: HttpRequest,
    account: Any,
    rows: list[Any],
    problems: list[str],
    preview: CsvImportPreview | None,
) -> HttpResponse:
    """The CSV import's checked rows on the confirmation kit's page; its "yes" applies the kept preview."""
    counts = {k: sum(1 for r in rows if r.outcome == k) for k in ("create", "update", "refused")}
    return confirm.page(
        request,
        "Import products from CSV: check the rows",
        [
            ("Account", str(account)),
            (
                "Rows",
                "{create} to create, {update} to update, {refused} refused".format(**counts),
            ),
            (
                "Then",
                "Creation looks every SKU up on Reverb first: a SKU it has is updated, never duplicated.",
            ),
        ],
        table=[[r.number, r.sku, r.title, r.outcome, "; ".join(r.reasons)] for r in rows],
        columns=["Row", "SKU", "Title", "Result", "Reasons"],
        notes=problems,
        button="Apply in the background" if preview is not None else "",
        cancel=request.path,
        hidden={"preview": preview.pk, "apply": "1"} if preview is not None else {},
        opts=admin.model._meta,
        rows=rows,
        problems=problems,
        counts=counts,
        preview=preview,
        applicable=preview is not None,
    )


# ---- catalogue health ------------------------------------------------------------------------------


def catalogue_health(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Per shop the user works for, how many listings each catalogue check finds, each count a link to
    those listings (the changelist filtered by the check and the shop)."""
    _need(request, "view_listing")
    changelist = reverse("admin:listings_listing_changelist")
    shops = []
    for account in accounts_of(request.user).order_by("name"):
        lines = health.counts(Listing.objects.filter(account=account))
        shops.append(
            {
                "account": account,
                "lines": [
                    (line, f"{changelist}?health={line.check.key}&account__id__exact={account.pk}")
                    for line in lines
                ],
                "total": sum(line.count for line in lines),
            }
        )
    context = _context(admin, request, "Catalogue health", shops=shops)
    return TemplateResponse(request, "listings/health.html", context)
