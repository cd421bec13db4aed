"""Submitting confirmed uploads to Metrika exactly once, and what people do with it.

The database is the source of truth. A worker may only act on a submission it
claimed with a conditional UPDATE (QUEUED → SENDING with a fresh ``claim_token``);
every later change it makes is guarded by that token, so a worker the sweeper gave
up on can no longer touch the row. Before a part whose POST may have reached
Metrika is sent again, Metrika's ``last_uploadings`` is searched for it.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ordersync.metrika import (
    AttemptRecord,
    MergeMode,
    MetrikaClient,
    MetrikaError,
    Uploading,
    UploadRejectedError,
)
from ordersync.submissions import notifications, yandex
from ordersync.submissions.models import (
    Submission,
    SubmissionAttempt,
    SubmissionEvent,
    SubmissionPart,
)
from ordersync.submissions.policy import Action, Decision, RetryPolicy
from ordersync.submissions.slots import Heartbeat, slot_acquire, slot_release

logger = logging.getLogger(__name__)

S = Submission.Status
P = SubmissionPart.Status
W = Submission.Wait
Level = SubmissionEvent.Level


class SubmissionError(Exception):
    """A request a person made cannot be done; the message is safe to show."""


def retry_policy() -> RetryPolicy:
    """Return the retry policy from settings."""
    return RetryPolicy(
        base_delay=settings.SUBMISSION_RETRY_BASE_SECONDS,
        max_delay=settings.SUBMISSION_RETRY_MAX_SECONDS,
        max_failures=settings.SUBMISSION_MAX_FAILURES,
        rate_limit_delay=settings.SUBMISSION_RATE_LIMIT_SECONDS,
    )


# --- creating and changing submissions on people's request ---------------------


def submission_create(
    *,
    upload: Any,
    user: AbstractBaseUser | None,
    merge_mode: str,
    event_code: str = "created",
) -> Submission:
    """Create the submission of a confirmed upload and queue it after commit.

    If the upload already has an active submission, return that one: however many
    confirms race, one submission is sent.
    """
    merge_mode = MergeMode(str(merge_mode).upper()).value
    upload_parts = list(upload.parts.order_by("index"))
    if not upload_parts:
        raise SubmissionError(_("The upload has no prepared file to send."))
    with transaction.atomic():
        try:
            with transaction.atomic():
                submission = Submission.objects.create(
                    upload=upload,
                    counter_id=upload.counter_id,
                    created_by=user,
                    original_name=(upload.original_name or "")[:255],
                    merge_mode=merge_mode,
                    parts_total=len(upload_parts),
                    bytes_total=sum(p.size_bytes for p in upload_parts),
                    rows_sent=0,
                )
        except IntegrityError:
            return Submission.objects.get(upload=upload, status__in=Submission.ACTIVE)
        Submission.objects.filter(upload=upload, is_latest=True).exclude(
            pk=submission.pk
        ).update(is_latest=False)
        SubmissionPart.objects.bulk_create(
            SubmissionPart(
                submission=submission,
                upload_part=part,
                index=part.index,
                size_bytes=part.size_bytes,
                rows=part.rows,
            )
            for part in upload_parts
        )
        _event(submission, event_code, merge_mode=merge_mode, actor=user)
        _dispatch(submission.pk)
    return submission


def submission_resend(
    *, submission: Submission, user: AbstractBaseUser, merge_mode: str
) -> Submission:
    """Send the same prepared file again as a new submission (another merge mode)."""
    upload = submission.upload
    if not yandex.upload_files_retained(upload):
        raise SubmissionError(
            _("The prepared file was deleted after the retention period.")
        )
    if Submission.objects.filter(upload=upload, status__in=Submission.ACTIVE).exists():
        raise SubmissionError(_("This upload is already being sent."))
    return submission_create(
        upload=upload, user=user, merge_mode=merge_mode, event_code="resend"
    )


def submission_cancel(*, submission: Submission, user: AbstractBaseUser) -> None:
    """Cancel a submission that no worker has started; raise otherwise."""
    if not _transition(
        submission,
        [S.QUEUED],
        S.CANCELLED,
        "cancelled",
        level=Level.WARNING,
        actor=user,
        user=user.get_username(),
        finished_at=timezone.now(),
        next_attempt_at=None,
    ):
        raise SubmissionError(_("Only a queued upload can be cancelled."))


def submission_retry(
    *, submission: Submission, user: AbstractBaseUser, force: bool = False
) -> None:
    """Queue a failed submission again; parts already taken are not resent.

    A part whose outcome is unknown is looked up in Metrika again first, unless a
    person chose ``force``: then it is sent again even though it may duplicate.
    """
    allowed = [S.FAILED, S.NEEDS_REAUTH, S.OUTCOME_UNKNOWN]
    if force and submission.status != S.OUTCOME_UNKNOWN:
        raise SubmissionError(_("Only an upload with an unknown outcome is forced."))
    if submission.status not in allowed:
        raise SubmissionError(_("Only a failed upload can be retried."))
    if not yandex.upload_files_retained(submission.upload):
        raise SubmissionError(
            _("The prepared file was deleted after the retention period.")
        )
    try:
        with transaction.atomic():
            moved = _transition(
                submission,
                allowed,
                S.QUEUED,
                "forced" if force else "retried",
                actor=user,
                user=user.get_username(),
                failures=0,
                claims=0,
                error_type="",
                error_message="",
                finished_at=None,
                wait_reason=W.NONE,
                next_attempt_at=None,
            )
            if moved and force:
                submission.parts.filter(status__in=[P.UNKNOWN, P.SENDING]).update(
                    status=P.PENDING
                )
    except IntegrityError:
        raise SubmissionError(_("This upload is already being sent.")) from None
    if not moved:
        raise SubmissionError(_("Only a failed upload can be retried."))
    _dispatch(submission.pk)


# --- the worker's side ------------------------------------------------------------


def submission_process(*, submission_id: int) -> None:
    """Advance one submission as far as it can go now; safe to call any number of
    times, from any number of workers at once."""
    submission = _load(submission_id)
    if submission is None:
        return
    if submission.status == S.SENDING and _is_stale(submission):
        _recover(submission)
        submission = _load(submission_id)
    if submission.status == S.SENT:
        _confirm_run(submission)
    elif submission.status == S.QUEUED:
        _send_run(submission)


def submission_sweep() -> dict[str, int]:
    """Re-queue submissions whose task was lost and recover those whose worker died.

    Run by beat every ``SUBMISSION_SWEEP_SECONDS``; return counts per action.
    """
    now = timezone.now()
    lost_before = now - timedelta(seconds=settings.SUBMISSION_LOST_AFTER_SECONDS)
    counts = {"recovered": 0, "requeued": 0, "confirm": 0}
    stale_before = now - timedelta(seconds=settings.SUBMISSION_STALE_SECONDS)
    for submission in Submission.objects.filter(
        status=S.SENDING, heartbeat_at__lt=stale_before
    ):
        if _recover(submission):
            counts["recovered"] += 1
            _dispatch(submission.pk)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    undispatched = Q(dispatch_due_at__isnull=True) | Q(dispatch_due_at__lt=lost_before)
    for pk in Submission.objects.filter(due, undispatched, status=S.QUEUED).values_list(
        "pk", flat=True
    ):
        counts["requeued"] += 1
        _dispatch(pk)
    for pk in Submission.objects.filter(
        undispatched, status=S.SENT, next_attempt_at__lte=now
    ).values_list("pk", flat=True):
        counts["confirm"] += 1
        _dispatch(pk)
    return counts


def _load(submission_id: int) -> Submission | None:
    return (
        Submission.objects.select_related("counter__account", "upload", "created_by")
        .filter(pk=submission_id)
        .first()
    )


def _is_stale(submission: Submission) -> bool:
    limit = timezone.now() - timedelta(seconds=settings.SUBMISSION_STALE_SECONDS)
    return submission.heartbeat_at is None or submission.heartbeat_at < limit


def _recover(submission: Submission) -> bool:
    """Take a submission back from a worker that stopped beating; parts it was
    sending get an unknown outcome."""
    with transaction.atomic():
        moved = _transition(
            submission,
            [S.SENDING],
            S.QUEUED,
            "worker_lost",
            level=Level.WARNING,
            guard=Q(claim_token=submission.claim_token),
            claim_token=None,
            wait_reason=W.RECONCILE,
            next_attempt_at=None,
        )
        if moved:
            submission.parts.filter(status=P.SENDING).update(status=P.UNKNOWN)
    return moved


def _send_run(submission: Submission) -> None:
    now = timezone.now()
    if submission.next_attempt_at and submission.next_attempt_at > now:
        return
    account = submission.counter.account
    holder = uuid.uuid4()
    if not slot_acquire(account_id=account.pk, holder=holder):
        _wait_for_slot(submission)
        return
    try:
        if not _claim(submission, holder):
            return
        with Heartbeat(submission_id=submission.pk, holder=holder):
            _Run(submission, holder).send()
    finally:
        slot_release(holder=holder)


def _wait_for_slot(submission: Submission) -> None:
    delay = settings.SUBMISSION_PARALLEL_WAIT_SECONDS
    delay = delay * (1 + retry_policy().random())
    with transaction.atomic():
        updated = Submission.objects.filter(pk=submission.pk, status=S.QUEUED).update(
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            wait_reason=W.PARALLEL,
        )
        if updated and submission.wait_reason != W.PARALLEL:
            _event(submission, "parallel_wait")
        if updated:
            _dispatch(submission.pk, delay)


def _claim(submission: Submission, holder: uuid.UUID) -> bool:
    now = timezone.now()
    claimed = (
        Submission.objects.filter(pk=submission.pk, status=S.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=S.SENDING,
            status_changed_at=now,
            claim_token=holder,
            heartbeat_at=now,
            claims=F("claims") + 1,
            wait_reason=W.NONE,
            next_attempt_at=None,
            dispatch_due_at=None,
            send_started_at=now,
        )
    )
    if claimed:
        submission.refresh_from_db()
        _event(submission, "claimed", from_status=S.QUEUED, to_status=S.SENDING)
    return bool(claimed)


class _AttemptRecorder:
    """Write one SubmissionAttempt per HTTP request: before it, then after it."""

    def __init__(self, submission: Submission):
        self.submission = submission
        self.pending: SubmissionAttempt | None = None

    def begin(self, operation: str, part: SubmissionPart | None = None) -> None:
        self.pending = SubmissionAttempt.objects.create(
            submission=self.submission, part=part, operation=operation
        )

    def __call__(self, record: AttemptRecord) -> None:
        fields = {
            "method": record.method,
            "url": record.url[:500],
            "finished_at": timezone.now(),
            "duration": record.duration,
            "status_code": record.status,
            "error_type": (record.error_type or "")[:64],
            "error_message": record.error_message or "",
            "response_excerpt": record.response_excerpt,
            "bytes_sent": record.bytes_sent,
            "body_sent": record.body_sent,
        }
        if self.pending is not None:
            SubmissionAttempt.objects.filter(pk=self.pending.pk).update(**fields)
            self.pending = None
        else:
            SubmissionAttempt.objects.create(
                submission=self.submission,
                operation=record.operation,
                started_at=record.started_at,
                **fields,
            )


class _Stop(Exception):
    """The run ended; the submission's state already says why."""


class _Run:
    """One claimed run of a submission: send what is left, then confirm."""

    def __init__(self, submission: Submission, holder: uuid.UUID):
        self.submission = submission
        self.holder = holder
        self.policy = retry_policy()
        self.recorder = _AttemptRecorder(submission)
        self.refreshed = False
        self.client: MetrikaClient | None = None

    # state changes guarded by our claim
    def move(self, to: str, code: str, *, level: str = Level.INFO, **fields) -> bool:
        return _transition(
            self.submission,
            [S.SENDING],
            to,
            code,
            level=level,
            guard=Q(claim_token=self.holder),
            **fields,
        )

    def requeue(self, code: str, delay: float, wait: str, **params) -> None:
        extra = {"failures": self.submission.failures}
        with transaction.atomic():
            if self.move(
                S.QUEUED,
                code,
                level=Level.WARNING,
                claim_token=None,
                wait_reason=wait,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
                seconds=round(delay),
                **extra,
                **params,
            ):
                _dispatch(self.submission.pk, delay)

    def stop(self, to: str, code: str, *, error: MetrikaError | None = None, **params):
        level = Level.ERROR if to != S.OUTCOME_UNKNOWN else Level.WARNING
        fields = {"claim_token": None, "finished_at": timezone.now(), **params}
        if error is not None:
            fields.setdefault("error_type", (error.error_type or type(error).__name__))
            fields.setdefault("error_message", error.message)
            fields.setdefault("message", error.message)
        self.move(to, code, level=level, **fields)
        raise _Stop

    def get_client(self) -> MetrikaClient:
        if self.client is None:
            try:
                self.client = yandex.metrika_client(
                    self.submission.counter, on_attempt=self.recorder
                )
            except yandex.TokenUnavailableError as exc:
                self.stop(S.FAILED, "failed", message=str(exc), error_message=str(exc))
        return self.client

    def send(self) -> None:
        submission = self.submission
        try:
            if submission.claims > settings.SUBMISSION_MAX_CLAIMS:
                self.stop(S.FAILED, "loop_guard", claims=submission.claims)
            account = submission.counter.account
            if not yandex.account_usable(account):
                self.stop(S.NEEDS_REAUTH, "account_inactive", login=account.login)
            parts = list(submission.parts.select_related("upload_part"))
            done = sum(p.size_bytes for p in parts if p.status in (P.SENT, P.CONFIRMED))
            Submission.objects.filter(pk=submission.pk).update(bytes_sent=done)
            for part in parts:
                if part.status in (P.SENT, P.CONFIRMED):
                    continue
                if part.status in (P.SENDING, P.UNKNOWN) and not self.reconcile(part):
                    done += part.size_bytes
                    continue
                self.post(part, done)
                done += part.size_bytes
            with transaction.atomic():
                rows = sum(p.rows for p in parts)
                self.move(
                    S.SENT,
                    "sent",
                    claim_token=None,
                    sent_at=timezone.now(),
                    next_attempt_at=timezone.now(),
                    wait_reason=W.CONFIRM,
                    bytes_sent=submission.bytes_total,
                    rows_sent=rows,
                    parts_sent=len(parts),
                )
        except _Stop:
            return
        _confirm_run(self.submission, client=self.client, holder=self.holder)

    def post(self, part: SubmissionPart, done: int) -> None:
        submission = self.submission
        while True:
            now = timezone.now()
            SubmissionPart.objects.filter(pk=part.pk).update(
                status=P.SENDING, send_started_at=now
            )
            part.status, part.send_started_at = P.SENDING, now
            _event(submission, "part_sending", part=part.index + 1,
                   parts=submission.parts_total, rows=part.rows)  # fmt: skip
            client = self.get_client()
            self.recorder.begin("upload_simple_orders", part)
            try:
                with part.upload_part.file.open("rb") as fileobj:
                    uploading = client.upload_simple_orders(
                        submission.counter.metrika_id,
                        fileobj,
                        merge_mode=submission.merge_mode,
                        filename=f"orders-{submission.upload_id}-{part.index + 1}.csv",
                        progress=self._progress(done, part.size_bytes),
                        size=part.size_bytes,
                    )
            except OSError as exc:
                SubmissionPart.objects.filter(pk=part.pk).update(status=P.PENDING)
                self.recorder.pending = None
                self.stop(S.FAILED, "file_missing", error_message=str(exc))
            except MetrikaError as error:
                if self.handle(error, part):
                    continue
            else:
                self.adopt(part, uploading, code="part_sent")
                return

    def _progress(self, done: int, size: int):
        last = [0.0]
        pk, holder = self.submission.pk, self.holder

        def progress(sent: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] < 0.5 and sent < total:
                return
            last[0] = now
            Submission.objects.filter(pk=pk, claim_token=holder).update(
                bytes_sent=done + min(sent, size), heartbeat_at=timezone.now()
            )

        return progress

    def adopt(self, part: SubmissionPart, uploading: Uploading, *, code: str) -> None:
        with transaction.atomic():
            SubmissionPart.objects.filter(pk=part.pk).update(
                status=P.SENT,
                uploading_id=uploading.uploading_id,
                uploading_datetime=uploading.datetime,
                api_validation_status=uploading.api_validation_status.value,
                elements_count=uploading.elements_count,
            )
            part.status = P.SENT
            part.uploading_id = uploading.uploading_id
            Submission.objects.filter(pk=self.submission.pk).update(
                parts_sent=F("parts_sent") + 1, rows_sent=F("rows_sent") + part.rows
            )
            _event(
                self.submission,
                code,
                level=Level.SUCCESS,
                part=part.index + 1,
                uploading_id=uploading.uploading_id,
                rows=uploading.elements_count,
            )

    def handle(self, error: MetrikaError, part: SubmissionPart) -> bool:
        """Act on a failed call; return True to repeat it at once."""
        submission = self.submission
        decision: Decision = self.policy.decide(
            error, failures=submission.failures, token_refreshed=self.refreshed
        )
        if decision.counts_as_failure:
            submission.failures += 1
        unknown = decision.action == Action.RECONCILE
        SubmissionPart.objects.filter(pk=part.pk).update(
            status=P.UNKNOWN if unknown else P.PENDING
        )
        if decision.action == Action.REJECT:
            if isinstance(error, UploadRejectedError):
                SubmissionPart.objects.filter(pk=part.pk).update(
                    status=P.REJECTED,
                    uploading_id=error.uploading.uploading_id,
                    api_validation_status=error.uploading.api_validation_status.value,
                    elements_count=error.uploading.elements_count,
                )
            self.stop(S.REJECTED, "rejected", error=error)
        if decision.action == Action.REFRESH_TOKEN:
            self.refresh_token()
            return True
        if decision.action == Action.NEEDS_REAUTH:
            self.needs_reauth(error)
        if decision.action == Action.FAIL:
            code = "gave_up" if decision.counts_as_failure else "failed"
            self.stop(S.FAILED, code, error=error, failures=submission.failures)
        if decision.action == Action.WAIT:
            self.requeue("rate_limited", decision.delay, W.RATE_LIMIT,
                         quota=error.quota or error.status)  # fmt: skip
        elif decision.action == Action.WAIT_DAILY:
            until = timezone.now() + timedelta(seconds=decision.delay)
            self.requeue("daily_quota", decision.delay, W.DAILY_QUOTA,
                         until=_format_time(until))  # fmt: skip
        elif decision.action == Action.RECONCILE:
            delay = max(decision.delay, settings.SUBMISSION_RECONCILE_GRACE_SECONDS)
            _event(submission, "outcome_unknown", level=Level.WARNING,
                   part=part.index + 1, error=str(error))  # fmt: skip
            self.requeue("retry", delay, W.RECONCILE, error=str(error),
                         max=self.policy.max_failures)  # fmt: skip
        else:
            self.requeue("retry", decision.delay, W.RETRY, error=str(error),
                         max=self.policy.max_failures)  # fmt: skip
        raise _Stop

    def refresh_token(self) -> None:
        account = self.submission.counter.account
        if not yandex.account_refresh(account):
            self.stop(S.NEEDS_REAUTH, "needs_reauth", login=account.login)
        self.refreshed = True
        self.client = None
        _event(self.submission, "token_refreshed", level=Level.WARNING)

    def needs_reauth(self, error: MetrikaError) -> None:
        account = self.submission.counter.account
        yandex.account_mark_needs_reauth(account, message=error.message)
        self.stop(S.NEEDS_REAUTH, "needs_reauth", error=error, login=account.login)

    def check_rivals(self, part: SubmissionPart, *, not_before: datetime) -> None:
        """Stop unless the one upload Metrika lists can only be this part.

        A rival still sending will soon know its own upload: wait for it. One whose
        outcome is unknown as well may own the upload: a person decides.
        """
        statuses = list(
            _rival_parts(part, self.submission.counter_id, not_before=not_before)
        )
        if not statuses:
            return
        if P.SENDING in statuses:
            delay = max(settings.SUBMISSION_RECONCILE_GRACE_SECONDS, 1.0)
            self.requeue("reconcile_rival_wait", delay, W.RECONCILE,
                         part=part.index + 1, rows=part.rows)  # fmt: skip
            raise _Stop
        self.stop(S.OUTCOME_UNKNOWN, "reconcile_rival", part=part.index + 1,
                  rows=part.rows, count=len(statuses))  # fmt: skip

    def reconcile(self, part: SubmissionPart) -> bool:
        """Find a part whose POST may have reached Metrika; return True to send it."""
        submission = self.submission
        started = part.send_started_at or submission.created_at
        skew = timedelta(seconds=settings.SUBMISSION_RECONCILE_SKEW_SECONDS)
        while True:
            self.recorder.pending = None
            try:
                found = _find_candidates(
                    self.get_client(),
                    submission.counter.metrika_id,
                    not_before=started - skew,
                    rows=part.rows,
                )
            except MetrikaError as error:
                decision = self.policy.decide(
                    error, failures=submission.failures, token_refreshed=self.refreshed
                )
                if decision.action == Action.REFRESH_TOKEN:
                    self.refresh_token()
                    continue
                if decision.action == Action.NEEDS_REAUTH:
                    self.needs_reauth(error)
                delay = decision.delay or self.policy.backoff(submission.failures + 1)
                if decision.counts_as_failure:
                    submission.failures += 1
                self.requeue("retry", delay, W.RECONCILE, error=str(error),
                             max=self.policy.max_failures)  # fmt: skip
                raise _Stop from None
            break
        if len(found) == 1:
            self.check_rivals(part, not_before=started - skew)
            uploading = found[0]
            if not uploading.passed:
                SubmissionPart.objects.filter(pk=part.pk).update(
                    status=P.REJECTED, uploading_id=uploading.uploading_id
                )
                self.stop(S.REJECTED, "rejected", message=uploading.uploading_id)
            self.adopt(part, uploading, code="reconcile_found")
            return False
        if found:
            self.stop(S.OUTCOME_UNKNOWN, "reconcile_ambiguous",
                      count=len(found), part=part.index + 1)  # fmt: skip
        waited = (timezone.now() - started).total_seconds()
        grace = settings.SUBMISSION_RECONCILE_GRACE_SECONDS
        if waited < grace:
            self.requeue("reconcile_wait", grace - waited, W.RECONCILE,
                         part=part.index + 1)  # fmt: skip
            raise _Stop
        without_id = yandex.upload_rows_without_id(submission.upload)
        if without_id:
            self.stop(S.OUTCOME_UNKNOWN, "reconcile_stop",
                      part=part.index + 1, rows=without_id)  # fmt: skip
        if submission.failures >= self.policy.max_failures:
            self.stop(S.FAILED, "gave_up", failures=submission.failures,
                      message=_("Metrika did not take the file."))  # fmt: skip
        SubmissionPart.objects.filter(pk=part.pk).update(status=P.PENDING)
        _event(submission, "reconcile_resend", part=part.index + 1)
        return True


def _rival_parts(part: SubmissionPart, counter_id: int, *, not_before: datetime):
    """Return our other parts of as many rows, sent to the same counter since
    ``not_before``, whose POST may also have reached Metrika: Metrika's list
    cannot tell their uploads from this part's."""
    return (
        SubmissionPart.objects.filter(
            submission__counter_id=counter_id,
            rows=part.rows,
            status__in=[P.SENDING, P.UNKNOWN],
            send_started_at__gte=not_before,
        )
        .exclude(pk=part.pk)
        .values_list("status", flat=True)
    )


def _find_candidates(
    client: MetrikaClient, counter_id: int, *, not_before: datetime, rows: int
) -> list[Uploading]:
    """Return uploads Metrika lists since ``not_before`` that could be this part:
    same row count, and not already claimed by another part of ours."""
    page_size = 1000
    offset: datetime | None = None
    matches: list[Uploading] = []
    for _page in range(20):
        page = client.last_uploadings(
            counter_id, limit=page_size, datetime_offset=offset, source="API"
        )
        matches += [
            u for u in page if u.datetime >= not_before and u.elements_count == rows
        ]
        if len(page) < page_size or not page:
            break
        oldest = min(u.datetime for u in page)
        if oldest < not_before:
            break
        offset = oldest + timedelta(seconds=1)
    unique = {u.uploading_id: u for u in matches}
    known = set(
        SubmissionPart.objects.filter(uploading_id__in=list(unique)).values_list(
            "uploading_id", flat=True
        )
    )
    return [u for uid, u in unique.items() if uid not in known]


def _confirm_run(
    submission: Submission,
    *,
    client: MetrikaClient | None = None,
    holder: uuid.UUID | None = None,
) -> None:
    """Confirm sent parts through ``last_uploadings`` (late confirmation)."""
    now = timezone.now()
    interval = settings.SUBMISSION_CONFIRM_INTERVAL_SECONDS
    # One confirmer per interval: whoever moves next_attempt_at forward.
    if not (
        Submission.objects.filter(pk=submission.pk, status=S.SENT)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=now + timedelta(seconds=interval), dispatch_due_at=None)
    ):
        return
    if holder is not None:
        _confirm(submission, client)
        return
    holder = uuid.uuid4()
    if not slot_acquire(account_id=submission.counter.account_id, holder=holder):
        delay = settings.SUBMISSION_PARALLEL_WAIT_SECONDS
        Submission.objects.filter(pk=submission.pk, status=S.SENT).update(
            next_attempt_at=now + timedelta(seconds=delay)
        )
        _dispatch(submission.pk, delay)
        return
    try:
        with Heartbeat(submission_id=None, holder=holder):
            _confirm(submission, client)
    finally:
        slot_release(holder=holder)


def _confirm(submission: Submission, client: MetrikaClient | None) -> None:
    skew = timedelta(seconds=settings.SUBMISSION_RECONCILE_SKEW_SECONDS)
    interval = settings.SUBMISSION_CONFIRM_INTERVAL_SECONDS
    parts = list(submission.parts.all())
    try:
        if client is None:
            client = yandex.metrika_client(
                submission.counter, on_attempt=_AttemptRecorder(submission)
            )
        for part in parts:
            if part.status != P.SENT:
                continue
            found = client.find_uploading(
                submission.counter.metrika_id,
                part.uploading_id,
                not_before=(part.send_started_at or submission.created_at) - skew,
            )
            if found is None:
                continue
            part.status = P.CONFIRMED if found.passed else P.REJECTED
            part.elements_count = found.elements_count
            SubmissionPart.objects.filter(pk=part.pk).update(
                status=part.status,
                elements_count=found.elements_count,
                api_validation_status=found.api_validation_status.value,
                confirmed_at=timezone.now(),
            )
    except (MetrikaError, yandex.TokenUnavailableError) as error:
        _event(submission, "confirm_error", level=Level.WARNING, error=str(error))
        _dispatch(submission.pk, interval)
        return
    statuses = {p.status for p in parts}
    if P.REJECTED in statuses:
        _transition(submission, [S.SENT], S.REJECTED, "rejected",
                    level=Level.ERROR, finished_at=timezone.now(),
                    message=_("Metrika lists the upload as FAILED."))  # fmt: skip
        return
    if statuses == {P.CONFIRMED}:
        elements = sum(p.elements_count or 0 for p in parts)
        rows = sum(p.rows for p in parts)
        with transaction.atomic():
            if (
                _transition(
                    submission,
                    [S.SENT],
                    S.ACCEPTED,
                    "accepted",
                    level=Level.SUCCESS,
                    elements_count=elements,
                    finished_at=timezone.now(),
                    next_attempt_at=None,
                    wait_reason=W.NONE,
                    elements=elements,
                    rows=rows,
                )
                and elements != rows
            ):
                _event(submission, "count_mismatch", level=Level.WARNING,
                       elements=elements, rows=rows)  # fmt: skip
        return
    sent_at = submission.sent_at or timezone.now()
    hours = settings.SUBMISSION_CONFIRM_TIMEOUT_HOURS
    if timezone.now() - sent_at > timedelta(hours=hours):
        Submission.objects.filter(pk=submission.pk, status=S.SENT).update(
            next_attempt_at=None
        )
        _event(submission, "confirm_timeout", level=Level.WARNING, hours=hours)
        return
    if not submission.events.filter(code="confirm_pending").exists():
        _event(submission, "confirm_pending")
    _dispatch(submission.pk, interval)


# --- helpers --------------------------------------------------------------------


NOTIFY = {S.ACCEPTED, S.REJECTED, S.FAILED, S.NEEDS_REAUTH, S.OUTCOME_UNKNOWN}
FIELDS = {f.name for f in Submission._meta.get_fields()} | {"counter_id"}


def _transition(
    submission: Submission,
    from_statuses: list[str],
    to: str,
    code: str,
    *,
    level: str = Level.INFO,
    guard: Q | None = None,
    actor: AbstractBaseUser | None = None,
    **values: Any,
) -> bool:
    """Move ``submission`` to ``to`` if it is in one of ``from_statuses``.

    Keyword arguments naming model fields are written with the change; the rest
    are parameters of the timeline event. Return True when this caller won.
    """
    fields = {k: v for k, v in values.items() if k in FIELDS}
    query = Submission.objects.filter(pk=submission.pk, status__in=from_statuses)
    if guard is not None:
        query = query.filter(guard)
    with transaction.atomic():
        if not query.update(status=to, status_changed_at=timezone.now(), **fields):
            return False
        from_status = submission.status
        submission.status = to
        for key, value in fields.items():
            setattr(submission, key, value)
        _event(submission, code, level=level, from_status=from_status,
               to_status=to, actor=actor, **values)  # fmt: skip
        if to in NOTIFY:
            pk = submission.pk
            transaction.on_commit(lambda: notifications.submission_notify(pk))
    return True


def _event(
    submission: Submission,
    code: str,
    *,
    level: str = Level.INFO,
    from_status: str = "",
    to_status: str = "",
    actor: AbstractBaseUser | None = None,
    **params: Any,
) -> None:
    SubmissionEvent.objects.create(
        submission=submission,
        code=code,
        level=level,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        params={k: _jsonable(v) for k, v in params.items()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _format_time(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _dispatch(submission_id: int, delay: float = 0.0) -> None:
    """Queue the task after commit; long waits are left to the sweeper because a
    countdown longer than the broker's visibility timeout is redelivered early."""
    now = timezone.now()
    if delay > settings.SUBMISSION_MAX_COUNTDOWN_SECONDS:
        Submission.objects.filter(pk=submission_id).update(dispatch_due_at=None)
        return
    Submission.objects.filter(pk=submission_id).update(
        dispatch_due_at=now + timedelta(seconds=delay)
    )

    def send() -> None:
        from ordersync.submissions.tasks import submission_process_task

        try:
            submission_process_task.apply_async(
                args=[submission_id], countdown=max(delay, 0) or None
            )
        except Exception:
            # The broker is down: the row stays QUEUED and the sweeper queues it.
            logger.exception("could not queue submission %s", submission_id)

    transaction.on_commit(send)


# --- retention --------------------------------------------------------------------


def upload_files_purge(*, now: datetime | None = None) -> int:
    """Delete the original, prepared and problem-report files of uploads older than
    ``UPLOAD_RETENTION_DAYS``; counts, problems and the timeline stay.

    Uploads still being sent keep their files. Return how many uploads were purged.
    """
    from ordersync.uploads.models import Upload, UploadPart

    cutoff = (now or timezone.now()) - timedelta(days=settings.UPLOAD_RETENTION_DAYS)
    stored = ~Q(parts__file="")
    for name in Upload.STORED_FILES:
        stored |= ~Q(**{name: ""})
    uploads = (
        Upload.objects.filter(stored, created_at__lt=cutoff)
        .exclude(submissions__status__in=Submission.ACTIVE)
        .distinct()
    )
    purged = 0
    for upload in uploads.iterator(chunk_size=200):
        for name in Upload.STORED_FILES:
            if field := getattr(upload, name):
                field.delete(save=False)
        for part in upload.parts.exclude(file=""):
            part.file.delete(save=False)
            UploadPart.objects.filter(pk=part.pk).update(file="")
        Upload.objects.filter(pk=upload.pk).update(
            **dict.fromkeys(Upload.STORED_FILES, "")
        )
        purged += 1
    if purged:
        logger.info("retention: deleted the files of %s uploads", purged)
    return purged
