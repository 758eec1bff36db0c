"""Issue 24: a refused request is a clean 403 page and one log line (who, what path), not a traceback."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from backoffice.roles import VIEWER, ensure_roles

pytestmark = pytest.mark.django_db


def viewer() -> Client:
    ensure_roles()
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client()
    client.force_login(user)
    return client


def test_a_forbidden_page_is_one_log_line_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    url = reverse("admin:auth_user_changelist")  # managing people is for superusers only
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = viewer().get(url)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()  # the admin's 403 page, not Django's bare one
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is None and not record.exc_text
    line = caplog.handler.format(record)
    assert "Traceback" not in line and "\n" not in line
    assert "Forbidden" in line and url in line and "GET by clerk" in line


def test_an_anonymous_forbidden_post_is_one_line_too(caplog: pytest.LogCaptureFixture) -> None:
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from backoffice.forbiddenlog import ForbiddenOneLine

    request = RequestFactory().post("/admin/x/")
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Forbidden (Permission denied): %s", ("/admin/x/",),
        (PermissionDenied, PermissionDenied(), None),
    )  # fmt: skip
    record.status_code, record.request = 403, request
    assert ForbiddenOneLine().filter(record)
    assert record.getMessage() == "Forbidden (Permission denied): /admin/x/ (POST by anonymous)"
    assert record.exc_info is None


def test_other_request_errors_keep_their_traceback() -> None:
    from backoffice.forbiddenlog import ForbiddenOneLine

    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/x/",),
        (ValueError, ValueError("boom"), None),
    )  # fmt: skip
    record.status_code = 500
    assert ForbiddenOneLine().filter(record) and record.exc_info is not None
