"""THE carrier list: Reverb's provider names (services.shipping_providers: Reverb's live list united with the
documented names) and each shop's ShippingProviderMapping of its own carrier names onto them. The order's
ship form, the shipping queue, bulk ship, the CSV upload, the shipments API (all through bulk.plan) and the
mapping form read it here, and an unknown carrier is refused with the same words on each (`unknown`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .models import ShippingProviderMapping
from .services import shipping_providers

if TYPE_CHECKING:
    from backoffice.models import ReverbAccount


def lookup(account: ReverbAccount) -> dict[str, str]:
    """lower-case name -> Reverb provider: Reverb's own names, then this account's mappings (a mapping to a
    name Reverb no longer lists is ignored)."""
    names = {p.lower(): p for p in shipping_providers(account)}
    for mapping in ShippingProviderMapping.objects.filter(account=account):
        if mapping.provider in names.values():
            names[mapping.local_name.lower()] = mapping.provider
    return names


def resolve(names: Mapping[str, str], typed: str) -> str:
    """Reverb's provider name for what was typed (a Reverb name or a mapped one, any case), '' if unknown."""
    return names.get(typed.strip().lower(), "")


def unknown(typed: str) -> str:
    """The one refusal of a carrier that is neither Reverb's name nor mapped."""
    return (
        f"Unknown provider {typed.strip()!r}: use one of Reverb's provider names or a name mapped in "
        "Orders › Shipping provider mappings."
    )


def reverb_names(accounts: Iterable[ReverbAccount]) -> list[str]:
    """Reverb's provider names for these accounts, each once, "Other" last (the mapping form's choices)."""
    names: list[str] = []
    for account in accounts:
        names += [p for p in shipping_providers(account) if p not in names]
    return [*(n for n in names if n != "Other"), *(["Other"] if "Other" in names else [])]


def hints(accounts: Iterable[ReverbAccount]) -> list[str]:
    """What a carrier box suggests: Reverb's names, then the shops' own mapped names."""
    accounts = list(accounts)
    names = reverb_names(accounts)
    rows = ShippingProviderMapping.objects.filter(account_id__in=[a.pk for a in accounts])
    mapped = set(rows.values_list("local_name", flat=True))
    return names + sorted(mapped - {n.lower() for n in names})
