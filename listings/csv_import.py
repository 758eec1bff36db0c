"""CSV import of products: parse and check every row (preview), then apply as a BulkJob.

The preview classifies each row as create, update (the SKU is already in the mirror) or refused (with
reasons), without calling Reverb; applying goes through `services.create_listing`, which looks the SKU
up on Reverb first, so a SKU Reverb has but the mirror lacks is updated, never duplicated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from backoffice.csvfiles import CsvFileError, read_csv
from backoffice.models import ReverbAccount
from backoffice.reverb.client import money_object

from . import conditions, costs, editing, reference
from .models import Listing

COLUMNS = (
    "sku",
    "title",
    "make",
    "model",
    "condition",
    "price",
    "inventory",
    "description",
    "photos",
    "upc",
    "upc_does_not_apply",
    "cost",
)
YES = ("1", "yes", "y", "true", "x")
REQUIRED = ("sku", "make", "model", "condition", "price")
MAX_ROWS = 5000
MAX_PRICE = Decimal("10000000")  # below the mirror's 12 digits; no instrument costs more
MAX_INVENTORY = 1_000_000
# The bulk field edit's fields (listings/bulk_edit.py), carried by the import and the export alike.
COLUMNS += ("shipping_profile_id", "category", "offers_enabled")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NO = ("0", "no", "n", "false")


@dataclass
class Row:
    number: int
    sku: str
    title: str
    outcome: str  # "create" | "update" | "refused"
    reasons: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    cost: str | None = None  # kept here, never in the payload (Reverb is not told our cost)


def _condition(value: str) -> str | None:
    value = value.strip()
    by_name = {name.lower(): uuid for uuid, name in conditions.CONDITIONS}
    by_name["new"] = conditions.BRAND_NEW  # how Reverb's responses name Brand New
    if value in {uuid for uuid, _ in conditions.CONDITIONS}:
        return value
    return by_name.get(value.lower())


def parse(account: ReverbAccount, data: bytes | str) -> tuple[list[Row], list[str]]:
    """(rows, file-level problems). A file-level problem means no row is read: nothing is applied from a
    file that was not read whole and right (see backoffice.csvfiles.read_csv)."""
    try:
        headers, records = read_csv(data, max_rows=MAX_ROWS)
    except CsvFileError as exc:
        return [], [str(exc)]
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        return [], [f"Missing column(s): {', '.join(missing)}. Expected: {', '.join(COLUMNS)}."]
    if not records:
        return [], ["The file has no rows."]
    rows: list[Row] = []
    seen: set[str] = set()
    find = CategoryFinder(account)
    for number, values in records:
        rows.append(_row(account, number, values, seen, find))
    known = set(
        Listing.objects.filter(account=account, sku__in=[r.sku for r in rows if r.sku]).values_list(
            "sku", flat=True
        )
    )
    for row in rows:
        if row.outcome != "refused" and row.sku in known:
            row.outcome = "update"
    return rows, []


def _price(text: str) -> tuple[Decimal | None, str]:
    """(price, "") or (None, why not)."""
    try:
        price = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None, f"price {text!r} is not a number"
    if not price.is_finite():
        return None, f"price {text!r} is not a number"
    if price <= 0:
        return None, "price must be more than 0"
    if price > MAX_PRICE:
        return None, f"price {text!r} is more than {MAX_PRICE:,}"
    return price, ""


class CategoryFinder:
    """The `category` cell (a UUID, or a name matched in Reverb's category list, read once a file and only
    when a row names one) -> (uuid, "") or (None, why)."""

    def __init__(self, account: ReverbAccount) -> None:
        self.account = account
        self.choices: reference.Choices | None = None

    def __call__(self, text: str) -> tuple[str | None, str]:
        if UUID.fullmatch(text.lower()):
            return text.lower(), ""
        if self.choices is None:
            self.choices = reference.categories(self.account)
        if not self.choices:
            return None, (
                f"category {text!r}: Reverb's category list could not be read to find it by name; "
                "write its UUID, or try again in a minute"
            )
        return reference.match_category(self.choices, text)


def _row(
    account: ReverbAccount,
    number: int,
    values: dict[str, str],
    seen: set[str],
    find_category: CategoryFinder,
) -> Row:
    sku = values.get("sku", "")
    reasons = [f"{name} is required" for name in REQUIRED if not values.get(name)]
    if sku and sku in seen:
        reasons.append("SKU appears twice in the file")
    seen.add(sku)
    condition = _condition(values["condition"]) if values.get("condition") else None
    if values.get("condition") and condition is None:
        reasons.append(f"unknown condition {values['condition']!r}")
    price, problem = _price(values["price"]) if values.get("price") else (None, "")
    reasons += [problem] if problem else []
    inventory, problems = _inventory(values.get("inventory", ""))
    reasons += problems
    if inventory is not None and condition:
        reasons += [m for ms in editing.inventory_errors(condition, inventory).values() for m in ms]
    upc = values.get("upc", "").strip().replace(" ", "")
    if upc and not editing.valid_gtin(upc):
        reasons.append(f"upc {upc!r} is not a 12 to 14 digit barcode with a right check digit")
    cost, problems = _cost(values.get("cost", ""))
    reasons += problems
    payload: dict[str, Any] = {}
    if not reasons:
        payload = _payload(account, values, condition, price, inventory, upc)
    fields, problems = _edit_fields(values, find_category)
    reasons += problems
    if not reasons:
        payload.update(fields)
    outcome = "refused" if reasons else "create"
    return Row(number, sku, values.get("title", ""), outcome, reasons, payload, cost)


def _inventory(text: str) -> tuple[int | None, list[str]]:
    """The `inventory` cell -> (count or None, problems); a count over the limit is kept and refused."""
    if not text:
        return None, []
    try:
        inventory = int(text)
    except ValueError:
        return None, [f"inventory {text!r} is not a whole number"]
    if inventory > MAX_INVENTORY:
        return inventory, [f"inventory {inventory} is more than {MAX_INVENTORY:,}"]
    return inventory, []


def _cost(text: str) -> tuple[str | None, list[str]]:
    """The `cost` cell -> (cost as text or None, problems)."""
    if not text.strip():
        return None, []
    try:
        return str(costs.parse_cost(text)), []
    except ValueError as exc:
        return None, [str(exc)]


def _payload(
    account: ReverbAccount,
    values: dict[str, str],
    condition: str | None,
    price: Decimal | None,
    inventory: int | None,
    upc: str,
) -> dict[str, Any]:
    """A checked row in Reverb's shape (the bulk-edit columns are added by the caller)."""
    payload: dict[str, Any] = {
        "sku": values["sku"],
        "make": values["make"],
        "model": values["model"],
        "condition": {"uuid": condition},
        "price": money_object(price, account.currency),
    }
    for name in ("title", "description"):
        if values.get(name):
            payload[name] = values[name]
    if inventory is not None:
        payload["inventory"] = inventory
        payload["has_inventory"] = condition in conditions.INVENTORY_CONDITIONS
    photos = [
        u for u in values.get("photos", "").replace("|", " ").split() if u.startswith(("http://", "https://"))
    ]
    if photos:
        payload["photos"] = photos
    if upc:
        payload["upc"] = upc
    elif values.get("upc_does_not_apply", "").strip().lower() in YES:
        payload["upc_does_not_apply"] = True
    return payload


def _edit_fields(values: dict[str, str], find_category: CategoryFinder) -> tuple[dict[str, Any], list[str]]:
    """The bulk-edit columns in Reverb's shape, or why not (an empty cell leaves the field as it is)."""
    fields: dict[str, Any] = {}
    problems = []
    profile = values.get("shipping_profile_id", "").strip()
    if profile:
        if profile.isdigit():
            fields["shipping_profile_id"] = profile
        else:
            problems.append(f"shipping_profile_id {profile!r} is not a number (a shipping profile's id)")
    category = values.get("category", "").strip()
    if category:
        found, problem = find_category(category)
        if found:
            fields["categories"] = [{"uuid": found}]
        else:
            problems.append(problem)
    offers = values.get("offers_enabled", "").strip().lower()
    if offers:
        if offers in YES + NO:
            fields["offers_enabled"] = offers in YES
        else:
            problems.append(f"offers_enabled {offers!r} is not yes or no")
    return fields, problems
