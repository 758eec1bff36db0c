"""The description is edited as text (paragraphs, line breaks, simple lists) and sent to Reverb as HTML;
HTML that text cannot say is kept as HTML (with a warning), never flattened; typed markup is escaped."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.models import ReverbAccount
from listings import services
from listings.description import to_html, to_text
from listings.forms import HTML_KEPT
from listings.models import Listing
from tests.factories import EXCELLENT, new_listing
from tests.listings.conftest import emu_record
from tests.listings.test_admin import edit_data

TEXT = "Plays great.\nSet up last week.\n\nIn the case:\n\n- strap\n- cable\n\n1. tune\n2. play"
HTML = (
    "<p>Plays great.<br>Set up last week.</p><p>In the case:</p><ul><li>strap</li><li>cable</li></ul>"
    "<ol><li>tune</li><li>play</li></ol>"
)


def test_text_becomes_reverb_html_and_back() -> None:
    assert to_html(TEXT) == HTML
    assert to_html(TEXT.replace("case:\n\n", "case:\n")) == HTML  # a list right under its line
    assert to_text(HTML) == TEXT
    assert to_html("") == "" and to_text("") == ""
    # Reverb's spelling of the same HTML (spaces between tags, <br />) reads as the same text.
    assert to_text("<p>Plays great.<br />Set up last week.</p>\n<ul>\n <li>strap</li>\n</ul>") == (
        "Plays great.\nSet up last week.\n\n- strap"
    )
    assert to_text("A description typed without tags") == "A description typed without tags"
    assert to_text("Fits amps < 50 W & combos") == "Fits amps < 50 W & combos"


@pytest.mark.parametrize(
    "kept",
    [
        "<p><b>Rare</b> 1959 burst</p>",
        '<p>See <a href="https://example.com">the video</a></p>',
        '<p class="note">Signed</p>',
        "<ul><li><p>nested</p></li></ul>",
        "<p>- a dash that is not a list</p>",
        "<p>x</p><!-- a comment -->",
    ],
)
def test_html_that_text_cannot_say_is_not_read_as_text(kept: str) -> None:
    assert to_text(kept) is None


def test_typed_markup_is_escaped_never_sent_as_markup() -> None:
    assert to_html('<script>alert("x")</script>\n<b onmouseover=steal()>hi</b> & bye') == (
        "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>"
        "&lt;b onmouseover=steal()&gt;hi&lt;/b&gt; &amp; bye</p>"
    )


def test_create_sends_the_text_as_html_with_a_script_escaped(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    url = reverse("admin:listings_listing_create")
    page = admin_client.get(url)
    data = {
        "once_token": page.context["once_token"],
        "account": account.pk,
        "sku": "DESC-1",
        "make": "Gibson",
        "model": "SG",
        "condition": EXCELLENT,
        "price": "900",
        "description": "Clean.\r\n<script>alert(1)</script>\r\n\r\n- case",
    }
    assert admin_client.post(url, data).status_code == 302
    listing = Listing.objects.get(sku="DESC-1")
    assert emu_record(emulator, listing.reverb_id)["description"] == (
        "<p>Clean.<br>&lt;script&gt;alert(1)&lt;/script&gt;</p><ul><li>case</li></ul>"
    )


def test_the_edit_form_shows_text_and_an_unchanged_text_changes_nothing(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    reverb_spelling = HTML.replace("<br>", "<br />").replace("</p>", "</p>\n")
    listing = services.create_listing(
        account, new_listing("DESC-2", description=reverb_spelling), actor=None
    ).obj
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    form = admin_client.get(url).context["form"]
    assert form.initial["description"] == TEXT and form.initial["description_format"] == "text"
    # Textareas post \r\n; the same text is no edit, though its HTML would be spelled differently.
    same = TEXT.replace("\n", "\r\n")
    assert admin_client.post(url, edit_data(listing, description=same)).status_code == 302
    listing.refresh_from_db()
    assert "description" not in listing.pending_changes
    admin_client.post(url, edit_data(listing, description=TEXT + "\n3. enjoy"))
    listing.refresh_from_db()
    assert listing.pending_changes["description"]["value"] == HTML.replace("</ol>", "<li>enjoy</li></ol>")


def test_html_text_cannot_say_is_kept_with_a_warning_and_scripts_refused(
    admin_client: Client, account: ReverbAccount, emulator: Any
) -> None:
    rich = "<p><b>Rare</b> 1959 burst</p>"
    listing = services.create_listing(account, new_listing("DESC-3", description=rich), actor=None).obj
    url = reverse("admin:listings_listing_edit", args=[listing.pk])
    page = admin_client.get(url)
    form = page.context["form"]
    assert form.initial["description"] == rich and form.initial["description_format"] == "html"
    assert HTML_KEPT in page.content.decode()
    assert admin_client.post(url, edit_data(listing)).status_code == 302
    listing.refresh_from_db()
    assert "description" not in listing.pending_changes  # kept, not flattened
    hostile = edit_data(listing, description=rich + '<img src=x onerror="steal()">')
    answer = admin_client.post(url, hostile)
    assert answer.status_code == 200 and answer.context["form"].errors["description"] == [
        "A description cannot hold scripts, frames, forms, event handlers or javascript: links."
    ]
    admin_client.post(url, edit_data(listing, description="<p><b>Very rare</b> 1959 burst</p>"))
    listing.refresh_from_db()
    assert listing.pending_changes["description"]["value"] == "<p><b>Very rare</b> 1959 burst</p>"
    # Replaced by plain text, it is text again (escaped, made HTML).
    admin_client.post(url, edit_data(listing, description="Just text & more"))
    listing.refresh_from_db()
    assert listing.pending_changes["description"]["value"] == "<p>Just text &amp; more</p>"
