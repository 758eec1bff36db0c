"""Log in through the real login form and open every app and model page the admin index lists."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_and_open_every_admin_page(page, live_server, admin_user, admin_login) -> None:
    admin_login(page, live_server, admin_user)
    assert "Reverb back office" in page.title()
    assert page.locator("#site-name").inner_text() == "Reverb back office"
    assert page.locator("#dashboard").is_visible()

    app_links = page.eval_on_selector_all("#content-main .module caption a", "els => els.map(e => e.href)")
    model_links = page.eval_on_selector_all(
        "#content-main .module th[scope=row] a", "els => els.map(e => e.href)"
    )
    assert any(link.endswith("/admin/backoffice/") for link in app_links), app_links
    assert any("/admin/backoffice/reverbaccount/" in link for link in model_links), model_links

    for url in [*app_links, *model_links]:
        response = page.goto(url)
        assert response is not None and response.ok, f"{url} answered {response and response.status}"
        assert page.locator("#content h1").count() >= 1, url
        assert "Server Error" not in page.content()


def test_wrong_password_is_refused(page, live_server, admin_user) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", admin_user.get_username())
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()
    assert page.url.startswith(f"{live_server.url}/admin/login/")
