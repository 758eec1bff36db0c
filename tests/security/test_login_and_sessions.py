"""Issue 16 item 9 (login throttling with django-axes) and sessions that end after a working day idle."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from backoffice.roles import MANAGER, ensure_roles

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


def attempt(client: Client, username: str, password: str, ip: str = "10.0.0.1") -> int:
    response = client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip
    )
    return response.status_code


def test_five_failures_lock_the_user_out_even_with_the_right_password(settings) -> None:
    assert settings.AXES_ENABLED and settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_COOLOFF_TIME == 1
    User.objects.create_user("clerk", password="right-pw-123", is_staff=True)
    client = Client()
    for _ in range(4):
        assert attempt(client, "clerk", "wrong") == 200  # the form again, with its error
    assert attempt(client, "clerk", "right-pw-123", ip="10.0.0.9") == 302  # success resets
    client = Client()
    for _ in range(5):
        attempt(client, "clerk", "wrong")
    assert attempt(client, "clerk", "right-pw-123", ip="10.0.0.2") == 429  # per user, any address
    assert "_auth_user_id" not in client.session


def test_an_address_is_locked_out_across_user_names() -> None:
    User.objects.create_user("other", password="right-pw-123", is_staff=True)
    client = Client()
    for i in range(5):
        attempt(client, f"guess{i}", "wrong", ip="10.0.0.7")
    assert attempt(client, "other", "right-pw-123", ip="10.0.0.7") == 429
    assert attempt(Client(), "other", "right-pw-123", ip="10.0.0.8") == 302


def test_lockouts_are_visible_to_superusers_only(admin_client: Client) -> None:
    for _ in range(5):
        attempt(Client(), "victim", "wrong", ip="10.0.0.5")
    assert AccessAttempt.objects.filter(username="victim").exists()
    page = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200 and "victim" in page.content.decode()

    ensure_roles()
    manager = User.objects.create_user("boss", password="pw", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGER))
    client = Client()
    client.force_login(manager)
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


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
