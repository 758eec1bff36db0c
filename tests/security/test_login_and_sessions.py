"""Issue 16 item 9 (login throttling with django-axes; issue 24: per user name and address, a styled page
with the time left, cleared by Managers) and sessions that end after a working day idle."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from backoffice.roles import MANAGER, VIEWER, ensure_roles

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


def attempt(client: Client, username: str, password: str, ip: str = "10.0.0.1") -> int:
    response = client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip
    )
    return response.status_code


def test_five_failures_lock_the_user_out_at_that_address_even_with_the_right_password(settings) -> None:
    assert settings.AXES_ENABLED and settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_COOLOFF_TIME == 1
    User.objects.create_user("clerk", password="right-pw-123", is_staff=True)
    client = Client()
    for _ in range(4):
        assert attempt(client, "clerk", "wrong") == 200  # the form again, with its error
    assert attempt(client, "clerk", "right-pw-123") == 302  # success resets
    client = Client()
    for _ in range(5):
        attempt(client, "clerk", "wrong")
    assert attempt(client, "clerk", "right-pw-123") == 429  # locked at 10.0.0.1
    assert "_auth_user_id" not in client.session
    assert attempt(Client(), "clerk", "right-pw-123", ip="10.0.0.2") == 302  # the same clerk elsewhere


def test_a_lockout_does_not_lock_out_the_others_at_that_address() -> None:
    """Issue 24: a clerk's typos at the shop's one address locked everyone there out, the superuser too."""
    User.objects.create_user("other", password="right-pw-123", is_staff=True)
    User.objects.create_superuser("root", "root@example.com", "root-pw-123")
    for _ in range(5):
        attempt(Client(), "clerk", "wrong", ip="10.0.0.7")
    for i in range(5):
        attempt(Client(), f"guess{i}", "wrong", ip="10.0.0.7")
    assert attempt(Client(), "clerk", "wrong", ip="10.0.0.7") == 429
    assert attempt(Client(), "other", "right-pw-123", ip="10.0.0.7") == 302
    assert attempt(Client(), "root", "root-pw-123", ip="10.0.0.7") == 302


def test_the_lockout_page_is_the_admins_and_says_how_long_is_left(settings) -> None:
    from datetime import timedelta

    from django.utils import timezone

    for _ in range(5):
        attempt(Client(), "clerk", "wrong")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=18))
    response = Client().post(LOGIN, {"username": "clerk", "password": "x"}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    html = response.content.decode()
    assert 'id="site-name"' in html and "admin/css/base.css" in html  # extends the admin's base template
    assert "Try again in" in html and "41\xa0minutes" in html  # 60 - 18 - a few seconds, rounded down
    assert "clerk" in html and "axes_reset_username" in html
    # CSP-safe: no inline script or style, no style attribute (the policy would block them).
    assert "<style" not in html and " style=" not in html
    assert all("src=" in tag for tag in html.split("<script")[1:])
    # Trying again during the lockout does not push its end further (the time left holds).
    assert AccessAttempt.objects.get().failures_since_start == 5


def test_lockouts_are_seen_and_cleared_by_managers_and_superusers_only(admin_client: Client) -> None:
    for _ in range(5):
        attempt(Client(), "victim", "wrong", ip="10.0.0.5")
    assert AccessAttempt.objects.filter(username="victim").exists()
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200 and "victim" in page.content.decode()

    ensure_roles()
    manager = User.objects.create_user("boss", password="pw", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGER))
    client = Client()
    client.force_login(manager)
    page = client.get(changelist)
    assert page.status_code == 200 and "victim" in page.content.decode()
    row = AccessAttempt.objects.get(username="victim")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    assert response.status_code == 302 and not AccessAttempt.objects.exists()
    User.objects.create_user("victim", password="victim-pw-1", is_staff=True)
    assert attempt(Client(), "victim", "victim-pw-1", ip="10.0.0.5") == 302  # cleared: signs in again

    viewer = User.objects.create_user("look", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(viewer)
    assert client.get(changelist).status_code == 403


def test_client_login_in_tests_still_works() -> None:
    User.objects.create_user("t", password="pw-123-abc", is_staff=True)
    assert Client().login(username="t", password="pw-123-abc")


def test_sessions_end_after_a_working_day_idle(settings, admin_user: User) -> None:
    assert 8 * 3600 <= settings.SESSION_COOKIE_AGE <= 10 * 3600
    assert settings.SESSION_SAVE_EVERY_REQUEST
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    age = client.session.get_expiry_age()
    assert 8 * 3600 <= age <= 10 * 3600
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert 8 * 3600 <= int(cookie["max-age"]) <= 10 * 3600  # renewed by the request


def test_a_session_idle_too_long_is_over(settings, admin_user: User) -> None:
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = Client()
    client.force_login(admin_user)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/admin/")
    assert response.status_code == 302 and LOGIN in response["Location"]
