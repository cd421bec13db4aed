from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Submission(models.Model):
    """One send of a confirmed Upload to Metrika; the database is the truth.

    Every change of ``status`` is a conditional UPDATE (see ``services``) so that
    exactly one worker, sweeper or person wins each transition.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent, awaiting confirmation")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected by Metrika")
        FAILED = "failed", _("Failed")
        NEEDS_REAUTH = "needs_reauth", _("Needs re-authorisation")
        OUTCOME_UNKNOWN = "outcome_unknown", _("Outcome unknown")
        CANCELLED = "cancelled", _("Cancelled")

    class Wait(models.TextChoices):
        NONE = "", _("Not waiting")
        RETRY = "retry", _("Retrying after an error")
        RATE_LIMIT = "rate_limit", _("Metrika's request quota")
        DAILY_QUOTA = "daily_quota", _("Metrika's daily quota")
        PARALLEL = "parallel", _("Another upload of this Yandex account")
        RECONCILE = "reconcile", _("Checking whether Metrika received the file")
        CONFIRM = "confirm", _("Confirmation by Metrika")

    ACTIVE = (Status.QUEUED, Status.SENDING, Status.SENT)
    NEEDS_ATTENTION = (
        Status.FAILED,
        Status.NEEDS_REAUTH,
        Status.OUTCOME_UNKNOWN,
        Status.REJECTED,
    )
    TERMINAL = (
        Status.ACCEPTED,
        Status.REJECTED,
        Status.FAILED,
        Status.NEEDS_REAUTH,
        Status.OUTCOME_UNKNOWN,
        Status.CANCELLED,
    )

    upload = models.ForeignKey(
        "uploads.Upload",
        on_delete=models.CASCADE,
        related_name="submissions",
        verbose_name=_("upload"),
    )
    # Copied from the upload so the history list reads one indexed table.
    counter = models.ForeignKey(
        "counters.Counter",
        on_delete=models.PROTECT,
        related_name="submissions",
        verbose_name=_("counter"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="submissions",
        verbose_name=_("sent by"),
    )
    original_name = models.CharField(_("file name"), max_length=255)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Only the newest submission of an upload appears in the history list.
    is_latest = models.BooleanField(default=True)
    merge_mode = models.CharField(_("merge mode"), max_length=8)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    wait_reason = models.CharField(
        max_length=16, choices=Wait.choices, default=Wait.NONE, blank=True
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the last task for it should have started; None: not in the broker.
    dispatch_due_at = models.DateTimeField(null=True, blank=True)
    # Transient failures so far (quota waits are not failures).
    failures = models.PositiveIntegerField(default=0)
    # Task runs that claimed it: a guard against endless redelivery loops.
    claims = models.PositiveIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    parts_total = models.PositiveIntegerField(_("parts"), default=0)
    parts_sent = models.PositiveIntegerField(_("parts sent"), default=0)
    bytes_total = models.BigIntegerField(_("bytes"), default=0)
    bytes_sent = models.BigIntegerField(_("bytes sent"), default=0)
    rows_sent = models.PositiveIntegerField(_("rows sent"), default=0)
    elements_count = models.PositiveIntegerField(
        _("rows taken by Metrika"), null=True, blank=True
    )
    send_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_type = models.CharField(_("error type"), max_length=64, blank=True)
    error_message = models.TextField(_("Metrika's message"), blank=True)

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["is_latest", "-created_at", "-id"], name="sub_history"
            ),
            models.Index(
                fields=["counter", "is_latest", "-created_at", "-id"],
                name="sub_history_counter",
            ),
            models.Index(
                fields=["created_by", "is_latest", "-created_at", "-id"],
                name="sub_history_user",
            ),
            models.Index(
                fields=["status", "is_latest", "-created_at", "-id"],
                name="sub_history_status",
            ),
            models.Index(fields=["status", "next_attempt_at"], name="sub_sweep"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["upload"],
                condition=Q(status__in=["queued", "sending", "sent"]),
                name="submission_one_active_per_upload",
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.counter_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def progress_percent(self) -> int:
        if not self.bytes_total:
            return 0
        return min(100, int(self.bytes_sent * 100 / self.bytes_total))


class SubmissionPart(models.Model):
    """One POST: a part of the prepared file, at most Metrika's 1 GB."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not sent")
        SENDING = "sending", _("Sending")
        UNKNOWN = "unknown", _("Outcome unknown")
        SENT = "sent", _("Sent")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="parts"
    )
    upload_part = models.ForeignKey(
        "uploads.UploadPart", on_delete=models.CASCADE, related_name="+"
    )
    index = models.PositiveIntegerField()
    size_bytes = models.BigIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    send_started_at = models.DateTimeField(null=True, blank=True)
    uploading_id = models.CharField(max_length=64, blank=True, db_index=True)
    uploading_datetime = models.DateTimeField(null=True, blank=True)
    api_validation_status = models.CharField(max_length=16, blank=True)
    elements_count = models.PositiveIntegerField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submission", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "index"], name="submission_part_unique_index"
            )
        ]

    def __str__(self) -> str:
        return f"{self.submission_id}#{self.index} ({self.status})"


class SubmissionEvent(models.Model):
    """One line of the timeline: a state change or a note, rendered per language."""

    class Level(models.TextChoices):
        INFO = "info", _("Info")
        SUCCESS = "success", _("Success")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="events"
    )
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    # A key of ``messages.EVENT_MESSAGES``; ``params`` fill its placeholders.
    code = models.CharField(max_length=48)
    params = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.submission_id} {self.code}"

    @property
    def text(self) -> str:
        from ordersync.submissions.messages import event_text

        return event_text(self.code, self.params)


class SubmissionAttempt(models.Model):
    """One outbound HTTP request to Metrika: saved before it, completed after it."""

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="attempts"
    )
    part = models.ForeignKey(
        SubmissionPart,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attempts",
    )
    operation = models.CharField(max_length=32)
    method = models.CharField(max_length=8, blank=True)
    url = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_type = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    bytes_sent = models.BigIntegerField(default=0)
    body_sent = models.BooleanField(default=False)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.operation} {self.status_code or '—'}"

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and not self.error_type


class AccountSlot(models.Model):
    """One of the N request slots of a Yandex account, leased across all workers.

    Metrika allows 3 parallel requests per Yandex login; a worker sends only while
    it holds a slot. A lease whose holder died expires and is taken over.
    """

    account = models.ForeignKey(
        "counters.YandexAccount", on_delete=models.CASCADE, related_name="+"
    )
    slot = models.PositiveSmallIntegerField()
    holder = models.UUIDField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "slot"], name="account_slot_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.slot}"
