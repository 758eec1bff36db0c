"""The Content-Security-Policy header (django-csp) is on every page, and the pages pass it: no inline
handlers or style attributes, and every inline <script>/<style> carries the request's nonce."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backoffice.background.jobs import ItemSpec, create_job
from tests.factories import AccountFactory, ListingFactory, OrderFactory

pytestmark = pytest.mark.django_db

INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
INLINE_BLOCK = re.compile(r"<(script|style)\b([^>]*)>", re.I)


def no_arg_admin_urls() -> list[str]:
    """Every admin URL that takes no argument (index, changelists, add pages, custom pages)."""
    urls = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name and not p.pattern.regex.groups:
                route = prefix + str(p.pattern)
                if "<" not in route and "(?P" not in route and not route.endswith(("logout/", "jsi18n/")):
                    urls.append("/" + route.lstrip("^").replace("\\Z", "").replace("$", "").replace("^", ""))

    (admin_resolver,) = [p for p in get_resolver().url_patterns if getattr(p, "app_name", "") == "admin"]
    walk(admin_resolver.url_patterns, str(admin_resolver.pattern))
    return sorted(set(urls))


def check_page(response: Any) -> None:
    header = response["Content-Security-Policy"]
    # The nonce is in the header only when the page used it (django-csp adds it lazily).
    assert re.search(r"script-src 'self'( 'nonce-[^']+')?;", header + ";"), header
    assert re.search(r"style-src 'self'( 'nonce-[^']+')?;", header + ";"), header
    assert "unsafe-inline" not in header
    assert "frame-ancestors 'none'" in header and "object-src 'none'" in header
    html = response.content.decode()
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html).group(0)
    assert not STYLE_ATTRIBUTE.search(html), STYLE_ATTRIBUTE.search(html).group(0)
    found = re.search(r"'nonce-([^']+)'", header)
    for tag, attributes in INLINE_BLOCK.findall(html):
        if tag.lower() == "script" and ("src=" in attributes or "application/json" in attributes):
            continue
        assert found and f'nonce="{found.group(1)}"' in attributes, f"<{tag}{attributes}> has no nonce"


def test_every_page_without_arguments(admin_client: Client, emulator: Any) -> None:
    account = AccountFactory(name="shop")
    ListingFactory(account=account)
    OrderFactory(account=account)
    urls = no_arg_admin_urls()
    assert len(urls) > 30
    checked = 0
    for url in urls:
        response = admin_client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        check_page(response)
        checked += 1
    assert checked > 30


def test_object_pages(admin_client: Client, emulator: Any) -> None:
    account = AccountFactory(name="shop")
    listing = ListingFactory(account=account)
    order = OrderFactory(account=account)
    job = create_job("listings.push", title="t", items=[ItemSpec("1", "one")], account=account)
    urls = [
        reverse("admin:listings_listing_change", args=[listing.pk]),
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:orders_order_packing_slip", args=[order.pk]),
        reverse("admin:backoffice_bulkjob_change", args=[job.pk]),
        reverse("admin:backoffice_reverbaccount_change", args=[account.pk]),
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        check_page(response)


def test_login_page_has_the_header(client: Client) -> None:
    check_page(client.get(reverse("admin:login")))
