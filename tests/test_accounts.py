"""ReverbAccount: token encryption, the token never showing anywhere, the admin, reverb_account."""

from __future__ import annotations

import io
import logging
import re

import pytest
from cryptography.fernet import Fernet
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from backoffice import crypto
from backoffice.admin.base import MirrorAdmin
from backoffice.models import ReverbAccount
from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN
from tests.factories import AccountFactory

SECRET = "s3cret-Reverb-token-DO-NOT-LEAK-4242"
UNREACHABLE = "http://127.0.0.1:9/api"  # loopback (allowed by the network guard), nothing listens


@pytest.fixture(autouse=True)
def _no_retry_waits(settings) -> None:
    settings.REVERB_MAX_RETRIES = 0


@pytest.fixture
def staff_client(db) -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    client = Client()
    client.force_login(user)
    return client


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("reverb_account", *args, stdout=out, stderr=out)
    return out.getvalue()


# encryption


def test_token_round_trip_and_ciphertext_hides_it(db) -> None:
    account = AccountFactory(token=SECRET)
    account.refresh_from_db()
    assert account.get_token() == SECRET
    assert SECRET not in account.token_encrypted
    assert account.has_token


def test_blank_token_means_none(db) -> None:
    account = AccountFactory(token="")
    assert not account.has_token and account.get_token() == ""


def test_keys_rotate_with_multifernet(db, settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [old]
    account = AccountFactory(token=SECRET)
    settings.TOKEN_ENCRYPTION_KEYS = [new, old]
    assert account.get_token() == SECRET
    rotated = crypto.rotate(account.token_encrypted)
    settings.TOKEN_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == SECRET


def test_wrong_key_error_does_not_leak(db, settings) -> None:
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    account = AccountFactory(token=SECRET)
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.TokenDecryptionError) as exc:
        account.get_token()
    assert SECRET not in str(exc.value)
    ok, message = account.verify()
    assert not ok and "cannot be decrypted" in message


def test_dev_key_is_derived_from_secret_key(settings) -> None:
    settings.TOKEN_ENCRYPTION_KEYS = []
    first = crypto.derived_dev_key()
    settings.SECRET_KEY = "another-secret-key-" * 4
    assert crypto.derived_dev_key() != first
    Fernet(first)  # a valid Fernet key


# the token never shows


def test_token_not_in_repr_str(db) -> None:
    account = AccountFactory(token=SECRET)
    assert SECRET not in repr(account) and SECRET not in str(account)


def test_token_not_in_changelist_or_change_form(staff_client: Client) -> None:
    account = AccountFactory(name="main", token=SECRET)
    changelist = staff_client.get(reverse("admin:backoffice_reverbaccount_changelist")).content.decode()
    change_url = reverse("admin:backoffice_reverbaccount_change", args=[account.pk])
    change = staff_client.get(change_url).content.decode()
    assert "main" in changelist and "New token (leave blank to keep)" in change
    for html in (changelist, change):
        assert SECRET not in html
        assert account.token_encrypted not in html
        assert SECRET[-4:] not in html  # not even "ends in ..."
    assert '<div class="readonly">set</div>' in change


def _saved(name: str, api_url: str, token: str) -> ReverbAccount:
    # Not through the factory: factory-boy's own debug log prints its arguments.
    account = ReverbAccount(name=name, api_url=api_url)
    account.set_token(token)
    account.save()
    return account


def test_token_not_in_logs_or_failed_check_messages(db, caplog, emulator) -> None:
    caplog.set_level(logging.DEBUG)
    account = _saved("down", UNREACHABLE, SECRET)
    ok, message = account.verify()
    assert not ok
    wrong = _saved("wrong", EMULATOR_API_URL, SECRET)  # the emulator refuses this token
    ok2, message2 = wrong.verify()
    assert not ok2
    with pytest.raises(CommandError) as exc:
        run("check", account.name)
    for text in (message, message2, str(exc.value), caplog.text):
        assert SECRET not in text
    assert "verify" in caplog.text  # the log was written, just without the token


def test_admin_form_sets_and_keeps_the_token(staff_client: Client) -> None:
    account = AccountFactory(name="main", token=SECRET)
    url = reverse("admin:backoffice_reverbaccount_change", args=[account.pk])
    data = {
        "name": "main",
        "api_url": EMULATOR_API_URL,
        "currency": "EUR",
        "enabled": "on",
        "push_inventory": "on",
        "new_token": "",
        "time_zone": "UTC",
        "reconcile_at": "03:00",
    }
    assert staff_client.post(url, data).status_code == 302
    account.refresh_from_db()
    assert account.get_token() == SECRET and account.currency == "EUR"
    assert staff_client.post(url, {**data, "new_token": "  replaced-token  "}).status_code == 302
    account.refresh_from_db()
    assert account.get_token() == "replaced-token"


def test_admin_add_form_creates_account_with_token(staff_client: Client) -> None:
    add_page = staff_client.get(reverse("admin:backoffice_reverbaccount_add")).content.decode()
    # Like Reverb's Magento plugin, only inventory is pushed by default.
    assert re.search(r'name="push_inventory"[^>]* checked', add_page)
    assert not re.search(r'name="push_price"[^>]* checked', add_page)
    data = {
        "name": "new",
        "api_url": EMULATOR_API_URL,
        "currency": "USD",
        "new_token": SECRET,
        "time_zone": "America/Chicago",
        "reconcile_at": "03:00",
    }
    response = staff_client.post(reverse("admin:backoffice_reverbaccount_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ReverbAccount.objects.get(name="new")
    assert account.get_token() == SECRET
    assert "New token" in add_page and SECRET not in add_page


def test_admin_form_refuses_an_unknown_time_zone(staff_client: Client) -> None:
    data = {
        "name": "tz",
        "api_url": EMULATOR_API_URL,
        "currency": "USD",
        "time_zone": "Mars/Olympus",
        "reconcile_at": "03:00",
    }
    response = staff_client.post(reverse("admin:backoffice_reverbaccount_add"), data)
    assert response.status_code == 200
    assert "Unknown time zone" in response.content.decode()
    assert not ReverbAccount.objects.filter(name="tz").exists()


def test_verify_connection_action(staff_client: Client, emulator) -> None:
    good = AccountFactory(name="good")
    bad = AccountFactory(name="bad", token="rejected-token")
    down = AccountFactory(name="down", api_url=UNREACHABLE)
    response = staff_client.post(
        reverse("admin:backoffice_reverbaccount_changelist"),
        {"action": "verify_connection", "_selected_action": [good.pk, bad.pk, down.pk]},
        follow=True,
    )
    said = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert ("info", "good: checking the token's scopes") in [(lvl, text[:33]) for lvl, text in said]
    texts = {text.split(":")[0]: (lvl, text) for lvl, text in said if "scopes" not in text}
    assert texts["good"][0] == "success" and "connected to" in texts["good"][1]
    assert texts["bad"][0] == "error" and "401" in texts["bad"][1]
    assert texts["down"][0] == "error"
    assert "rejected-token" not in response.content.decode()


# MirrorAdmin


def test_mirror_admin_is_read_only_and_undeletable(db) -> None:
    model_admin = MirrorAdmin(ReverbAccount, AdminSite())
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-123")
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_add_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)
    assert "delete_selected" in admin.ModelAdmin(ReverbAccount, AdminSite()).get_actions(request)
    assert {"name", "api_url", "enabled"} <= set(model_admin.get_readonly_fields(request))


# the reverb_account command


def test_add_reads_token_from_env_and_checks(db, emulator, monkeypatch) -> None:
    monkeypatch.setenv("REVERB_TOKEN", EMULATOR_TOKEN)
    emulator.store.shop["currency"] = "GBP"  # the shop's own currency, read when the account is added
    out = run("add", "shop", "--api-url", EMULATOR_API_URL, "--currency", "GBP")
    account = ReverbAccount.objects.get(name="shop")
    assert account.get_token() == EMULATOR_TOKEN and account.currency == "GBP"
    assert "Saved account 'shop'" in out and "connected to" in out
    assert EMULATOR_TOKEN not in out


def test_add_corrects_the_currency_to_the_shops(db, emulator, monkeypatch) -> None:
    """Refunds must be in the shop's currency (API-NOTES 16.4): a wrong one is corrected when the account
    is added, with a clear message, not left to fail every seller refund later."""
    monkeypatch.setenv("REVERB_TOKEN", EMULATOR_TOKEN)
    emulator.store.shop["currency"] = "GBP"
    out = run("add", "uk", "--api-url", EMULATOR_API_URL, "--currency", "USD")
    assert ReverbAccount.objects.get(name="uk").currency == "GBP"
    assert "currency corrected from USD to GBP (the shop's currency on Reverb)" in out


def test_verify_reads_the_shops_currency(db, emulator) -> None:
    account = AccountFactory(currency="EUR")
    ok, message = account.verify()
    assert ok and "currency corrected from EUR to USD" in message
    account.refresh_from_db()
    assert account.currency == "USD"
    assert account.verify() == (True, message.split(";")[0])  # nothing more to correct


def test_add_with_unreachable_url_still_saves_and_says_so(db, monkeypatch) -> None:
    monkeypatch.setenv("REVERB_TOKEN", SECRET)
    out = run("add", "offline", "--api-url", UNREACHABLE)
    assert ReverbAccount.objects.get(name="offline").get_token() == SECRET
    assert "saved, but the connection check failed" in out
    assert SECRET not in out


def test_add_with_rejected_token_still_saves_and_says_so(db, emulator, monkeypatch) -> None:
    monkeypatch.setenv("REVERB_TOKEN", SECRET)
    out = run("add", "wrong", "--api-url", EMULATOR_API_URL)
    assert ReverbAccount.objects.filter(name="wrong").exists()
    assert "connection check failed" in out and "401" in out
    assert SECRET not in out


def test_add_never_takes_the_token_as_an_argument(db, monkeypatch) -> None:
    monkeypatch.delenv("REVERB_TOKEN", raising=False)
    with pytest.raises(CommandError):
        run("add", "x", "--api-url", UNREACHABLE, "--token", SECRET)
    # No REVERB_TOKEN and no terminal (pytest's stdin): refuse rather than save a tokenless account.
    with pytest.raises(CommandError, match="REVERB_TOKEN"):
        run("add", "x", "--api-url", UNREACHABLE)
    assert not ReverbAccount.objects.exists()


def test_add_rejects_bad_url_and_duplicates(db, monkeypatch) -> None:
    monkeypatch.setenv("REVERB_TOKEN", SECRET)
    with pytest.raises(CommandError, match="api_url"):
        run("add", "x", "--api-url", "not a url", "--no-check")
    run("add", "x", "--api-url", UNREACHABLE, "--no-check")
    with pytest.raises(CommandError, match="already exists"):
        run("add", "x", "--api-url", UNREACHABLE, "--no-check")


def test_list_disable_enable_remove(db) -> None:
    AccountFactory(name="alpha")
    AccountFactory(name="beta", token="")
    out = run("list")
    assert "alpha" in out and "token set" in out and "no token" in out

    run("disable", "alpha")
    assert not ReverbAccount.objects.get(name="alpha").enabled
    assert "disabled" in run("list")
    ok, message = ReverbAccount.objects.get(name="alpha").verify()
    assert not ok and "disabled" in message  # a disabled account is never called
    run("enable", "alpha")
    assert ReverbAccount.objects.get(name="alpha").enabled

    with pytest.raises(CommandError, match="--yes"):
        run("remove", "alpha")  # no terminal to confirm on
    assert ReverbAccount.objects.filter(name="alpha").exists()
    run("remove", "alpha", "--yes")
    assert not ReverbAccount.objects.filter(name="alpha").exists()
    with pytest.raises(CommandError, match="No Reverb account"):
        run("remove", "alpha", "--yes")


def test_set_token(db, emulator, monkeypatch) -> None:
    account = AccountFactory(name="shop", token="old-token")
    monkeypatch.setenv("REVERB_TOKEN", EMULATOR_TOKEN)
    out = run("set-token", "shop")
    account.refresh_from_db()
    assert account.get_token() == EMULATOR_TOKEN and "connected to" in out


def test_check_prints_shop_name(db, emulator) -> None:
    AccountFactory(name="shop")
    out = run("check", "shop")
    assert out.startswith("shop: connected to ")
    assert "no shop name" not in out


def test_check_fails_with_exact_reason(db, emulator) -> None:
    AccountFactory(name="bad", token="nope-token")
    with pytest.raises(CommandError, match=r"bad: 401"):
        run("check", "bad")
    AccountFactory(name="down", api_url=UNREACHABLE)
    with pytest.raises(CommandError, match=r"down: .*(onnect|refused)"):
        run("check", "down")
