"""One log line per refused request. Django's `django.request` logger writes every PermissionDenied as a
warning with its whole traceback ("Forbidden (Permission denied): /path" plus exc_info): a 403 is the
permission system doing its job (a role without the right, a forged POST), not a fault, and an afternoon of
clicks buried real errors under a hundred tracebacks. This filter (settings LOGGING) keeps the line, adds
who asked and how, and drops the traceback."""

from __future__ import annotations

import logging
from typing import Any


def _who(request: Any) -> str:
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return user.get_username()


class ForbiddenOneLine(logging.Filter):
    """On `django.request`: a 403 record becomes "<message> (<METHOD> by <user>)" without a traceback;
    other records pass as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403:
            return True
        request = getattr(record, "request", None)
        method = getattr(request, "method", None) or "?"
        record.msg, record.args = "%s (%s by %s)", (record.getMessage(), method, _who(request))
        record.exc_info = None
        record.exc_text = None
        return True
