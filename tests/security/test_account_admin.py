"""Issue 16 items 3, 10, 11: the account's API URL and token, "Verify connection" and the webhook URL.

Verifying sends the stored token, so it is account management (Managers); the webhook URL is its only
secret (Managers only); a new API URL drops the token, and the URL must be Reverb's or a host the install
allows, https except on loopback."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from backoffice.background import webhooks
from backoffice.models import ReverbAccount
from backoffice.models.account import api_url_refusal
from backoffice.roles import CUSTOMER_SERVICE, MANAGER, SHIPPING, VIEWER, ensure_roles
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:backoffice_reverbaccount_changelist"


def client_in(role: str) -> Client:
    ensure_roles()
    user = User.objects.create_user(role.replace(" ", "-"), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def fake_verify(self: ReverbAccount) -> tuple[bool, str]:
        calls.append(self.name)
        return True, "the shop"

    monkeypatch.setattr(ReverbAccount, "verify", fake_verify)
    return calls


@pytest.mark.parametrize("role", [VIEWER, SHIPPING, CUSTOMER_SERVICE])
def test_only_managers_verify_the_connection(role: str, verified: list[str]) -> None:
    account = AccountFactory()
    client = client_in(role)
    response = client.post(
        reverse(CHANGELIST), {"action": "verify_connection", "_selected_action": [account.pk]}
    )
    assert response.status_code in (200, 302, 403)  # the changelist again, without the action
    assert verified == []
    assert "verify_connection" not in client.get(reverse(CHANGELIST)).content.decode()


def test_a_manager_verifies_the_connection(verified: list[str]) -> None:
    account = AccountFactory()
    response = client_in(MANAGER).post(
        reverse(CHANGELIST), {"action": "verify_connection", "_selected_action": [account.pk]}
    )
    assert response.status_code == 302
    assert verified == [account.name]


@pytest.mark.parametrize("role", [VIEWER, SHIPPING, CUSTOMER_SERVICE])
def test_the_webhook_url_is_hidden_from_other_roles(role: str) -> None:
    account = AccountFactory()
    page = client_in(role).get(reverse("admin:backoffice_reverbaccount_change", args=[account.pk]))
    assert page.status_code == 200
    assert account.webhook_secret not in page.content.decode()
    assert webhooks.webhook_path(account) not in page.content.decode()


def test_a_manager_sees_the_webhook_url() -> None:
    account = AccountFactory()
    page = client_in(MANAGER).get(reverse("admin:backoffice_reverbaccount_change", args=[account.pk]))
    assert account.webhook_secret in page.content.decode()


# ---- item 3: the API URL and its token ----


@pytest.mark.parametrize(
    "url",
    [
        "https://api.reverb.com/api",
        "https://sandbox.reverb.com/api",
        "http://127.0.0.1:8765/api",
        "http://localhost:8765/api",
        "http://[::1]:8765/api",
    ],
)
def test_reverb_and_the_loopback_emulator_are_allowed(url: str, settings: Any) -> None:
    settings.REVERB_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]
    assert api_url_refusal(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://api.reverb.com/api",  # Reverb, but not https
        "https://api.reverb.com.evil.example/api",
        "https://evil.example/api",
        "http://10.0.0.5:5432/",  # a private service
        "http://169.254.169.254/latest/meta-data",
        "https://user:pw@api.reverb.com/api",
        "http://127.0.0.1:8866\\@api.reverb.com/api",
        "ftp://api.reverb.com/api",
    ],
)
def test_other_hosts_are_refused(url: str, settings: Any) -> None:
    settings.REVERB_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]
    assert api_url_refusal(url)
    with pytest.raises(ValidationError) as caught:
        ReverbAccount(name="x", api_url=url).full_clean(exclude=["token_encrypted"])
    assert "api_url" in caught.value.message_dict


def test_an_allowed_non_loopback_host_needs_https_unless_listed_with_http(settings: Any) -> None:
    settings.REVERB_ALLOWED_HOSTS = ["reverb-proxy.internal", "http://emulator.lan:8765"]
    assert api_url_refusal("https://reverb-proxy.internal/api") is None
    assert "https" in api_url_refusal("http://reverb-proxy.internal/api")
    assert api_url_refusal("http://emulator.lan:8765/api") is None
    assert api_url_refusal("http://emulator.lan:9999/api")


def test_production_allows_no_loopback_by_default(settings: Any) -> None:
    settings.REVERB_ALLOWED_HOSTS = []
    assert api_url_refusal("http://127.0.0.1:8765/api")
    assert api_url_refusal("https://api.reverb.com/api") is None


def test_a_new_url_drops_the_token() -> None:
    account = AccountFactory(api_url="https://api.reverb.com/api")
    account = ReverbAccount.objects.get(pk=account.pk)
    assert account.has_token
    account.api_url = "https://sandbox.reverb.com/api"
    account.save()
    assert not ReverbAccount.objects.get(pk=account.pk).has_token
    # A new URL with a new token keeps the new token.
    account.api_url = "https://api.reverb.com/api"
    account.set_token("fresh-token")
    account.save()
    assert ReverbAccount.objects.get(pk=account.pk).get_token() == "fresh-token"
    # Saving other fields keeps the token.
    account = ReverbAccount.objects.get(pk=account.pk)
    account.enabled = False
    account.save(update_fields=["enabled"])
    assert ReverbAccount.objects.get(pk=account.pk).get_token() == "fresh-token"


def account_form(account: ReverbAccount, **changes: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": account.name,
        "api_url": account.api_url,
        "currency": account.currency,
        "enabled": "on",
        "time_zone": "UTC",
        "reconcile_at": "03:00",
        "push_inventory": "on",
    }
    data.update(changes)
    return data


def test_the_admin_form_refuses_a_foreign_host_and_drops_the_token_on_a_new_url() -> None:
    account = AccountFactory(api_url="https://api.reverb.com/api")
    manager = client_in(MANAGER)
    change = reverse("admin:backoffice_reverbaccount_change", args=[account.pk])
    page = manager.post(change, account_form(account, api_url="https://evil.example/api"))
    assert page.status_code == 200 and "Refused API URL" in page.content.decode()
    assert ReverbAccount.objects.get(pk=account.pk).api_url == "https://api.reverb.com/api"

    page = manager.post(change, account_form(account, api_url="https://sandbox.reverb.com/api"))
    assert page.status_code == 302
    stored = ReverbAccount.objects.get(pk=account.pk)
    assert stored.api_url == "https://sandbox.reverb.com/api" and not stored.has_token

    page = manager.post(
        change, account_form(stored, api_url="https://api.reverb.com/api", new_token="brand-new")
    )
    assert page.status_code == 302
    assert ReverbAccount.objects.get(pk=account.pk).get_token() == "brand-new"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("reverb_account", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_the_command_refuses_a_foreign_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVERB_TOKEN", "tok")
    with pytest.raises(CommandError, match="Refused API URL"):
        run("add", "evil", "--api-url", "https://evil.example/api", "--no-check")
    assert not ReverbAccount.objects.filter(name="evil").exists()


def test_set_url_needs_a_new_token_and_an_allowed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    account = AccountFactory(api_url="https://api.reverb.com/api")
    monkeypatch.setattr(ReverbAccount, "verify", lambda self: (True, "shop"))
    with pytest.raises(CommandError, match="Refused API URL"):
        run("set-url", account.name, "http://10.0.0.5:5432/")
    stored = ReverbAccount.objects.get(pk=account.pk)
    assert stored.api_url == "https://api.reverb.com/api" and stored.has_token

    monkeypatch.setenv("REVERB_TOKEN", "sandbox-token")
    run("set-url", account.name, "https://sandbox.reverb.com/api")
    stored = ReverbAccount.objects.get(pk=account.pk)
    assert stored.api_url == "https://sandbox.reverb.com/api"
    assert stored.get_token() == "sandbox-token"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, "internal-service-secret-banner"),
        (404, {"message": "internal-service-secret-banner"}),
        (401, {"error": "internal-service-secret-banner"}),
        (200, "internal-service-secret-banner"),
    ],
)
def test_verify_never_echoes_a_foreign_body(status: int, body: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.reverb.errors import UnexpectedResponseError, error_for_status

    account = AccountFactory()
    where = "/api/my/account"
    if status == 200:
        error = UnexpectedResponseError(f"not JSON: {body!r}", status=200, method="GET", url=where, body=body)
    else:
        error = error_for_status(status, body, method="GET", url=where)

    class Answers:
        def get_account(self) -> Any:
            raise error

    monkeypatch.setattr(ReverbAccount, "client", lambda self, **kw: Answers())
    ok, message = account.verify()
    assert not ok
    assert "internal-service-secret-banner" not in message
    assert str(status) in message


def test_make_run_points_the_demo_account_at_the_loopback_emulator(settings: Any) -> None:
    from backoffice.management.commands.run_backoffice import Run, demo_account

    settings.REVERB_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]  # the DEBUG default
    run = Run(host="127.0.0.1", port=8000, emulator_port=8765, emulator_running=True)
    demo_account(run)
    run2 = Run(host="127.0.0.1", port=8000, emulator_port=8766, emulator_running=True)
    demo_account(run2)  # a new port and a new token: both kept
    account = ReverbAccount.objects.get(name="demo")
    account.full_clean()
    assert account.api_url == "http://127.0.0.1:8766/api"
    assert account.get_token() == run2.emulator_token
