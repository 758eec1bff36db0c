"""Crash proofs: a worker killed in the middle of a task leaves the task to be done again, and done once.

1. For real: a worker process runs a bulk job that ships an order on the emulator over loopback HTTP. It
   is SIGKILLed after the shipment reached the emulator but before the item was recorded. Running the job
   again (a new process, as django-q's re-delivery would) resumes the item with resumed=True; the handler
   re-reads the order, finds it shipped, and records that. The emulator saw exactly one ship call.
2. django-q2's ORM broker re-delivers a task whose worker never acknowledged it, after `retry` seconds.
"""

from __future__ import annotations

import datetime
import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from backoffice.background.jobs import ItemSpec, Outcome, create_job, register_job_handlers, run_job
from backoffice.models import BulkJob, BulkJobItem
from emulator import Emulator
from emulator.server import start_in_thread, stop
from tests.background.subproc import popen, run
from tests.conftest import EMULATOR_TEST_PACE, EMULATOR_TOKEN

SHIP_ROUTE = ("POST", "/api/my/orders/selling/{order_number}/ship")

CREATE_JOB = """
from backoffice.background.jobs import ItemSpec, create_job
from backoffice.models import ReverbAccount
account = ReverbAccount(name="crash-shop", api_url=os.environ["API_URL"], currency="USD")
account.set_token(os.environ["API_TOKEN"])
account.save()
job = create_job("tests.background.shipjob", title="Ship 1 order", account=account, backend="none",
                 items=[ItemSpec(key=os.environ["ORDER"], params={"tracking": "1Z999"})])
print(job.pk)
"""

RUN_JOB = """
import tests.background.shipjob  # registers the handler, as an app's ready() would
from backoffice.models import BulkJob
from backoffice.background.jobs import run_job
job_id = int(os.environ["JOB_ID"])
print(json.dumps({"summary": run_job(job_id)}))
"""


@pytest.fixture
def live_emulator() -> Any:
    emulator = Emulator(token=EMULATOR_TOKEN, seed=1, size="tiny", **EMULATOR_TEST_PACE)
    server, origin = start_in_thread(emulator)
    yield emulator, f"{origin}/api"
    stop(server)


def paid_order(emulator: Emulator) -> dict[str, Any]:
    return next(
        o
        for o in emulator.store.table("orders").values()
        if o["status"] == "paid" and o["shipping_method"] == "shipped" and o["shipped_at"] is None
    )


def item_row(db: Path) -> tuple[str, int, str]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT state, attempts, message FROM backoffice_bulkjobitem").fetchone()


def test_worker_killed_after_the_write_resumes_and_ships_once(file_db: Path, live_emulator: Any) -> None:
    emulator, api_url = live_emulator
    order = paid_order(emulator)
    number = str(order["order_number"])
    env = {"API_URL": api_url, "API_TOKEN": EMULATOR_TOKEN, "ORDER": number, "REVERB_RATE_BUDGET": "database"}
    job_id = run(file_db, CREATE_JOB, **env).strip()
    assert item_row(file_db)[0] == "pending"

    worker = popen(file_db, RUN_JOB, JOB_ID=job_id, CRASH_TEST_PAUSE_AFTER_WRITE="60", **env)
    try:
        deadline = time.monotonic() + 60
        while order["shipped_at"] is None:  # the emulator's own state: the write has landed
            assert worker.poll() is None, worker.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the worker never shipped"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate()
    assert worker.returncode == -signal.SIGKILL
    assert emulator.requests[SHIP_ROUTE] == 1
    state, attempts, _ = item_row(file_db)
    assert (state, attempts) == ("running", 1), "killed between the write and its record"

    out = run(file_db, RUN_JOB, JOB_ID=job_id, **env)  # the task delivered again, to a new worker
    assert "1 succeeded, 0 failed" in json.loads(out)["summary"]
    state, attempts, message = item_row(file_db)
    assert (state, attempts) == ("succeeded", 2)
    assert message.startswith("Already shipped")
    assert emulator.requests[SHIP_ROUTE] == 1, "shipped exactly once"
    assert order["status"] == "shipped" and order["shipping_code"] == "1Z999"
    with sqlite3.connect(file_db) as conn:
        assert conn.execute("SELECT state, processed, succeeded FROM backoffice_bulkjob").fetchone() == (
            "succeeded",
            1,
            1,
        )


def test_a_job_not_interrupted_ships_without_re_reading(file_db: Path, live_emulator: Any) -> None:
    emulator, api_url = live_emulator
    number = str(paid_order(emulator)["order_number"])
    env = {"API_URL": api_url, "API_TOKEN": EMULATOR_TOKEN, "ORDER": number}
    job_id = run(file_db, CREATE_JOB, **env).strip()
    run(file_db, RUN_JOB, JOB_ID=job_id, **env)
    assert item_row(file_db) == ("succeeded", 1, "Shipped.")
    assert emulator.requests[SHIP_ROUTE] == 1
    assert emulator.requests[("GET", "/api/my/orders/selling/{order_number}")] == 0


@pytest.mark.django_db
def test_django_q_redelivers_a_task_whose_worker_died(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Why a dead worker's task comes back, and only after the first attempt is surely over:

    The ORM broker hands a task out by moving its `lock` to now + `retry` seconds; it is deleted only when
    a worker acknowledges it. A worker that dies never acknowledges, so once `retry` seconds pass the lock
    is in the past and the next dequeue delivers the task again. A worker that is alive but slow is killed
    by the cluster's guard after `timeout` seconds; with timeout < retry, that happens before the task is
    re-delivered, so two workers never run it at once. `run_job` then resumes from the items' states.
    """
    from django_q.brokers import get_broker
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    if "orm" not in settings.Q_CLUSTER:
        pytest.skip("REDIS_URL set: this proof is about the ORM broker")
    calls: list[tuple[str, bool]] = []

    def handler(job: Any, item: Any, *, resumed: bool) -> Outcome:
        calls.append((item.key, resumed))
        return Outcome.ok()

    register_job_handlers({"tests.redeliver": handler})

    settings.WORKER_BACKEND = "django_q"
    with django_capture_on_commit_callbacks(execute=True):
        job = create_job("tests.redeliver", title="redeliver", items=[ItemSpec("a"), ItemSpec("b")])
    broker = get_broker()
    [(task_id, payload)] = broker.dequeue()
    task = SignedPackage.loads(payload)
    assert task["func"] == "backoffice.background.jobs.run_job" and task["args"] == (job.pk,)

    # The first worker starts the first item and dies before recording it (and never acknowledges).
    BulkJobItem.objects.filter(job=job, key="a").update(state="running", attempts=1)
    assert not broker.dequeue(), "while the lock holds (retry seconds), no other worker gets it"

    # `retry` seconds later (moved in time rather than waited for):
    OrmQ.objects.filter(pk=task_id).update(lock=timezone.now() - datetime.timedelta(seconds=1))
    redelivered = broker.dequeue()
    assert [pk for pk, _ in redelivered] == [task_id], "re-delivered once the lock expired"
    run_job(*SignedPackage.loads(redelivered[0][1])["args"])
    broker.acknowledge(task_id)
    assert calls == [("a", True), ("b", False)]
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded) == (BulkJob.State.SUCCEEDED, 2, 2)
    assert not OrmQ.objects.filter(pk=task_id).exists()
