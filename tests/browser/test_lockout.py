"""Issue 24: the login lockout in a real browser: the admin's own page (styled, no CSP violation) saying how
long is left, and the superuser at the same address still signs in."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOT = os.environ.get("LOCKOUT_SCREENSHOT", "/tmp/lockout.png")


def test_the_lockout_page_in_a_browser(
    page: Any, live_server: Any, admin_user: Any, admin_login: Any
) -> None:
    User.objects.create_user("clerk", password="right-pw-123", is_staff=True)
    problems: list[str] = []
    # The 429 itself is reported on the console as a failed resource; anything else is a problem.
    page.on("console", lambda m: m.type == "error" and "429" not in m.text and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    for _ in range(5):
        page.fill("#id_username", "clerk")
        page.fill("#id_password", "wrong")
        with page.expect_navigation() as navigation:
            page.click("input[type=submit]")
        if page.locator(".lockout-page").count():
            break
    assert navigation.value.status == 429
    left = page.locator("#lockout-left")
    assert "Try again in" in left.inner_text() and "minutes" in left.inner_text()
    assert page.locator("#header").is_visible()  # the admin's frame, styled by its stylesheet
    assert page.eval_on_selector(".errornote", "e => getComputedStyle(e).borderStyle") != "none"
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert not problems, problems
    # The superuser at the same address is not locked out with the clerk.
    admin_login(page, live_server, admin_user)
