"""Shop, account, vacation, reference data (conditions, categories, shipping) and webhook registrations.

Sources per endpoint are in each docstring; where no source shows a response shape, it says "ours".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .core import ApiError, Request, Response, ValidationFailed, link, money, renderer, route
from .generator.catalog import CATEGORIES, CONDITIONS, SHIPPING_PROVIDERS, SHIPPING_REGIONS

if TYPE_CHECKING:
    from .app import Emulator

WEB = "https://reverb.com"
CURRENCIES = frozenset({"USD", "CAD", "EUR", "GBP", "AUD", "JPY", "NZD", "MXN"})  # [OFFICIAL-SPEC] enum
NOT_FOUND = "The requested resource could not be found."


# ---- reference data ----------------------------------------------------------------------------------


@route("GET", "/api/listing_conditions")
def listing_conditions(emu: Emulator, req: Request) -> dict[str, Any]:
    """{"conditions": [{uuid, display_name}]} [OFFICIAL-CODE prestashop ReverbConditions]. The names here
    are the ones requests use (PrestaShop maps them); listing responses show "New" for Brand New."""
    return {"conditions": [{"uuid": u, "display_name": name} for u, name, _ in CONDITIONS]}


def _category(c: Any) -> dict[str, Any]:
    return {"uuid": c.uuid, "name": c.name, "full_name": c.full_name}


@route("GET", "/api/categories")
def categories(emu: Emulator, req: Request) -> dict[str, Any]:
    """{categories: [{uuid, name, subcategories: [{uuid, full_name}]}]} [OFFICIAL-CODE prestashop];
    the extra `name`/`full_name` on each level are ours."""
    roots = [c for c in CATEGORIES if c.parent_uuid is None]
    return {
        "categories": [
            {**_category(r), "subcategories": [_category(c) for c in CATEGORIES if c.parent_uuid == r.uuid]}
            for r in roots
        ]
    }


@route("GET", "/api/categories/flat")
def categories_flat(emu: Emulator, req: Request) -> dict[str, Any]:
    """{categories: [...]} [OFFICIAL-CODE M1 Category adapter]; item fields uuid/name/full_name ours."""
    return {"categories": [_category(c) for c in CATEGORIES]}


@route("GET", "/api/shipping/regions")
def shipping_regions(emu: Emulator, req: Request) -> dict[str, Any]:
    """{shipping_regions: [{code, name, children}]} [OFFICIAL-CODE prestashop]."""
    return {"shipping_regions": list(SHIPPING_REGIONS)}


@route("GET", "/api/shipping/providers")
def shipping_providers(emu: Emulator, req: Request) -> dict[str, Any]:
    """The spec's provider list [OFFICIAL-SPEC, API-NOTES 7.2]. Shape a guess (see `guesses`)."""
    from .guesses import shaped

    return shaped(
        emu, "shipping_providers", {"shipping_providers": [{"name": p} for p in SHIPPING_PROVIDERS]}
    )


# ---- shop, profiles, account -------------------------------------------------------------------------


def render_shop(emu: Emulator, req: Request) -> dict[str, Any]:
    """`id` is read by PrestaShop [OFFICIAL-CODE]; the rest mirrors the PUT /shop fields [OFFICIAL-SPEC];
    the response shape is ours (API-NOTES 10.7)."""
    shop = emu.store.shop
    body = {k: v for k, v in shop.items() if k != "shipping_profiles"}
    body["vacation"] = emu.store.vacation
    body["_links"] = {
        "self": link(req.href("/api/shop")),
        "web": link(f"{WEB}/shop/{shop.get('slug', '')}"),
        "shipping_profiles": link(req.href(f"/api/shops/{shop.get('id')}/shipping_profiles")),
    }
    return body


@route("GET", "/api/shop")
def get_shop(emu: Emulator, req: Request) -> dict[str, Any]:
    return render_shop(emu, req)


_SHOP_TEXT = (
    "name",
    "description",
    "legal_country_code",
    "payment_policy",
    "return_policy",
    "shipping_policy",
    "website",
)


# field -> (is the sent value refused, what 412 says), checked only when the field is sent.
_SHOP_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (lambda value: not str(value or "").strip(), "can't be blank"),
    "currency": (lambda value: value not in CURRENCIES, "is not a valid currency"),
    "shop_type": (lambda value: value not in ("individual", "business"), "must be individual or business"),
    "address": (lambda value: not isinstance(value, dict), "is invalid"),
}


@route("PUT", "/api/shop")
def update_shop(emu: Emulator, req: Request) -> dict[str, Any]:
    """Fields per the spec [OFFICIAL-SPEC]; validation texts ours."""
    body, shop = req.json, emu.store.shop
    errors = {
        name: [message]
        for name, (refused, message) in _SHOP_RULES.items()
        if name in body and refused(body[name])
    }
    if errors:
        raise ValidationFailed(errors)
    for name in _SHOP_TEXT:
        if name in body:
            shop[name] = str(body[name] or "")
    for name in ("currency", "shop_type"):
        if name in body:
            shop[name] = body[name]
    if "address" in body:
        shop["address"] = {**shop.get("address", {}), **body["address"]}
    return render_shop(emu, req)


def render_profile(profile: dict[str, Any], currency: str) -> dict[str, Any]:
    """Shape ours (API-NOTES 5.1 gives only the root key); rates as in the listing `shipping` body."""
    return {
        "id": profile["id"],
        "name": profile["name"],
        "local": profile.get("local", False),
        "rates": [
            {"region_code": r["region_code"], "rate": money(r["rate"], currency)} for r in profile["rates"]
        ],
    }


@route("GET", "/api/shops/{shop_id}/shipping_profiles")
def shipping_profiles(emu: Emulator, req: Request, shop_id: str) -> dict[str, Any]:
    """{shipping_profiles: [...]} [OFFICIAL-CODE prestashop ReverbShop]."""
    shop = emu.store.shop
    if shop_id not in (str(shop.get("id")), shop.get("slug")):
        raise ApiError(404, NOT_FOUND)
    currency = shop.get("currency", emu.store.currency)
    return {"shipping_profiles": [render_profile(p, currency) for p in shop.get("shipping_profiles", ())]}


def render_account(emu: Emulator, req: Request) -> dict[str, Any]:
    """Shape ours (full account JSON not found, API-NOTES 10.7) but with the `shop` key PrestaShop reads."""
    shop = emu.store.shop
    return {
        **emu.store.account,
        "shop": {
            "id": shop.get("id"),
            "name": shop.get("name"),
            "slug": shop.get("slug"),
            "currency": shop.get("currency"),
        },
        "_links": {"self": link(req.href("/api/my/account")), "shop": link(req.href("/api/shop"))},
    }


@route("GET", "/api/my/account")
def get_account(emu: Emulator, req: Request) -> dict[str, Any]:
    return render_account(emu, req)


@route("PUT", "/api/my/account")
def update_account(emu: Emulator, req: Request) -> dict[str, Any]:
    """Fields per the spec: currency, first_name, last_name, locale_code, shipping_region_code."""
    body, account = req.json, emu.store.account
    if "currency" in body and body["currency"] not in CURRENCIES:
        raise ValidationFailed({"currency": ["is not a valid currency"]})
    for name in ("currency", "first_name", "last_name", "locale_code", "shipping_region_code"):
        if name in body:
            account[name] = body[name]
    return render_account(emu, req)


# ---- vacation (API-NOTES 10.6) -----------------------------------------------------------------------


def _vacation(emu: Emulator) -> dict[str, Any]:
    return {"vacation": emu.store.vacation}  # shape ours: no source shows vacation JSON (API-NOTES 10.6)


@route("GET", "/api/shop/vacation")
def get_vacation(emu: Emulator, req: Request) -> dict[str, Any]:
    return _vacation(emu)


@route("POST", "/api/shop/vacation")
def start_vacation(emu: Emulator, req: Request) -> dict[str, Any]:
    """No body [3P-LIVE EDOS]. Listings keep their state; `state=seller_unavailable` lists them."""
    emu.store.vacation = True
    return _vacation(emu)


@route("DELETE", "/api/shop/vacation")
def end_vacation(emu: Emulator, req: Request) -> dict[str, Any]:
    emu.store.vacation = False
    return _vacation(emu)


# ---- webhook registrations (API-NOTES 12) ------------------------------------------------------------

# The spec's topic enum [OFFICIAL-SPEC], plus orders/paid, which EDOS found valid in the sandbox [3P-LIVE].
WEBHOOK_TOPICS = (
    "listings/update",
    "listings/publish",
    "listings/bumps-ran-out",
    "orders/create",
    "orders/update",
    "payments/create",
    "payments/update",
    "app/uninstalled",
    "orders/paid",
)


@renderer("webhooks")
def render_webhook(emu: Emulator, req: Request, hook: dict[str, Any]) -> dict[str, Any]:
    """A registration is {url, topic} and nothing else [3P-LIVE EDOS]; id, created_at and _links ours."""
    return {
        "id": hook["id"],
        "url": hook["url"],
        "topic": hook["topic"],
        "created_at": hook["created_at"].isoformat(timespec="seconds"),
        "_links": {"self": link(req.href(f"/api/webhooks/registrations/{hook['id']}"))},
    }


def _hook(emu: Emulator, registration_id: str) -> dict[str, Any]:
    hook = emu.store.table("webhooks").get(int(registration_id)) if registration_id.isdigit() else None
    if hook is None:
        raise ApiError(404, NOT_FOUND)
    return hook


@route("GET", "/api/webhooks/registrations")
def list_webhooks(emu: Emulator, req: Request) -> dict[str, Any]:
    """Root key `registrations` (probable, per EDOS [3P])."""
    return {"registrations": [render_webhook(emu, req, h) for h in emu.store.table("webhooks").values()]}


@route("POST", "/api/webhooks/registrations")
def create_webhook(emu: Emulator, req: Request) -> Response:
    """`url` and `topic` required [OFFICIAL-SPEC]. A bad topic is 400 "topic does not have a valid value";
    with `webhooks_require_oauth` on, 401 "Please log in via Oauth to create webhooks", as Reverb answers
    a personal token [3P-LIVE EDOS]. Off by default so tests and the demo can register."""
    store = emu.store
    if store.webhooks_require_oauth:
        raise ApiError(401, "Please log in via Oauth to create webhooks")
    body = req.json
    url, topic = body.get("url"), body.get("topic")
    if not url:
        raise ApiError(400, "url is missing")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "url does not have a valid value")
    if not topic:
        raise ApiError(400, "topic is missing")
    if topic not in WEBHOOK_TOPICS:
        raise ApiError(400, "topic does not have a valid value")
    hook_id = store.next_id("webhooks", start=500)
    hook = {"id": hook_id, "url": url, "topic": topic, "created_at": store.now()}
    store.table("webhooks")[hook_id] = hook
    return Response(201, render_webhook(emu, req, hook))


@route("GET", "/api/webhooks/registrations/{registration_id}")
def get_webhook(emu: Emulator, req: Request, registration_id: str) -> dict[str, Any]:
    return render_webhook(emu, req, _hook(emu, registration_id))


@route("DELETE", "/api/webhooks/registrations/{registration_id}")
def delete_webhook(emu: Emulator, req: Request, registration_id: str) -> Response:
    hook = _hook(emu, registration_id)
    del emu.store.table("webhooks")[hook["id"]]
    return Response(200, None)  # empty body: ours
