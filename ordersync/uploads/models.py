import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def original_file_name(instance: "Upload", filename: str) -> str:
    """Return a generated storage name; the user's file name is never used."""
    return f"orderfiles/{instance.public_id}/source"


def part_file_name(instance: "UploadPart", filename: str) -> str:
    return f"orderfiles/{instance.upload.public_id}/part-{instance.index + 1:03d}.csv"


def error_ids_file_name(instance: "Upload", filename: str) -> str:
    return f"orderfiles/{instance.public_id}/error-ids.jsonl"


def report_file_name(instance: "Upload", filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1]
    return f"orderfiles/{instance.public_id}/problems.{suffix}"


class Upload(models.Model):
    """One file a user brings through the wizard; the wizard's state lives here."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ANALYSING = "analysing", _("Reading the file")
        READY = "ready", _("Ready to send")
        UNREADABLE = "unreadable", _("Cannot be read")
        CONFIRMED = "confirmed", _("Confirmed")
        ABANDONED = "abandoned", _("Abandoned")

    class Step(models.TextChoices):
        FILE = "file", _("Counter and file")
        SOURCE = "source", _("Source")
        COLUMNS = "columns", _("Columns")
        OPTIONS = "options", _("Values and options")
        PREVIEW = "preview", _("Preview")
        CONFIRM = "confirm", _("Confirm")

    class Job(models.TextChoices):
        NONE = "", _("Nothing")
        INSPECT = "inspect", _("Reading the file")
        STATUSES = "statuses", _("Counting status values")
        VALIDATE = "validate", _("Checking every row")
        FIXES = "fixes", _("Checking the corrected rows")

    class MergeMode(models.TextChoices):
        SAVE = "SAVE", _("Save")
        UPDATE = "UPDATE", _("Update")
        APPEND = "APPEND", _("Append")

    class Duplicates(models.TextChoices):
        KEEP_ALL = "keep_all", _("Send every row")
        KEEP_FIRST = "keep_first", _("Keep the first row of each order")
        KEEP_LAST = "keep_last", _("Keep the last row of each order")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    counter = models.ForeignKey(
        "counters.Counter",
        on_delete=models.PROTECT,
        related_name="uploads",
        verbose_name=_("counter"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="uploads",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    # The furthest step the user has reached; resuming a draft opens it.
    step = models.CharField(
        _("step"), max_length=16, choices=Step.choices, default=Step.SOURCE
    )

    # The interface language when the check started: problem reports use it.
    language = models.CharField(max_length=8, default="ru")
    original_name = models.CharField(_("file name"), max_length=255)
    original_file = models.FileField(
        _("file"), upload_to=original_file_name, max_length=255
    )
    size_bytes = models.BigIntegerField(_("size"), default=0)

    # The background job the wizard waits for, and its progress.
    job = models.CharField(max_length=16, choices=Job.choices, blank=True)
    job_started_at = models.DateTimeField(null=True, blank=True)
    job_finished_at = models.DateTimeField(null=True, blank=True)
    # How often the job was started for the same request; the sweeper re-queues a
    # job whose worker died and gives up after UPLOAD_JOB_MAX_ATTEMPTS.
    job_attempts = models.PositiveSmallIntegerField(default=1)
    progress_rows = models.BigIntegerField(default=0)
    progress_fraction = models.FloatField(default=0.0)
    # The step whose page shows the last job's failure, and the failure itself.
    error_step = models.CharField(max_length=16, choices=Step.choices, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_ru = models.TextField(blank=True)
    error_en = models.TextField(blank=True)

    # What the user told the engine (sheet, encoding, delimiter, header_row);
    # the fields below hold what it then detected or used.
    source_options = models.JSONField(default=dict, blank=True)
    kind = models.CharField(_("file type"), max_length=8, blank=True)
    sheets = models.JSONField(default=list, blank=True)
    sheet = models.CharField(_("sheet"), max_length=255, blank=True)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=4, blank=True)
    header_row = models.PositiveIntegerField(_("header row"), null=True, blank=True)
    columns = models.JSONField(default=list, blank=True)
    source_preview = models.JSONField(default=list, blank=True)

    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    # Where the mapping came from: "suggested", "last" or a saved mapping's name.
    mapping_origin = models.CharField(max_length=120, blank=True)
    statuses = models.JSONField(_("status values"), default=dict, blank=True)
    status_counts = models.JSONField(default=dict, blank=True)
    merge_mode = models.CharField(
        _("merge mode"), max_length=8, choices=MergeMode.choices, default="SAVE"
    )
    phone_region = models.CharField(_("phone region"), max_length=2, default="RU")
    hash_pii = models.BooleanField(_("hash e-mails and phones"), default=True)
    duplicates = models.CharField(
        _("duplicate order ids"),
        max_length=16,
        choices=Duplicates.choices,
        default=Duplicates.KEEP_ALL,
    )

    rows_total = models.BigIntegerField(_("rows"), default=0)
    rows_valid = models.BigIntegerField(_("valid rows"), default=0)
    rows_invalid = models.BigIntegerField(_("rows with errors"), default=0)
    rows_dropped_duplicates = models.BigIntegerField(default=0)
    warnings_count = models.BigIntegerField(_("warnings"), default=0)
    # Rows sent without an order id cannot be matched if a send is replayed.
    rows_without_id = models.BigIntegerField(default=0)
    counts_by_code = models.JSONField(default=dict, blank=True)
    problems_kept = models.PositiveIntegerField(default=0)
    output_columns = models.JSONField(default=list, blank=True)
    output_preview = models.JSONField(default=list, blank=True)
    problems_csv = models.FileField(upload_to=report_file_name, blank=True)
    problems_xlsx = models.FileField(upload_to=report_file_name, blank=True)
    # The order ids of the rows with errors, one JSON string a line (ids only, no
    # other personal data), so a corrected export can be matched against them.
    error_ids = models.FileField(upload_to=error_ids_file_name, blank=True)
    # The files a check writes, gone with its results; with the original, all the
    # files an upload keeps in storage (its parts' files aside).
    RESULT_FILES = ("problems_csv", "problems_xlsx", "error_ids")
    STORED_FILES = ("original_file", *RESULT_FILES)
    rows_invalid_without_id = models.BigIntegerField(default=0)

    # An upload of only the rows of ``fixes_of`` that had errors and are valid now.
    fixes_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fixes",
        verbose_name=_("fixes for upload"),
    )
    # Rows of the corrected export skipped: their id had no error in ``fixes_of``.
    rows_not_matched = models.BigIntegerField(default=0)

    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("confirmed by"),
    )

    class Meta:
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_by", "-created_at"]),
            models.Index(fields=["counter", "-created_at"]),
            # The history counts a user's unfinished uploads on every page.
            models.Index(fields=["created_by", "status"]),
        ]

    def __str__(self) -> str:
        return self.original_name


class UploadPart(models.Model):
    """One CSV file exactly as it will be sent to Metrika."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField()
    file = models.FileField(upload_to=part_file_name, max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    rows = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "index"], name="upload_part_unique_index"
            )
        ]

    def __str__(self) -> str:
        return f"{self.upload} #{self.index + 1}"


class UploadProblem(models.Model):
    """One of the first problems found in an upload, kept for the preview table."""

    upload = models.ForeignKey(
        Upload, on_delete=models.CASCADE, related_name="problems"
    )
    row = models.PositiveBigIntegerField()
    column = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=32, blank=True)
    value = models.TextField(blank=True)
    code = models.CharField(max_length=64)
    severity = models.CharField(max_length=8)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["row", "id"]
        indexes = [
            models.Index(fields=["upload", "row", "id"]),
            models.Index(fields=["upload", "code", "row", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} @ {self.row}"
