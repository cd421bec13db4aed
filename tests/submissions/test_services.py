"""The submission state machine in-process, against the emulator over loopback."""

import io
from datetime import UTC, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from ordersync.counters.models import YandexAccount
from ordersync.metrika import MetrikaClient
from ordersync.submissions import services
from ordersync.submissions.models import (
    AccountSlot,
    Submission,
    SubmissionAttempt,
    SubmissionPart,
)
from tests.submissions.conftest import COUNTER_ID, TOKEN, csv_rows

S = Submission.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched(monkeypatch):
    calls = []
    monkeypatch.setattr(
        services, "_dispatch", lambda pk, delay=0.0: calls.append((pk, delay))
    )
    return calls


def drive(submission, steps=12):
    """Run the worker's service until the submission ends, skipping the waits."""
    for _ in range(steps):
        submission.refresh_from_db()
        if submission.status in Submission.TERMINAL:
            break
        Submission.objects.filter(pk=submission.pk).update(next_attempt_at=None)
        services.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    return submission


def path(submission):
    return [e.to_status for e in submission.events.all() if e.to_status]


def posts(emulator_admin):
    return emulator_admin.requests()["by_endpoint"].get("upload", 0)


def stored(emulator_admin):
    return list(emulator_admin.state()["uploadings"])


def create(upload, user, merge_mode="SAVE"):
    return services.submission_create(upload=upload, user=user, merge_mode=merge_mode)


def test_a_confirmed_upload_is_sent_once_and_confirmed(
    make_upload,
    marketer,
    dispatched,
    emulator_admin,
    django_capture_on_commit_callbacks,
):
    marketer.email = "bob@example.com"
    marketer.save()
    submission = create(make_upload(rows=3), marketer)
    assert dispatched == [(submission.pk, 0.0)]
    with django_capture_on_commit_callbacks(execute=True):
        drive(submission)
    assert submission.status == S.ACCEPTED
    assert path(submission) == [S.SENDING, S.SENT, S.ACCEPTED]
    assert submission.elements_count == 3
    assert submission.rows_sent == 3
    assert posts(emulator_admin) == 1
    part = submission.parts.get()
    assert part.status == SubmissionPart.Status.CONFIRMED
    assert part.uploading_id == stored(emulator_admin)[0]["uploading_id"]
    attempts = list(submission.attempts.order_by("id"))
    assert [(a.operation, a.status_code) for a in attempts] == [
        ("upload_simple_orders", 200),
        ("last_uploadings", 200),
    ]
    assert attempts[0].body_sent
    assert mail.outbox[0].to == ["bob@example.com"]
    assert mail.outbox[0].subject == "OrderSync: Метрика приняла orders.csv"


def test_no_attempt_row_ever_holds_the_token(make_upload, marketer, dispatched):
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.ACCEPTED
    for attempt in SubmissionAttempt.objects.all():
        for value in (attempt.url, attempt.response_excerpt, attempt.error_message):
            assert TOKEN not in value


def test_parts_are_sent_one_by_one_and_stay_one_upload(
    make_upload, marketer, dispatched, emulator_admin
):
    submission = drive(create(make_upload(rows=4, parts=3), marketer))
    assert submission.status == S.ACCEPTED
    assert posts(emulator_admin) == 3
    assert submission.elements_count == 12
    assert submission.parts_sent == 3
    assert submission.bytes_sent == submission.bytes_total


def test_many_creates_of_one_upload_give_one_submission(
    make_upload, marketer, dispatched
):
    upload = make_upload()
    first = create(upload, marketer)
    again = [create(upload, marketer) for _ in range(5)]
    assert {s.pk for s in again} == {first.pk}
    assert Submission.objects.count() == 1


def test_503_after_the_body_is_looked_up_then_resent_when_absent(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault("status", endpoint="upload", status=503)
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.ACCEPTED
    assert path(submission) == [S.SENDING, S.QUEUED, S.SENDING, S.SENT, S.ACCEPTED]
    codes = [e.code for e in submission.events.all()]
    assert "outcome_unknown" in codes and "reconcile_resend" in codes
    assert posts(emulator_admin) == 2
    assert len(stored(emulator_admin)) == 1
    assert submission.failures == 1


def test_dropped_connection_after_the_body_adopts_the_stored_upload(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault("drop_after_body", endpoint="upload")
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.ACCEPTED
    assert posts(emulator_admin) == 1
    assert "reconcile_found" in [e.code for e in submission.events.all()]
    assert (
        submission.parts.get().uploading_id == stored(emulator_admin)[0]["uploading_id"]
    )


def test_unknown_outcome_without_ids_stops_for_a_person(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault("status", endpoint="upload", status=504)
    submission = drive(create(make_upload(without_id=3), marketer))
    assert submission.status == S.OUTCOME_UNKNOWN
    assert posts(emulator_admin) == 1
    assert submission.events.filter(code="reconcile_stop").exists()
    # The person decides to send anyway: exactly one more POST.
    services.submission_retry(submission=submission, user=marketer, force=True)
    drive(submission)
    assert submission.status == S.ACCEPTED
    assert posts(emulator_admin) == 2


def test_two_candidates_in_metrika_are_ambiguous(
    make_upload, marketer, dispatched, emulator, emulator_admin
):
    emulator_admin.add_fault("drop_after_body", endpoint="upload")
    mine = create(make_upload(rows=3), marketer)
    services.submission_process(submission_id=mine.pk)
    # Another tool uploads a file of the same size to the counter meanwhile.
    MetrikaClient(emulator.url, TOKEN).upload_simple_orders(
        COUNTER_ID, io.BytesIO(csv_rows(3, start=50).encode()), merge_mode="SAVE"
    )
    drive(mine)
    assert mine.status == S.OUTCOME_UNKNOWN
    assert mine.events.filter(code="reconcile_ambiguous").exists()


def test_a_same_sized_upload_of_ours_is_not_adopted_in_place_of_a_lost_one(
    make_upload, marketer, dispatched, emulator_admin
):
    # Found by bench/drill.py: B reached Metrika but its answer was lost, A's 503
    # stored nothing; both have 3 rows, so Metrika's list cannot tell them apart.
    emulator_admin.add_fault("drop_after_body", endpoint="upload")
    emulator_admin.add_fault("status", endpoint="upload", status=503)
    b = create(make_upload(rows=3, start=100, name="b.csv"), marketer)
    a = create(make_upload(rows=3, start=200, name="a.csv"), marketer)
    services.submission_process(submission_id=b.pk)
    services.submission_process(submission_id=a.pk)
    drive(a)
    drive(b)
    assert (a.status, b.status) == (S.OUTCOME_UNKNOWN, S.OUTCOME_UNKNOWN)
    assert a.events.filter(code="reconcile_rival").exists()
    assert (posts(emulator_admin), len(stored(emulator_admin))) == (2, 1)
    assert not SubmissionPart.objects.exclude(uploading_id="").exists()


def test_a_same_sized_upload_still_sending_is_waited_for(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault("status", endpoint="upload", status=503)
    a = create(make_upload(rows=3, start=200), marketer)
    services.submission_process(submission_id=a.pk)
    b = create(make_upload(rows=3, start=100), marketer)
    services.submission_process(submission_id=b.pk)
    # B's POST went through and B is about to record it: A must not take it.
    b.parts.update(status=SubmissionPart.Status.SENDING, uploading_id="")
    Submission.objects.filter(pk=a.pk).update(next_attempt_at=None)
    services.submission_process(submission_id=a.pk)
    a.refresh_from_db()
    assert (a.status, a.wait_reason) == (S.QUEUED, Submission.Wait.RECONCILE)
    assert a.events.filter(code="reconcile_rival_wait").exists()
    assert a.parts.get().uploading_id == ""


def test_drop_before_the_body_is_a_plain_retry(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault("drop_before_body", endpoint="upload")
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.ACCEPTED
    # A small body may sit in the socket buffer when the RST comes: the client
    # cannot tell, so it may reconcile first; either way one upload is stored.
    assert posts(emulator_admin) == 2
    assert len(stored(emulator_admin)) == 1


@pytest.mark.parametrize("status", [429, 420])
def test_rate_limits_wait_and_do_not_count(
    status, make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault(
        "status", endpoint="upload", status=status, retry_after=1, times=3
    )
    submission = create(make_upload(), marketer)
    services.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.QUEUED
    assert submission.wait_reason == Submission.Wait.RATE_LIMIT
    assert dispatched[-1] == (submission.pk, 1.0)
    drive(submission)
    assert submission.status == S.ACCEPTED
    assert submission.failures == 0
    assert posts(emulator_admin) == 4


def test_daily_quota_waits_for_midnight_utc_without_a_countdown(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.set_daily_used("agency", 5000)
    submission = create(make_upload(), marketer)
    services.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.QUEUED
    assert submission.wait_reason == Submission.Wait.DAILY_QUOTA
    local = submission.next_attempt_at.astimezone(UTC)
    assert (local.hour, local.minute) == (0, 1)
    assert submission.failures == 0
    # Too long for a broker countdown: the sweeper queues it when it is due.
    assert dispatched[-1][1] > 600
    assert services.submission_sweep()["requeued"] == 0


def test_a_200_failed_is_rejected_with_metrikas_message(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault("failed", endpoint="upload")
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.REJECTED
    assert "FAILED" in submission.error_message
    assert posts(emulator_admin) == 1


def test_a_400_stops_with_metrikas_message(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault(
        "status", endpoint="upload", status=400, error_type="invalid_uploading",
        message="Wrong header in file",
    )  # fmt: skip
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.REJECTED
    assert submission.error_message == "Wrong header in file"
    assert posts(emulator_admin) == 1


def test_invalid_token_is_refreshed_once_and_the_upload_goes_through(
    make_upload, marketer, dispatched, emulator_admin, account
):
    emulator_admin.add_fault("invalid_token", endpoint="upload")
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.ACCEPTED
    assert posts(emulator_admin) == 2
    account.refresh_from_db()
    assert account.access_token() != TOKEN
    assert submission.events.filter(code="token_refreshed").exists()


def test_a_refused_refreshed_token_marks_the_account(
    make_upload, marketer, dispatched, emulator_admin, account
):
    emulator_admin.add_fault("invalid_token", endpoint="upload", times=2)
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.NEEDS_REAUTH
    account.refresh_from_db()
    assert account.status == YandexAccount.Status.NEEDS_REAUTH
    assert posts(emulator_admin) == 2
    # Nothing more is sent while the account waits for a person.
    services.submission_retry(submission=submission, user=marketer)
    drive(submission)
    assert submission.status == S.NEEDS_REAUTH
    assert posts(emulator_admin) == 2


def test_access_denied_fails_at_once(make_upload, marketer, dispatched, emulator_admin):
    emulator_admin.add_fault(
        "status", endpoint="upload", status=403, error_type="access_denied",
        message="Access denied",
    )  # fmt: skip
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.FAILED
    assert submission.error_message == "Access denied"
    assert posts(emulator_admin) == 1


def test_transient_errors_give_up_after_the_limit(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault("drop_before_body", endpoint="upload", times=None)
    submission = drive(create(make_upload(), marketer))
    assert submission.status == S.FAILED
    assert submission.failures == 4
    assert posts(emulator_admin) == 4
    assert submission.events.filter(code="gave_up").exists()


def test_retry_after_failure_sends_only_what_is_left(
    make_upload, marketer, dispatched, emulator_admin
):
    emulator_admin.add_fault(
        "status", endpoint="upload", status=403, error_type="access_denied", times=1
    )
    upload = make_upload(rows=2, parts=2)
    submission = create(upload, marketer)
    # The first part goes through, the second is refused.
    emulator_admin.clear_faults()
    services.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.ACCEPTED
    assert posts(emulator_admin) == 2


def test_cancel_only_while_queued(make_upload, marketer, dispatched):
    submission = create(make_upload(), marketer)
    services.submission_cancel(submission=submission, user=marketer)
    submission.refresh_from_db()
    assert submission.status == S.CANCELLED
    with pytest.raises(services.SubmissionError):
        services.submission_cancel(submission=submission, user=marketer)
    services.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.CANCELLED


def test_resend_with_another_merge_mode_is_a_new_submission(
    make_upload, marketer, dispatched, emulator_admin
):
    upload = make_upload()
    first = drive(create(upload, marketer))
    second = services.submission_resend(
        submission=first, user=marketer, merge_mode="UPDATE"
    )
    assert second.pk != first.pk
    drive(second)
    first.refresh_from_db()
    assert (first.is_latest, second.is_latest) == (False, True)
    assert second.status == S.ACCEPTED
    post = second.attempts.get(operation="upload_simple_orders")
    assert "merge_mode=UPDATE" in post.url


def test_a_stale_sending_submission_is_recovered_and_reconciled(
    make_upload, marketer, dispatched, emulator_admin, settings
):
    submission = create(make_upload(), marketer)
    part = submission.parts.get()
    # A worker claimed it and started the POST, then died silently.
    Submission.objects.filter(pk=submission.pk).update(
        status=S.SENDING, claim_token="11111111-1111-1111-1111-111111111111",
        heartbeat_at=timezone.now() - timedelta(seconds=600),
    )  # fmt: skip
    SubmissionPart.objects.filter(pk=part.pk).update(
        status=SubmissionPart.Status.SENDING, send_started_at=timezone.now()
    )
    counts = services.submission_sweep()
    assert counts["recovered"] == 1
    drive(submission)
    assert submission.status == S.ACCEPTED
    assert "worker_lost" in [e.code for e in submission.events.all()]
    assert posts(emulator_admin) == 1


def test_a_busy_account_makes_the_submission_wait_for_a_slot(
    make_upload, marketer, dispatched, account, emulator_admin
):
    AccountSlot.objects.create(
        account=account, slot=0, holder="22222222-2222-2222-2222-222222222222",
        expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    submission = create(make_upload(), marketer)
    services.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.QUEUED
    assert submission.wait_reason == Submission.Wait.PARALLEL
    assert posts(emulator_admin) == 0
    # An expired lease of a dead worker is taken over.
    AccountSlot.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    drive(submission)
    assert submission.status == S.ACCEPTED


def test_the_sweeper_requeues_a_lost_task(make_upload, marketer, dispatched):
    submission = create(make_upload(), marketer)
    Submission.objects.filter(pk=submission.pk).update(
        dispatch_due_at=timezone.now() - timedelta(hours=1)
    )
    dispatched.clear()
    assert services.submission_sweep()["requeued"] == 1
    assert dispatched == [(submission.pk, 0.0)]


def test_too_many_claims_stop_a_redelivery_loop(
    make_upload, marketer, dispatched, settings
):
    submission = create(make_upload(), marketer)
    Submission.objects.filter(pk=submission.pk).update(
        claims=settings.SUBMISSION_MAX_CLAIMS
    )
    drive(submission)
    assert submission.status == S.FAILED
    assert submission.events.filter(code="loop_guard").exists()
