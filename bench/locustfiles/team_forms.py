"""Reading an admin form as a browser submits it, for the team scenario's Locust users
(team.py); its own module so tests can import it without Locust (which patches with gevent)."""

from __future__ import annotations

import html as htmllib
import re

# A field of the listing edit form: <input ... name="x" ... value="y"> or <textarea name="x">y</textarea>.
INPUT_RE = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
ATTR_RE = re.compile(r'(\w+)="([^"]*)"')
TEXTAREA_RE = re.compile(r'<textarea\b[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', re.IGNORECASE | re.DOTALL)
SELECT_RE = re.compile(r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.IGNORECASE | re.DOTALL)
SELECTED_RE = re.compile(r'<option value="([^"]*)"[^>]*selected', re.IGNORECASE)


def form_fields(html: str) -> dict[str, str]:
    """The values a browser would submit from the page's forms (text, hidden, checked boxes, selects,
    textareas); good enough for the admin's plain forms."""
    fields: dict[str, str] = {}
    for tag in INPUT_RE.findall(html):
        attrs = dict(ATTR_RE.findall(tag))
        kind = attrs.get("type", "text").lower()
        if "name" not in attrs or kind in {"submit", "button", "file"}:
            continue
        if kind in {"checkbox", "radio"} and "checked" not in tag:
            continue
        fields[attrs["name"]] = htmllib.unescape(attrs.get("value", "on" if kind == "checkbox" else ""))
    for name, body in TEXTAREA_RE.findall(html):
        fields[name] = htmllib.unescape(body).lstrip("\n")
    for name, body in SELECT_RE.findall(html):
        chosen = SELECTED_RE.findall(body)
        if chosen:
            fields[name] = htmllib.unescape(chosen[0])
    return fields


def first_choice(html: str, name: str) -> str:
    """The first non-empty option of the select `name` (what a person picks when nothing is chosen)."""
    for select, body in SELECT_RE.findall(html):
        if select == name:
            for value in re.findall(r'<option value="([^"]+)"', body):
                return htmllib.unescape(value)
    return ""
