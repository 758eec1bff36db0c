"""The bulk job runner and its admin pages: outcomes and counts, cancellation, resuming after a crash,
single flight, permissions, and constant query counts on the job page and progress endpoint."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.background import jobs
from backoffice.background.jobs import (
    ItemSpec,
    JobAlreadyRunning,
    Outcome,
    create_job,
    job_url,
    recover_stale_jobs,
    register_job_handlers,
    request_cancel,
    run_job,
)
from backoffice.models import BulkJob, BulkJobItem
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

CALLS: list[tuple[str, bool]] = []
HOOKS: dict[str, Callable[[BulkJob, BulkJobItem], Any]] = {}


def echo(job: BulkJob, item: BulkJobItem, *, resumed: bool) -> Outcome:
    CALLS.append((item.key, resumed))
    if item.key in HOOKS:
        return HOOKS[item.key](job, item)
    if item.key.startswith("fail"):
        return Outcome.failed(f"{item.key} refused", code=422)
    if item.key.startswith("skip"):
        return Outcome.skipped("nothing to do")
    if item.key.startswith("boom"):
        raise RuntimeError("handler bug")
    return Outcome.ok(f"did {item.key}", url=f"/admin/x/{item.key}/")


register_job_handlers({"tests.echo": echo})


@pytest.fixture(autouse=True)
def _inline(settings: Any) -> None:
    settings.WORKER_BACKEND = "none"  # each test runs run_job itself
    CALLS.clear()
    HOOKS.clear()


def make_job(*keys: str, **kwargs: Any) -> BulkJob:
    return create_job(
        "tests.echo", title="Echo", items=[ItemSpec(k, label=k.upper()) for k in keys], **kwargs
    )


def items(job: BulkJob) -> list[tuple[str, str, str, int]]:
    return list(job.items.order_by("position").values_list("key", "state", "message", "attempts"))


def test_outcomes_and_counts() -> None:
    job = make_job("a", "fail-b", "skip-c", "boom-d")
    assert run_job(job.pk) == f"job {job.pk}: 1 succeeded, 2 failed, 1 skipped"
    job.refresh_from_db()
    assert (job.state, job.total, job.processed, job.percent) == ("partial", 4, 4, 100)
    assert (job.succeeded, job.failed, job.skipped) == (1, 2, 1)
    assert items(job) == [
        ("a", "succeeded", "did a", 1),
        ("fail-b", "failed", "fail-b refused", 1),
        ("skip-c", "skipped", "nothing to do", 1),
        ("boom-d", "failed", "RuntimeError: handler bug", 1),
    ]
    assert job.items.get(key="fail-b").result == {"code": 422}
    assert job.started_at and job.finished_at
    assert run_job(job.pk) == f"job {job.pk} already partial"  # re-delivered: nothing done twice
    assert len(CALLS) == 4


def test_all_failed_is_failed_and_all_ok_is_succeeded() -> None:
    failed = make_job("fail-1", "fail-2")
    run_job(failed.pk)
    ok = make_job("x", "y")
    run_job(ok.pk)
    assert BulkJob.objects.get(pk=failed.pk).state == "failed"
    assert BulkJob.objects.get(pk=ok.pk).state == "succeeded"


def test_cancel_stops_between_items_and_records_the_rest_as_not_sent() -> None:
    job = make_job("a", "b", "c", "d")
    HOOKS["b"] = lambda job, item: (request_cancel(job), Outcome.ok("b done"))[1]
    assert "2 item(s) not sent" in run_job(job.pk)
    job.refresh_from_db()
    assert job.state == "cancelled" and job.finished_at
    assert (job.processed, job.succeeded) == (2, 2)
    assert items(job) == [
        ("a", "succeeded", "did a", 1),
        ("b", "succeeded", "b done", 1),  # the item in flight finishes and is recorded
        ("c", "cancelled", jobs.NOT_SENT, 0),
        ("d", "cancelled", jobs.NOT_SENT, 0),
    ]
    assert CALLS == [("a", False), ("b", False)]


def test_cancel_a_job_no_worker_picked_up_is_immediate() -> None:
    job = make_job("a", "b")
    assert request_cancel(job)
    job.refresh_from_db()
    assert job.state == "cancelled"
    assert {state for _, state, _, _ in items(job)} == {"cancelled"}
    assert run_job(job.pk) == f"job {job.pk} already cancelled"
    assert not request_cancel(job)  # finished: nothing to cancel
    assert CALLS == []


def test_a_crashed_worker_leaves_the_item_running_and_the_next_run_resumes_it() -> None:
    job = make_job("a", "b", "c")
    HOOKS["b"] = lambda job, item: (_ for _ in ()).throw(SystemExit("worker killed"))
    with pytest.raises(SystemExit):  # not an Exception: nothing records it, like a SIGKILL
        run_job(job.pk)
    assert items(job) == [("a", "succeeded", "did a", 1), ("b", "running", "", 1), ("c", "pending", "", 0)]
    HOOKS.clear()
    run_job(job.pk)
    assert CALLS == [("a", False), ("b", False), ("b", True), ("c", False)]
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded) == ("succeeded", 3, 3)
    assert [a for _, _, _, a in items(job)] == [1, 2, 1]


def test_a_runner_failure_fails_the_job_and_every_item_keeps_a_record(monkeypatch: Any) -> None:
    job = make_job("a", "b", "c")
    real = jobs._run_item

    def flaky(job: BulkJob, item: BulkJobItem, handler: Any) -> None:
        if item.key == "b":
            raise RuntimeError("database went away")
        real(job, item, handler)

    monkeypatch.setattr(jobs, "_run_item", flaky)
    with pytest.raises(RuntimeError):
        run_job(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "database went away" in job.error
    assert [(k, s) for k, s, _, _ in items(job)] == [
        ("a", "succeeded"),
        ("b", "cancelled"),
        ("c", "cancelled"),
    ]
    assert all("Not sent: the job failed" in m for _, s, m, _ in items(job) if s == "cancelled")


def test_two_runs_of_one_job_never_count_an_item_twice() -> None:
    job = make_job("a", "b")

    def second_worker(job: BulkJob, item: BulkJobItem) -> Outcome:
        HOOKS.clear()
        run_job(job.pk)  # a duplicate delivery running while this one is in the middle of "a"
        return Outcome.ok("first worker's answer")

    HOOKS["a"] = second_worker
    run_job(job.pk)
    job.refresh_from_db()
    assert (job.processed, job.succeeded, job.total) == (2, 2, 2)


def test_single_flight_per_kind_and_account() -> None:
    account, other = AccountFactory(name="one"), AccountFactory(name="two")
    first = make_job("a", account=account, single_flight=True)
    with pytest.raises(JobAlreadyRunning) as refused:
        make_job("a", account=account, single_flight=True)
    assert refused.value.job == first
    make_job("a", account=other, single_flight=True)  # another account: fine
    make_job("a", account=account)  # not single-flight: fine
    run_job(first.pk)
    make_job("a", account=account, single_flight=True)  # the first one finished


def test_the_database_refuses_a_second_active_single_flight_job() -> None:
    from django.db import IntegrityError, transaction

    account = AccountFactory(name="one")
    make_job("a", account=account, single_flight=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        BulkJob.objects.create(kind="tests.echo", title="x", account=account, single_flight=True)


def test_recover_stale_jobs_re_enqueues_jobs_without_heartbeat(settings: Any) -> None:
    job = make_job("a", "b")
    BulkJob.objects.filter(pk=job.pk).update(
        state="running", heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
    )
    fresh = make_job("c")
    BulkJob.objects.filter(pk=fresh.pk).update(state="running", heartbeat_at=timezone.now())
    settings.WORKER_BACKEND = "inline"
    assert recover_stale_jobs(older_than_seconds=600) == [job.pk]
    assert BulkJob.objects.get(pk=job.pk).state == "succeeded"
    assert BulkJob.objects.get(pk=fresh.pk).state == "running"


def test_unknown_kind_is_a_clear_error() -> None:
    job = create_job("nosuchapp.thing", title="x", items=[ItemSpec("a")])
    with pytest.raises(LookupError, match="nosuchapp.thing"):
        run_job(job.pk)


def test_job_url() -> None:
    job = make_job("a")
    assert job_url(job) == f"/admin/backoffice/bulkjob/{job.pk}/change/"
    assert job_url(job.pk) == job_url(job)


# ---- admin --------------------------------------------------------------------------------------------


def staff(name: str, role: str) -> User:
    user = User.objects.create_user(name, password="password", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def manager() -> User:
    return staff("manager", "Manager")


@pytest.fixture
def shipper() -> User:
    return staff("shipper", "Shipping")


def test_changelist_newest_first_constant_queries(manager: User, django_assert_max_num_queries: Any) -> None:
    account = AccountFactory(name="main")
    client = client_for(manager)
    url = reverse("admin:backoffice_bulkjob_changelist")
    make_job("a", account=account, user=manager)
    client.get(url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(20):
        make_job(f"k{n}", account=account, user=manager)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    print(f"bulk job changelist: {len(many)} queries")
    body = response.content.decode()
    assert "manager" in body and "main" in body and "<progress" in body
    newest = BulkJob.objects.order_by("-created_at", "-pk").first()
    assert response.context["cl"].result_list[0] == newest
    assert (
        client.get(
            url, {"state": "queued", "kind": "tests.echo", "account__id__exact": account.pk}
        ).status_code
        == 200
    )


def test_job_page_and_progress_json_constant_queries(manager: User) -> None:
    client = client_for(manager)
    small = make_job(*[f"s{i}" for i in range(3)], user=manager)
    big = make_job(*[f"b{i}" for i in range(250)], user=manager)
    run_job(small.pk)
    counts = {}
    for job in (small, big):
        client.get(job_url(job))
        with CaptureQueriesContext(connection) as page:
            response = client.get(job_url(job))
        assert response.status_code == 200
        progress = reverse("admin:backoffice_bulkjob_progress", args=[job.pk])
        with CaptureQueriesContext(connection) as poll:
            data = client.get(progress).json()
        counts[job.total] = (len(page), len(poll))
    print(f"job page / progress.json queries by job size: {counts}")
    assert counts[3] == counts[250]
    assert data["total"] == 250 and len(data["items"]) == 100 and data["is_active"] and data["can_cancel"]
    assert data["items"][0] == {
        "position": 1,
        "key": "b0",
        "label": "B0",
        "state": "pending",
        "state_label": "Pending",
        "message": "",
        "attempts": 0,
        "url": "",
    }
    page2 = client.get(reverse("admin:backoffice_bulkjob_progress", args=[big.pk]), {"p": 3}).json()
    assert [i["key"] for i in page2["items"]] == [f"b{i}" for i in range(200, 250)]

    body = client.get(job_url(small)).content.decode()
    assert "Succeeded" in body and 'href="/admin/x/s0/"' in body and "did s0" in body
    assert 'id="job-cancel"' not in body  # finished: no cancel button
    assert "fetch(" in body and "setTimeout(poll, 1000)" in body
    done = client.get(reverse("admin:backoffice_bulkjob_progress", args=[small.pk])).json()
    assert (done["state"], done["percent"], done["is_active"], done["can_cancel"]) == (
        "succeeded",
        100,
        False,
        False,
    )
    assert client.get(job_url(big), {"p": 2}).context["rows"][0]["key"] == "b100"


def test_item_links_are_only_our_own_pages(manager: User) -> None:
    job = make_job("evil")
    HOOKS["evil"] = lambda job, item: Outcome.ok("x", url="https://evil.example/")
    run_job(job.pk)
    data = client_for(manager).get(reverse("admin:backoffice_bulkjob_progress", args=[job.pk])).json()
    assert data["items"][0]["url"] == ""


def test_manager_cancels_any_job_with_csrf(manager: User, shipper: User) -> None:
    job = make_job("a", "b", user=shipper)
    BulkJob.objects.filter(pk=job.pk).update(state="running")
    client = client_for(manager, enforce_csrf_checks=True)
    page = client.get(job_url(job))
    assert 'id="job-cancel"' in page.content.decode()
    cancel = reverse("admin:backoffice_bulkjob_cancel", args=[job.pk])
    assert client.post(cancel).status_code == 403  # no CSRF token
    token = page.context["csrf_token"]
    asked = client.post(cancel, {"csrfmiddlewaretoken": str(token)})  # the confirmation first
    assert asked.status_code == 200 and "Yes, cancel the job" in asked.content.decode()
    assert not BulkJob.objects.get(pk=job.pk).cancel_requested
    response = client.post(cancel, {"csrfmiddlewaretoken": str(token), "confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == job_url(job)
    job.refresh_from_db()
    assert job.cancel_requested
    assert client.get(cancel).status_code == 405
    run_job(job.pk)
    job.refresh_from_db()
    assert job.state == "cancelled" and items(job)[0][1] == "cancelled"


def test_staff_cancel_their_own_jobs_only(shipper: User, manager: User) -> None:
    own = make_job("a", user=shipper)
    others = make_job("b", user=manager)
    client = client_for(shipper)
    assert client.get(job_url(others)).status_code == 200  # sees every job
    assert 'id="job-cancel"' not in client.get(job_url(others)).content.decode()
    assert client.post(reverse("admin:backoffice_bulkjob_cancel", args=[others.pk])).status_code == 403
    yes = {"confirmed": "yes"}
    assert client.post(reverse("admin:backoffice_bulkjob_cancel", args=[own.pk]), yes).status_code == 302
    assert BulkJob.objects.get(pk=own.pk).state == "cancelled"
    assert BulkJob.objects.get(pk=others.pk).state == "queued"


def test_without_view_permission_nothing_is_shown(manager: User) -> None:
    nobody = User.objects.create_user("nobody", password="password", is_staff=True)
    job = make_job("a", user=manager)
    client = client_for(nobody)
    assert client.get(job_url(job)).status_code == 403
    assert client.get(reverse("admin:backoffice_bulkjob_progress", args=[job.pk])).status_code == 403
    assert client.post(reverse("admin:backoffice_bulkjob_cancel", args=[job.pk])).status_code == 403
    assert client.get(reverse("admin:backoffice_bulkjob_changelist")).status_code == 403


def test_jobs_cannot_be_added_nor_deleted_while_active(manager: User) -> None:
    job = make_job("a", user=manager)
    client = client_for(manager)
    assert client.get(reverse("admin:backoffice_bulkjob_add")).status_code == 403
    assert client.get(reverse("admin:backoffice_bulkjob_delete", args=[job.pk])).status_code == 403
    run_job(job.pk)
    assert client.get(reverse("admin:backoffice_bulkjob_delete", args=[job.pk])).status_code == 200
