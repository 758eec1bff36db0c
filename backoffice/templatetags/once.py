"""{% once_token %}: the hidden single-use token of a form that creates or sends (backoffice/once.py).
A form shown again after a refusal keeps the token it was sent with (it was given back)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backoffice import once

register = template.Library()


@register.simple_tag(takes_context=True)
def once_token(context: template.Context) -> SafeString:
    request = context.get("request")
    posted = request.POST.get(once.FIELD, "") if request is not None and request.method == "POST" else ""
    return format_html('<input type="hidden" name="{}" value="{}">', once.FIELD, posted or once.new_token())
