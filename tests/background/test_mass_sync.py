"""Mass sync as a single-flight bulk job: from the account admin, from the command, refused while one
runs (with a link to it), one item per resource with a link to its SyncRun, resumable."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from backoffice.background.jobs import JobAlreadyRunning, job_url, run_job
from backoffice.background.mass_sync import KIND, start_mass_sync
from backoffice.models import BulkJob
from backoffice.sync import registry
from backoffice.sync.runner import AccountDisabled
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs(settings: Any) -> None:
    settings.WORKER_BACKEND = "none"


def test_mass_sync_runs_one_item_per_resource(emulator: Any, django_capture_on_commit_callbacks: Any) -> None:
    account = AccountFactory(name="shop")
    with django_capture_on_commit_callbacks(execute=True):
        job = start_mass_sync(account, backend="inline")
    job.refresh_from_db()
    assert (job.kind, job.state, job.single_flight, job.params) == (KIND, "succeeded", True, {"full": True})
    assert (job.total, job.processed, job.succeeded) == (
        len(registry.order()),
        len(registry.order()),
        len(registry.order()),
    )
    items = list(job.items.order_by("position"))
    assert [i.key for i in items] == list(registry.order())
    listings = items[0]
    assert listings.result["url"] == reverse(
        "admin:backoffice_syncrun_change", args=[listings.result["sync_run"]]
    )
    assert "fetched" in listings.message and listings.result["created"] > 0


def test_a_second_mass_sync_is_refused_while_one_runs() -> None:
    account = AccountFactory(name="shop")
    first = start_mass_sync(account)
    with pytest.raises(JobAlreadyRunning) as refused:
        start_mass_sync(account)
    assert refused.value.job == first
    start_mass_sync(AccountFactory(name="other"))  # per account


def test_disabled_accounts_are_refused() -> None:
    with pytest.raises(AccountDisabled):
        start_mass_sync(AccountFactory(name="off", enabled=False))


def test_a_resumed_item_runs_the_pull_again(emulator: Any) -> None:
    job = start_mass_sync(AccountFactory(name="shop"))
    job.items.filter(key="listings").update(state="running", attempts=1)  # its worker died
    run_job(job.pk)
    item = job.items.get(key="listings")
    assert (item.state, item.attempts) == ("succeeded", 2)
    assert "interrupted attempt" in item.message


def manager() -> User:
    user = User.objects.create_user("boss", password="password", is_staff=True)
    user.groups.add(Group.objects.get(name="Manager"))
    return user


def test_admin_action_starts_then_refuses_with_a_link() -> None:
    account = AccountFactory(name="shop")
    client = Client()
    client.force_login(manager())
    url = reverse("admin:backoffice_reverbaccount_changelist")
    assert "Mass sync (full)" in client.get(url).content.decode()
    response = client.post(url, {"action": "mass_sync", "_selected_action": [account.pk]})
    job = BulkJob.objects.get(kind=KIND, account=account)
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert job.started_by.username == "boss" and job.state == "queued"

    response = client.post(url, {"action": "mass_sync", "_selected_action": [account.pk]}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("already running" in m and job_url(job) in m for m in messages), messages
    assert BulkJob.objects.filter(kind=KIND).count() == 1
    page = client.get(reverse("admin:backoffice_reverbaccount_change", args=[account.pk])).content.decode()
    assert job_url(job) in page


def test_only_those_who_may_start_jobs_see_the_action() -> None:
    user = User.objects.create_user("ship", password="password", is_staff=True)
    user.groups.add(Group.objects.get(name="Shipping"))
    account = AccountFactory(name="shop")
    client = Client()
    client.force_login(user)
    url = reverse("admin:backoffice_reverbaccount_changelist")
    assert "Mass sync" not in client.get(url).content.decode()
    client.post(url, {"action": "mass_sync", "_selected_action": [account.pk]})
    assert not BulkJob.objects.exists()


def test_command(emulator: Any, capsys: Any, django_capture_on_commit_callbacks: Any) -> None:
    account = AccountFactory(name="shop")
    with django_capture_on_commit_callbacks(execute=True):  # the test's transaction never commits
        call_command("mass_sync", "--account", "shop", "--now")
    out = capsys.readouterr().out
    job = BulkJob.objects.get(account=account)
    assert job.state == "succeeded" and job_url(job) in out and "succeeded" in out
    call_command("mass_sync", "--account", "shop")  # queued (WORKER_BACKEND none: nobody runs it)
    with pytest.raises(CommandError, match="already running"):
        call_command("mass_sync", "--account", "shop")
