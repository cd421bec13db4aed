"""Submissions through real Celery workers, Redis and PostgreSQL, against the
emulator over loopback: faults, kill -9 drills, double confirms, account slots."""

import io
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from bench.common import Worker
from ordersync.submissions import services
from ordersync.submissions.models import Submission
from tests.conftest import database_url_for_subprocess
from tests.submissions.conftest import CLIENT_ID, CLIENT_SECRET, FAST

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
S = Submission.Status


@pytest.fixture
def worker_env(submission_settings, emulator, tmp_path):
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("integration tests run against Redis")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "ORDERSYNC_TOKEN_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "METRIKA_API_URL": emulator.url,
        "YANDEX_OAUTH_URL": emulator.url,
        "YANDEX_LOGIN_URL": emulator.url,
        "YANDEX_OAUTH_CLIENT_ID": CLIENT_ID,
        "YANDEX_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "METRIKA_CONNECT_TIMEOUT": "2",
        "METRIKA_READ_TIMEOUT": "10",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        **{key: str(value) for key, value in FAST.items()},
    }
    # The test process runs the sweeper: it must agree with the workers.
    for key, value in FAST.items():
        setattr(settings, key, value)
    from ordersync.celery import app

    app.control.purge()
    return env


@pytest.fixture
def workers(worker_env, tmp_path):
    started = []

    def start(concurrency=2, **env):
        worker = Worker({**worker_env, **env}, tmp_path / "worker.log", concurrency)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, timeout=60, sweep=True):
    """Wait until ``predicate()``; meanwhile run the sweeper as beat would."""
    deadline = time.monotonic() + timeout
    last_sweep = 0.0
    while time.monotonic() < deadline:
        if predicate():
            return True
        if sweep and time.monotonic() - last_sweep > 1:
            services.submission_sweep()
            last_sweep = time.monotonic()
        time.sleep(0.05)
    return predicate()


def terminal(submission):
    submission.refresh_from_db()
    return submission.status in Submission.TERMINAL


def path(submission):
    return [e.to_status for e in submission.events.order_by("id") if e.to_status]


def posts(emulator_admin):
    return emulator_admin.requests()["by_endpoint"].get("upload", 0)


def stored(emulator_admin):
    return emulator_admin.state()["uploadings"]


FAULTS = [
    # (fault rule, rows without id, final status, posts, path)
    (None, 0, S.ACCEPTED, 1, [S.SENDING, S.SENT, S.ACCEPTED]),
    (
        {"kind": "status", "status": 503},
        0, S.ACCEPTED, 2, [S.SENDING, S.QUEUED, S.SENDING, S.SENT, S.ACCEPTED],
    ),
    (
        {"kind": "status", "status": 504},
        3, S.OUTCOME_UNKNOWN, 1, [S.SENDING, S.QUEUED, S.SENDING, S.OUTCOME_UNKNOWN],
    ),
    (
        {"kind": "status", "status": 429, "retry_after": 1, "times": 2},
        0, S.ACCEPTED, 3,
        [S.SENDING, S.QUEUED, S.SENDING, S.QUEUED, S.SENDING, S.SENT, S.ACCEPTED],
    ),
    (
        {"kind": "status", "status": 420, "error_type": "quota_parallel_requests"},
        0, S.ACCEPTED, 2, [S.SENDING, S.QUEUED, S.SENDING, S.SENT, S.ACCEPTED],
    ),
    (
        {"kind": "drop_after_body"},
        0, S.ACCEPTED, 1, [S.SENDING, S.QUEUED, S.SENDING, S.SENT, S.ACCEPTED],
    ),
    (
        {"kind": "drop_before_body"},
        0, S.ACCEPTED, 2, [S.SENDING, S.QUEUED, S.SENDING, S.SENT, S.ACCEPTED],
    ),
    ({"kind": "failed"}, 0, S.REJECTED, 1, [S.SENDING, S.REJECTED]),
    ({"kind": "invalid_token"}, 0, S.ACCEPTED, 2, [S.SENDING, S.SENT, S.ACCEPTED]),
    ({"kind": "invalid_token", "times": 2}, 0, S.NEEDS_REAUTH, 2,
     [S.SENDING, S.NEEDS_REAUTH]),
    (
        {"kind": "status", "status": 400, "error_type": "invalid_uploading"},
        0, S.REJECTED, 1, [S.SENDING, S.REJECTED],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "fault,without_id,final,expected_posts,expected_path",
    FAULTS,
    ids=[
        "ok", "503", "504-no-ids", "429x2", "420", "drop-after-body",
        "drop-before-body", "200-failed", "invalid-token", "revoked", "400",
    ],
)  # fmt: skip
def test_each_fault_gives_its_state_path_and_attempts(
    workers, make_upload, marketer, emulator_admin,
    fault, without_id, final, expected_posts, expected_path,
):  # fmt: skip
    if fault:
        emulator_admin.add_fault(endpoint="upload", **fault)
    workers()
    upload = make_upload(without_id=without_id)
    submission = services.submission_create(
        upload=upload, user=marketer, merge_mode="SAVE"
    )
    assert wait_for(lambda: terminal(submission), timeout=45)
    assert submission.status == final, path(submission)
    assert path(submission) == expected_path
    assert posts(emulator_admin) == expected_posts
    assert submission.attempts.filter(operation="upload_simple_orders").count() == (
        expected_posts
    )
    assert len(stored(emulator_admin)) <= 1


def _kill_when(worker, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the kill point was never reached"
        time.sleep(0.005)
    worker.kill()


@pytest.mark.parametrize("point", ["after-claim", "during-body", "after-answer"])
def test_kill_9_of_the_worker_ends_in_one_terminal_state_and_one_upload(
    point, workers, make_upload, marketer, emulator_admin
):
    if point == "during-body":
        # Validating rows makes the emulator read slowly: a window to kill in.
        upload = make_upload(rows=300_000)
        emulator_admin.settings(validate_rows=True)
    else:
        upload = make_upload(rows=5)
    if point == "after-answer":
        # Metrika stores the upload, then the worker dies before it hears back.
        emulator_admin.add_fault("slow", endpoint="upload", delay=3)
    worker = workers()
    submission = services.submission_create(
        upload=upload, user=marketer, merge_mode="SAVE"
    )
    part = submission.parts.get()

    def reached():
        submission.refresh_from_db()
        part.refresh_from_db()
        if point == "after-claim":
            return submission.status == S.SENDING
        if point == "during-body":
            return 0 < submission.bytes_sent < submission.bytes_total
        return len(stored(emulator_admin)) == 1

    _kill_when(worker, reached)
    connection.close()
    workers()
    assert wait_for(lambda: terminal(submission), timeout=60)
    assert submission.status == S.ACCEPTED, path(submission)
    assert len(stored(emulator_admin)) == 1
    assert (
        submission.parts.get().uploading_id == stored(emulator_admin)[0]["uploading_id"]
    )
    if point == "after-answer":
        assert posts(emulator_admin) == 1
        assert submission.events.filter(code="reconcile_found").exists()


def test_100_concurrent_confirms_of_one_upload_make_one_post(
    workers, make_upload, marketer, emulator_admin
):
    from ordersync.uploads.models import Upload
    from ordersync.uploads.services import upload_confirm

    upload = make_upload()
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.READY)
    workers(concurrency=4)

    def confirm(_):
        try:
            fresh = Upload.objects.get(pk=upload.pk)
            return upload_confirm(upload=fresh, user=marketer)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=25) as pool:
        won = list(pool.map(confirm, range(100)))
    assert won.count(True) == 1
    submission = Submission.objects.get()
    # Duplicate deliveries of the task are harmless as well.
    from ordersync.submissions.tasks import submission_process_task

    for _ in range(20):
        submission_process_task.delay(submission.pk)
    assert wait_for(lambda: terminal(submission), timeout=45)
    assert submission.status == S.ACCEPTED
    assert posts(emulator_admin) == 1


def test_20_uploads_of_one_account_never_exceed_the_parallel_limit(
    workers, make_upload, marketer, emulator_admin
):
    emulator_admin.add_fault("slow", endpoint="upload", delay=0.3, times=None)
    emulator_admin.clear_requests()
    workers(concurrency=4, SUBMISSION_PARALLEL_PER_ACCOUNT="2")
    submissions = [
        services.submission_create(
            upload=make_upload(name=f"batch-{n}.csv"), user=marketer, merge_mode="SAVE"
        )
        for n in range(20)
    ]
    assert wait_for(lambda: all(terminal(s) for s in submissions), timeout=120)
    assert {s.status for s in submissions} == {S.ACCEPTED}
    assert posts(emulator_admin) == 20
    assert emulator_admin.requests()["parallel_peak"]["agency"] <= 2


def test_submit_orders_runs_the_whole_pipeline_without_a_browser(
    workers, counter, marketer, emulator_admin, tmp_path
):
    from django.core.management import call_command

    from tests.submissions.conftest import csv_rows

    source = tmp_path / "crm-export.csv"
    source.write_text(csv_rows(7).replace(",PAID,", ",Оплачен,"), encoding="utf-8")
    workers()
    out = io.StringIO()
    call_command(
        "submit_orders", str(source), "--counter", str(counter.metrika_id),
        "--user", marketer.username, "--merge-mode", "UPDATE", "--wait",
        "--timeout", "60", stdout=out,
    )  # fmt: skip
    submission = Submission.objects.get()
    assert submission.status == S.ACCEPTED, out.getvalue()
    assert (submission.merge_mode, submission.elements_count) == ("UPDATE", 7)
    assert "Принята: Метрика приняла строк: 7" in out.getvalue()
    assert posts(emulator_admin) == 1
