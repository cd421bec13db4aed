"""Writes and state changes of the upload wizard, and the jobs its task runs."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.db.models.fields.files import FieldFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ordersync import orderfile
from ordersync.counters.models import Counter
from ordersync.orderfile.reader import cell_to_text
from ordersync.orderfile.rules import clean_text
from ordersync.uploads import selectors
from ordersync.uploads.errors import UploadError
from ordersync.uploads.models import Upload, UploadPart, UploadProblem

logger = logging.getLogger(__name__)

S = Upload.Status
Step = Upload.Step
Job = Upload.Job

STEPS = list(Step.values)
# The page that starts each job, where its failure is shown.
JOB_STEP = {
    Job.INSPECT: Step.SOURCE,
    Job.STATUSES: Step.COLUMNS,
    Job.VALIDATE: Step.OPTIONS,
    Job.FIXES: Step.FILE,
}
ALLOWED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods")
# Errors the user can fix by telling the engine how to read the file.
SOURCE_STEP_CODES = frozenset(
    {
        "encoding_invalid",
        "encoding_unknown",
        "delimiter_invalid",
        "header_row_out_of_range",
        "sheet_not_found",
        "no_header",
    }
)
PREVIEW_ROWS = 20
OUTPUT_PREVIEW_ROWS = 50
STATUS_VALUES_KEPT = 500
PROGRESS_EVERY = 20_000
WIZARD_DICTIONARY = "Upload wizard"
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_file_name(name: str) -> str:
    """Return the user's file name fit for display: a short, visible basename."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _INVISIBLE.sub("", name).strip()
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = f"{(stem if dot else name)[: 250 - len(ext)]}…{dot}{ext}"
    return name or "file"


def check_file(file: UploadedFile | None) -> None:
    """Raise UploadError if the file may not enter the wizard at all."""
    if file is None:
        raise UploadError(_("Choose a file to upload."))
    name = clean_file_name(file.name or "")
    if not name.lower().endswith(ALLOWED_EXTENSIONS):
        raise UploadError(
            _(
                "«%(name)s» is not a table file. Upload a .csv, .txt, .tsv, .xlsx, "
                ".xls or .ods file."
            )
            % {"name": name}
        )
    if file.size == 0:
        raise UploadError(_("The file «%(name)s» is empty.") % {"name": name})
    if file.size > settings.UPLOAD_MAX_BYTES:
        raise UploadError(too_big_message())


def too_big_message() -> str:
    return _(
        "The file is larger than %(limit)s. Split it into smaller files or save it "
        "as CSV, which is much smaller than Excel."
    ) % {"limit": filesizeformat(settings.UPLOAD_MAX_BYTES)}


def upload_create(
    *, user: AbstractBaseUser, counter: Counter, file: UploadedFile, language: str
) -> Upload:
    """Store a new file for ``counter`` and start reading it."""
    check_file(file)
    upload = Upload(
        counter=counter,
        created_by=user,
        original_name=clean_file_name(file.name or ""),
        size_bytes=file.size or 0,
        merge_mode=counter.default_merge_mode,
        hash_pii=counter.hash_personal_data,
        phone_region=counter.default_phone_region,
        language=language,
    )
    return _store_and_start(upload, file, Job.INSPECT)


def upload_fixes_create(
    *,
    user: AbstractBaseUser,
    original: Upload,
    file: UploadedFile,
    merge_mode: str,
    language: str,
) -> Upload:
    """Store a corrected export of ``original`` and check only the rows it fixes.

    The file is read with the original's sheet, mapping, options and status values;
    only rows whose order id had errors in the original are checked and sent.
    """
    if not selectors.upload_fixes_possible(original):
        raise UploadError(
            _("Upload #%(number)s has no rows with errors that could be matched.")
            % {"number": original.pk}
        )
    check_file(file)
    upload = Upload(
        counter=original.counter,
        created_by=user,
        fixes_of=original,
        original_name=clean_file_name(file.name or ""),
        size_bytes=file.size or 0,
        language=language,
        step=Step.OPTIONS,
        source_options=dict(original.source_options),
        mapping={**original.mapping, "confidence": {}},
        mapping_origin=original.mapping_origin,
        statuses=dict(original.statuses),
        status_counts=original.status_counts,
        merge_mode=merge_mode,
        phone_region=original.phone_region,
        hash_pii=original.hash_pii,
        duplicates=original.duplicates,
    )
    return _store_and_start(upload, file, Job.FIXES)


def _store_and_start(upload: Upload, file: UploadedFile, job: str) -> Upload:
    """Save a new upload with its file and queue its first job, or keep nothing."""
    upload.original_file.save("source", file, save=False)
    try:
        with transaction.atomic():
            upload.save()
            _start_job(upload, job)
    except BaseException:
        upload.original_file.delete(save=False)
        raise
    return upload


def upload_replace_file(*, upload: Upload, file: UploadedFile) -> Upload:
    """Put a corrected file in place of the upload's one, keeping its mapping."""
    _check_editable(upload)
    check_file(file)
    old_name = upload.original_file.name
    upload.original_name = clean_file_name(file.name or "")
    upload.size_bytes = file.size or 0
    upload.original_file.save("source", file, save=False)
    upload.source_options = {}
    upload.step = Step.SOURCE
    with transaction.atomic():
        _clear_results(upload)
        _start_job(upload, Job.INSPECT)
    if old_name and old_name != upload.original_file.name:
        upload.original_file.storage.delete(old_name)
    return upload


def upload_set_source(*, upload: Upload, options: dict[str, Any]) -> Upload:
    """Read the file again with the sheet, encoding, delimiter or header given."""
    _check_editable(upload)
    upload.source_options = {k: v for k, v in options.items() if v not in ("", None)}
    with transaction.atomic():
        _clear_results(upload)
        _start_job(upload, Job.INSPECT)
    return upload


def upload_accept_source(*, upload: Upload) -> Upload:
    """Take the file as read and go on to the columns."""
    _check_editable(upload)
    if not upload.columns:
        raise UploadError(_("The file has not been read yet."))
    _advance(upload, Step.COLUMNS)
    upload.save(update_fields=["step", "updated_at"])
    return upload


def upload_set_mapping(
    *, upload: Upload, mapping: orderfile.Mapping, origin: str = ""
) -> Upload:
    """Store a mapping that fits the file and count the status values if needed."""
    _check_editable(upload)
    mapping.check_against(upload.columns)
    data = mapping.to_dict()
    changed = data["fields"] != upload.mapping.get("fields") or data[
        "constants"
    ] != upload.mapping.get("constants")
    upload.mapping = data
    if origin:
        upload.mapping_origin = origin
    status_column = mapping.fields.get("order_status", [""])[0]
    with transaction.atomic():
        if changed:
            _clear_results(upload)
        if status_column and (changed or not upload.status_counts):
            upload.status_counts = {}
            upload.step = Step.COLUMNS
            _start_job(upload, Job.STATUSES)
        else:
            if not status_column:
                upload.status_counts = {}
            _advance(upload, Step.OPTIONS)
            upload.save()
    return upload


def upload_apply_mapping(*, upload: Upload, data: dict, origin: str) -> list[str]:
    """Put a saved or earlier mapping in the form; return its columns not in the file.

    Fields whose columns are missing are left out, so the user sees what still
    needs a column instead of an error.
    """
    _check_editable(upload)
    mapping = orderfile.Mapping.from_dict(data)
    missing = [
        c for cols in mapping.fields.values() for c in cols if c not in upload.columns
    ]
    mapping.fields = {
        f: [c for c in cols if c in upload.columns]
        for f, cols in mapping.fields.items()
    }
    mapping.fields = {f: cols for f, cols in mapping.fields.items() if cols}
    mapping.confidence = {}
    upload.mapping = mapping.to_dict()
    upload.mapping_origin = origin
    upload.save(update_fields=["mapping", "mapping_origin", "updated_at"])
    return missing


def upload_set_options(
    *,
    upload: Upload,
    user: AbstractBaseUser,
    statuses: dict[str, str],
    merge_mode: str,
    hash_pii: bool,
    duplicates: str,
    remember_statuses: bool,
    language: str,
) -> Upload:
    """Store the status values and send options, then check every row."""
    from ordersync.counters.services import status_dictionary_save

    _check_editable(upload)
    if upload.step not in (Step.OPTIONS, Step.PREVIEW, Step.CONFIRM):
        raise UploadError(_("Choose the columns first."))
    upload.statuses = statuses
    upload.merge_mode = merge_mode
    upload.hash_pii = hash_pii
    upload.duplicates = duplicates
    upload.language = language
    with transaction.atomic():
        if remember_statuses and statuses:
            status_dictionary_save(
                counter=upload.counter,
                name=WIZARD_DICTIONARY,
                statuses={**_wizard_dictionary(upload.counter), **statuses},
                user=user,
            )
        _clear_results(upload)
        upload.step = Step.OPTIONS
        _start_job(upload, Job.VALIDATE)
    return upload


def upload_go_to_confirm(*, upload: Upload) -> Upload:
    """Accept the preview: only the valid rows will be sent."""
    if upload.status != S.READY:
        raise UploadError(_("The file has not been checked yet."))
    if not upload.rows_valid:
        raise UploadError(_("No row can be sent: fix the file and upload it again."))
    _advance(upload, Step.CONFIRM)
    upload.save(update_fields=["step", "updated_at"])
    return upload


def upload_confirm(*, upload: Upload, user: AbstractBaseUser) -> bool:
    """Confirm a checked upload and queue its sending, once however often called.

    Return whether this call made the transition.
    """
    if upload.status == S.READY and not upload.rows_valid:
        raise UploadError(_("No row can be sent: fix the file and upload it again."))
    with transaction.atomic():
        won = Upload.objects.filter(
            pk=upload.pk, status=S.READY, rows_valid__gt=0
        ).update(
            status=S.CONFIRMED,
            step=Step.CONFIRM,
            confirmed_at=timezone.now(),
            confirmed_by=user,
            updated_at=timezone.now(),
        )
        upload.refresh_from_db()
        if won and apps.is_installed("ordersync.submissions"):
            from ordersync.submissions.services import (
                SubmissionError,
                submission_create,
            )

            try:
                submission_create(
                    upload=upload, user=user, merge_mode=upload.merge_mode
                )
            except SubmissionError as exc:
                raise UploadError(str(exc)) from exc
    return bool(won)


def upload_abandon(*, upload: Upload) -> None:
    """Drop a draft and delete its files."""
    _check_editable(upload)
    Upload.objects.filter(pk=upload.pk).exclude(status=S.CONFIRMED).update(
        status=S.ABANDONED, job="", updated_at=timezone.now()
    )
    _delete_results(upload)
    if upload.original_file:
        upload.original_file.delete(save=False)
    Upload.objects.filter(pk=upload.pk).update(original_file="")


def _check_editable(upload: Upload) -> None:
    if upload.status in (S.CONFIRMED, S.ABANDONED):
        raise UploadError(_("This upload is closed; start a new one."))
    if upload.status == S.ANALYSING:
        raise UploadError(_("Wait until the file has been read."))


def _advance(upload: Upload, step: str) -> None:
    upload.step = step


def _wizard_dictionary(counter: Counter) -> dict[str, str]:
    saved = counter.status_dictionaries.filter(name=WIZARD_DICTIONARY).first()
    return dict(saved.statuses) if saved else {}


def _clear_results(upload: Upload) -> None:
    """Forget the last check; its files go after commit."""
    _delete_results(upload)
    upload.rows_total = upload.rows_valid = upload.rows_invalid = 0
    upload.rows_dropped_duplicates = upload.warnings_count = 0
    upload.rows_without_id = upload.problems_kept = 0
    upload.rows_invalid_without_id = upload.rows_not_matched = 0
    upload.counts_by_code = {}
    upload.output_columns = []
    upload.output_preview = []
    for name in Upload.RESULT_FILES:
        setattr(upload, name, "")


def _delete_results(upload: Upload) -> None:
    names = [p.file.name for p in upload.parts.all() if p.file]
    stored = (getattr(upload, name) for name in Upload.RESULT_FILES)
    names += [f.name for f in stored if f]
    UploadPart.objects.filter(upload=upload).delete()
    UploadProblem.objects.filter(upload=upload).delete()
    if names:
        transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name)


def _start_job(upload: Upload, job: str) -> None:
    from ordersync.uploads.tasks import upload_run_job

    upload.status = S.ANALYSING
    upload.job = job
    upload.job_started_at = timezone.now()
    upload.job_finished_at = None
    upload.job_attempts = 1
    upload.progress_rows = 0
    upload.progress_fraction = 0.0
    upload.error_step = upload.error_code = upload.error_ru = upload.error_en = ""
    upload.save()
    upload_id = upload.pk
    transaction.on_commit(lambda: upload_run_job.delay(upload_id))


# --------------------------------------------------------------------------- jobs


def upload_run_job(*, upload_id: int) -> None:
    """Run the job the upload waits for (read, count statuses or check)."""
    upload = (
        Upload.objects.select_related("counter")
        .filter(pk=upload_id, status=S.ANALYSING)
        .first()
    )
    if upload is None:
        return
    started = upload.job_started_at
    runner = {
        Job.INSPECT: _inspect,
        Job.STATUSES: _count_statuses,
        Job.VALIDATE: _validate,
        Job.FIXES: _check_fixes,
    }[upload.job]
    try:
        with _local_file(upload.original_file) as path:
            runner(upload, path)
    except orderfile.SourceError as exc:
        step = Step.SOURCE if exc.code in SOURCE_STEP_CODES else Step.FILE
        _fail(upload, started, exc, step, S.DRAFT if step == Step.SOURCE else None)
    except orderfile.MappingError as exc:
        _fail(upload, started, exc, Step.COLUMNS, S.DRAFT)
    except orderfile.OptionsError as exc:
        _fail(upload, started, exc, Step.OPTIONS, S.DRAFT)
    except _ErrorIdsGoneError as exc:
        _fail(upload, started, exc, Step.FILE, None)
    except Exception:
        logger.exception("upload %s: job %s failed", upload.pk, upload.job)
        _fail(upload, started, _InternalError(), JOB_STEP[upload.job], S.DRAFT)


class _InternalError(orderfile.OrderFileError):
    """Our own failure, told to the user without details."""

    def __init__(self) -> None:
        super().__init__("internal")

    def message(self, lang: str = "ru") -> str:
        with translation.override(lang):
            return _(
                "The file could not be processed because of an error on our side. "
                "Try again; if it happens again, tell your administrator."
            )


class _ErrorIdsGoneError(orderfile.OrderFileError):
    """The ids of the original's rows with errors were deleted (retention)."""

    def __init__(self, number: int) -> None:
        self.number = number
        super().__init__("fixes_gone")

    def message(self, lang: str = "ru") -> str:
        with translation.override(lang):
            return _(
                "The rows with errors of upload #%(number)s are no longer kept, so "
                "the corrected rows cannot be found. Upload the whole corrected "
                "file as a new upload."
            ) % {"number": self.number}


class _StuckError(orderfile.OrderFileError):
    """A job whose worker died every time it was started."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        super().__init__("job_stuck")

    def message(self, lang: str = "ru") -> str:
        with translation.override(lang):
            return _(
                "The file could not be processed; reading it stopped without an "
                "answer %(attempts)s times. Save it as CSV or split it into "
                "smaller files and upload it again; if it happens again, tell "
                "your administrator."
            ) % {"attempts": self.attempts}


def upload_requeue_stuck(*, now: datetime | None = None) -> dict[str, int]:
    """Start again the jobs whose worker stopped reporting progress.

    A job silent for ``UPLOAD_JOB_STUCK_MINUTES`` is started again, with a new
    ``job_started_at`` so a late answer of the old worker is ignored; after
    ``UPLOAD_JOB_MAX_ATTEMPTS`` starts the upload becomes unreadable instead, so a
    file that kills the worker cannot loop. Return counts per action.
    """
    from ordersync.uploads.tasks import upload_run_job

    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.UPLOAD_JOB_STUCK_MINUTES)
    counts = {"requeued": 0, "failed": 0}
    for upload in Upload.objects.filter(status=S.ANALYSING, updated_at__lt=cutoff):
        if upload.job_attempts >= settings.UPLOAD_JOB_MAX_ATTEMPTS:
            # Unreadable uploads are shown on the file step: choose another file.
            error = _StuckError(upload.job_attempts)
            _fail(upload, upload.job_started_at, error, Step.FILE, None)
            counts["failed"] += 1
            continue
        with transaction.atomic():
            moved = Upload.objects.filter(
                pk=upload.pk, status=S.ANALYSING, updated_at=upload.updated_at
            ).update(
                job_started_at=now,
                job_attempts=F("job_attempts") + 1,
                progress_rows=0,
                progress_fraction=0.0,
                updated_at=now,
            )
            if moved:
                logger.warning(
                    "upload %s: job %s silent since %s, started again",
                    upload.pk,
                    upload.job,
                    upload.updated_at,
                )
                transaction.on_commit(lambda pk=upload.pk: upload_run_job.delay(pk))
                counts["requeued"] += 1
    return counts


def upload_drafts_expire(*, now: datetime | None = None) -> int:
    """Abandon drafts nobody touched for ``UPLOAD_DRAFT_RETENTION_DAYS`` (at most
    ``UPLOAD_RETENTION_DAYS``) and delete their files and problem rows; the counts on
    the upload stay. Return how many drafts were abandoned."""
    now = now or timezone.now()
    days = min(settings.UPLOAD_DRAFT_RETENTION_DAYS, settings.UPLOAD_RETENTION_DAYS)
    drafts = Upload.objects.filter(
        status__in=[S.DRAFT, S.READY, S.UNREADABLE],
        updated_at__lt=now - timedelta(days=days),
    )
    expired = 0
    for upload in drafts.iterator(chunk_size=200):
        with transaction.atomic():
            # The user may have come back since the query: then the draft stays.
            if not Upload.objects.filter(
                pk=upload.pk, status=upload.status, updated_at=upload.updated_at
            ).update(status=S.ABANDONED, job="", updated_at=now):
                continue
            names = [upload.original_file.name] if upload.original_file else []
            _delete_results(upload)
            Upload.objects.filter(pk=upload.pk).update(
                **dict.fromkeys(Upload.STORED_FILES, "")
            )
            if names:
                transaction.on_commit(lambda names=names: _delete_files(names))
        expired += 1
    if expired:
        logger.info("retention: abandoned %s drafts and deleted their files", expired)
    return expired


def _fail(
    upload: Upload,
    started: Any,
    exc: orderfile.OrderFileError,
    step: str,
    status: str | None,
) -> None:
    Upload.objects.filter(
        pk=upload.pk, status=S.ANALYSING, job_started_at=started
    ).update(
        status=status or S.UNREADABLE,
        step=step,
        error_step=step,
        error_code=exc.code,
        error_ru=_without_nul(exc.message("ru")),
        error_en=_without_nul(exc.message("en")),
        job_finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _without_nul(value: Any) -> Any:
    """Return the value with NUL characters shown as ␀.

    PostgreSQL stores no NUL in text or JSON, and files from the wild carry them.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\u2400")
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _finish(upload: Upload, started: Any, **fields: Any) -> bool:
    fields = {name: _without_nul(value) for name, value in fields.items()}
    return bool(
        Upload.objects.filter(
            pk=upload.pk, status=S.ANALYSING, job_started_at=started
        ).update(
            job_finished_at=timezone.now(),
            updated_at=timezone.now(),
            progress_fraction=1.0,
            **fields,
        )
    )


def _progress(upload: Upload) -> Callable[[int, float], None]:
    def report(rows: int, fraction: float) -> None:
        # updated_at is the heartbeat the sweeper watches.
        Upload.objects.filter(pk=upload.pk, status=S.ANALYSING).update(
            progress_rows=rows,
            progress_fraction=min(max(fraction, 0.0), 1.0),
            updated_at=timezone.now(),
        )

    return report


def _open(upload: Upload, path: Path, *, read_ahead: bool = False) -> Any:
    chosen = upload.source_options
    return orderfile.open_source(
        path,
        encoding=chosen.get("encoding") or None,
        delimiter=chosen.get("delimiter") or None,
        sheet=chosen.get("sheet") or None,
        header_row=chosen.get("header_row") or None,
        limits=orderfile.Limits(max_rows=settings.UPLOAD_MAX_ROWS),
        read_ahead=read_ahead,
    )


def _inspect(upload: Upload, path: Path) -> None:
    source = _open(upload, path)
    rows = source.preview(PREVIEW_ROWS)
    fields = _source_fields(source, rows)
    fields.update(status=S.DRAFT, step=Step.SOURCE)
    if not _fits(upload.mapping, source.columns):
        mapping, origin = _initial_mapping(upload, source.columns, rows)
        fields.update(mapping=mapping, mapping_origin=origin)
    _finish(upload, upload.job_started_at, **fields)


def _source_fields(source: Any, rows: list) -> dict[str, Any]:
    """Return what reading the file found, as Upload fields."""
    preview = [[n, [cell_to_text(v) for v in values]] for n, values in rows]
    return {
        "kind": source.kind,
        "sheets": list(source.sheets or []),
        "sheet": source.sheet or "",
        "encoding": source.encoding or "",
        "delimiter": source.delimiter or "",
        "header_row": source.header_row,
        "columns": list(source.columns),
        "source_preview": preview,
    }


def _check_fixes(upload: Upload, path: Path) -> None:
    """Read a corrected export with the original's choices, then check its rows.

    What reading found is stored first, so a mapping that no longer fits is shown
    on the columns step like any other upload's.
    """
    source = _open(upload, path)
    fields = _without_nul(_source_fields(source, source.preview(PREVIEW_ROWS)))
    if not Upload.objects.filter(
        pk=upload.pk, status=S.ANALYSING, job_started_at=upload.job_started_at
    ).update(**fields):
        return
    for name, value in fields.items():
        setattr(upload, name, value)
    _validate(upload, path)


def _fits(data: dict, columns: list[str]) -> bool:
    used = [c for cols in (data or {}).get("fields", {}).values() for c in cols]
    return bool(used) and all(c in columns for c in used)


def _initial_mapping(
    upload: Upload, columns: list[str], rows: list
) -> tuple[dict, str]:
    last = selectors.last_mapping_for_counter(upload.counter_id, exclude=upload.pk)
    if _fits(last, columns):
        return {**last, "confidence": {}}, "last"
    sample = [values for _, values in rows]
    return orderfile.suggest_mapping(columns, sample).to_dict(), "suggested"


class _ProgressSource:
    """A source whose batches report the rows read so far (for count_statuses, and
    under the filter of fixed rows)."""

    def __init__(self, source: Any, progress: Callable[[int, float], None]) -> None:
        self._source = source
        self._progress = progress

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def iter_batches(self, *, fast: bool = True) -> Iterator[Any]:
        done, next_report = 0, PROGRESS_EVERY
        for batch in self._source.iter_batches(fast=fast):
            # Counted before the consumer may filter the batch's rows.
            done += len(batch.rows) if batch.frame is None else batch.frame.height
            yield batch
            if done >= next_report:
                self._progress(done, batch.consumed)
                next_report = done + PROGRESS_EVERY


def _count_statuses(upload: Upload, path: Path) -> None:
    source = _open(upload, path)
    column = upload.mapping["fields"]["order_status"][0]
    known = {**selectors.counter_statuses(upload.counter_id), **upload.statuses}
    dictionary = orderfile.StatusDictionary(_valid_statuses(known))
    counts = orderfile.count_statuses(
        _ProgressSource(source, _progress(upload)), column, dictionary
    )
    values = [c for c in counts if c["value"] != ""]
    _finish(
        upload,
        upload.job_started_at,
        status=S.DRAFT,
        step=Step.OPTIONS,
        status_counts={
            "column": column,
            "values": values[:STATUS_VALUES_KEPT],
            "more": max(0, len(values) - STATUS_VALUES_KEPT),
            "empty": sum(c["rows"] for c in counts if c["value"] == ""),
        },
    )


def _valid_statuses(statuses: dict[str, str]) -> dict[str, str]:
    from ordersync.orderfile.statuses import STATUSES

    return {k: v for k, v in statuses.items() if str(v).upper() in STATUSES}


def engine_options(upload: Upload, **overrides: Any) -> orderfile.Options:
    """Return the engine's options for this upload and its counter."""
    options: dict[str, Any] = {
        "timezone": upload.counter.time_zone_name,
        "region": upload.phone_region or "RU",
        "hash_pii": upload.hash_pii,
        "duplicates": upload.duplicates,
        "statuses": orderfile.StatusDictionary(_valid_statuses(upload.statuses)),
        "max_problems": settings.UPLOAD_MAX_PROBLEMS,
        "part_size": settings.UPLOAD_PART_BYTES,
        "progress_every": PROGRESS_EVERY,
    }
    return orderfile.Options(**{**options, **overrides})


def _validate(upload: Upload, path: Path) -> None:
    started = upload.job_started_at
    fixed = _error_ids_of(upload.fixes_of) if upload.fixes_of_id else None
    # Every row is read on the fast path unless only fixed rows are wanted.
    source = _open(upload, path, read_ahead=fixed is None)
    try:
        _check(upload, path, source, fixed, started)
    finally:
        source.close()  # a failure before the rows were read leaves it reading


def _check(
    upload: Upload, path: Path, source: Any, fixed: set[str] | None, started: Any
) -> None:
    mapping = orderfile.Mapping.from_dict(upload.mapping)
    progress: Callable[[int, float], None] | None = _progress(upload)
    checked = source
    if fixed is not None:
        # Few rows may match: progress counts rows read, so the job keeps beating.
        checked = _FixedRows(_ProgressSource(source, progress), mapping, fixed)
        progress = None
    with tempfile.TemporaryDirectory(prefix="ordersync-check-") as tmp:
        workdir = Path(tmp)
        with _ErrorIds(workdir / "error-ids.jsonl") as errors:
            report = orderfile.process(
                checked,
                mapping,
                engine_options(upload, on_invalid=errors),
                output=workdir / "orders.csv",
                progress=progress,
            )
        preview = _output_preview(upload, path, mapping, fixed)
        lang = "en" if upload.language == "en" else "ru"
        reports: dict[str, Path] = {}  # Upload file field -> the file to keep
        if report.problems:
            reports["problems_csv"] = workdir / "problems.csv"
            orderfile.write_problem_csv(source, report, reports["problems_csv"], lang)
            reports["problems_xlsx"] = workdir / "problems.xlsx"
            orderfile.write_problem_xlsx(source, report, reports["problems_xlsx"], lang)
        if errors.written:
            reports["error_ids"] = errors.path
        extra = {
            "rows_invalid_without_id": errors.without_id,
            "rows_not_matched": getattr(checked, "not_matched", 0),
        }
        _store_results(upload, started, report, preview, reports, extra)


class _ErrorIds:
    """Write the order ids of rows with errors to a file, one JSON string a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0
        self.without_id = 0

    def __enter__(self) -> _ErrorIds:
        self._fh = self.path.open("w", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def __call__(self, row: int, order_id: str) -> None:
        if order_id:
            self._fh.write(json.dumps(order_id) + "\n")
            self.written += 1
        else:
            self.without_id += 1


def _error_ids_of(original: Upload) -> set[str]:
    """Return the order ids of the original's rows with errors."""
    if not original.error_ids:
        raise _ErrorIdsGoneError(original.pk)
    try:
        with original.error_ids.open("rb") as fh:
            return {json.loads(line) for line in fh if line.strip()}
    except FileNotFoundError as exc:
        raise _ErrorIdsGoneError(original.pk) from exc


class _FixedRows:
    """The rows of a corrected export whose order id had errors in the original.

    Other non-empty rows are skipped and counted in ``not_matched``. Rows are read
    the reference way (no polars frames), since each id must be looked at.
    """

    def __init__(
        self,
        source: Any,
        mapping: orderfile.Mapping,
        ids: set[str],
    ) -> None:
        if "id" not in mapping.fields:
            raise orderfile.MappingError("mapping_required_field", field="id")
        mapping.check_against(source.columns)
        self._source = source
        self._index = source.columns.index(mapping.fields["id"][0])
        self._ids = ids
        self.not_matched = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def iter_batches(self, *, fast: bool = True) -> Iterator[Any]:
        self.not_matched = 0
        index = self._index
        for batch in self._source.iter_batches(fast=False):
            kept = []
            for number, values in batch.rows:
                if not any(v not in ("", None) for v in values):
                    continue
                value = values[index] if index < len(values) else ""
                if clean_text(value)[0] in self._ids:
                    kept.append((number, values))
                else:
                    self.not_matched += 1
            batch.rows = kept
            yield batch


def _store_results(
    upload: Upload,
    started: Any,
    report: orderfile.Report,
    preview: list[dict],
    reports: dict[str, Path],
    extra: dict[str, Any],
) -> None:
    written: list[str] = []
    try:
        with transaction.atomic():
            locked = (
                Upload.objects.select_for_update()
                .filter(pk=upload.pk, status=S.ANALYSING, job_started_at=started)
                .first()
            )
            if locked is None:
                return
            for index, part_path in enumerate(report.parts):
                part = UploadPart(
                    upload=locked,
                    index=index,
                    size_bytes=Path(part_path).stat().st_size,
                    rows=_count_lines(Path(part_path)) - 1,
                )
                with open(part_path, "rb") as fh:
                    part.file.save("part.csv", File(fh), save=False)
                written.append(part.file.name)
                part.save()
            UploadProblem.objects.bulk_create(
                (
                    UploadProblem(
                        upload=locked,
                        row=p.row,
                        column=_without_nul(p.column[:255]),
                        field=p.field[:32],
                        value=_without_nul(str(p.value)[:1000]),
                        code=p.code[:64],
                        severity=p.severity,
                        params=_without_nul(
                            {k: str(v)[:200] for k, v in p.params.items()}
                        ),
                    )
                    for p in report.problems
                ),
                batch_size=2000,
            )
            for name, report_path in reports.items():
                field: FieldFile = getattr(locked, name)
                with report_path.open("rb") as fh:
                    field.save(report_path.name, File(fh), save=False)
                written.append(field.name)
            without_id = (
                min(report.counts.get("id_missing", 0), report.rows_written)
                if "id" in report.columns
                else report.rows_written
            )
            _finish(
                locked,
                started,
                status=S.READY,
                step=Step.PREVIEW,
                rows_total=report.rows_total,
                rows_valid=report.rows_written,
                rows_invalid=report.rows_invalid,
                rows_dropped_duplicates=report.rows_dropped_duplicates,
                warnings_count=report.warnings_count,
                rows_without_id=without_id,
                counts_by_code=report.counts,
                problems_kept=len(report.problems),
                output_columns=report.columns,
                output_preview=preview,
                progress_rows=report.rows_total,
                problems_csv=locked.problems_csv.name or "",
                problems_xlsx=locked.problems_xlsx.name or "",
                error_ids=locked.error_ids.name or "",
                **extra,
            )
    except BaseException:
        _delete_files(written)
        raise


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            count += block.count(b"\n")
    return count


class _HeadSource:
    """The first rows of a source, for the preview of normalised rows."""

    def __init__(self, source: Any, limit: int) -> None:
        self._source = source
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def iter_batches(self, *, fast: bool = True) -> Iterator[Any]:
        taken = 0
        for batch in self._source.iter_batches(fast=False):
            batch.rows = batch.rows[: self._limit - taken]
            taken += len(batch.rows)
            yield batch
            if taken >= self._limit:
                return


def _output_preview(
    upload: Upload, path: Path, mapping: Any, fixed: set[str] | None = None
) -> list[dict]:
    """Return the first valid rows exactly as they will be sent, repairs marked."""
    source = _open(upload, path)
    if fixed is not None:
        source = _FixedRows(source, mapping, fixed)
    source = _HeadSource(source, OUTPUT_PREVIEW_ROWS * 4)
    buffer = io.BytesIO()
    options = engine_options(
        upload, part_size=None, duplicates=orderfile.KEEP_ALL, fast=False
    )
    report = orderfile.process(source, mapping, options, output=buffer)
    failed = {p.row for p in report.problems if p.severity == "error"}
    repairs: dict[int, dict[str, str]] = {}
    for p in report.problems:
        if p.code == "value_repaired":
            column = p.field
            if upload.hash_pii and column in ("emails", "phones"):
                column += "_md5"
            repairs.setdefault(p.row, {})[column] = str(p.value)
    numbers = [
        n
        for batch in source.iter_batches()
        for n, values in batch.rows
        if any(v not in ("", None) for v in values) and n not in failed
    ]
    lines = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8"))))[1:]
    return [
        {"row": n, "values": values, "repaired": repairs.get(n, {})}
        for n, values in zip(numbers, lines, strict=False)
    ][:OUTPUT_PREVIEW_ROWS]


@contextmanager
def _local_file(field: FieldFile) -> Iterator[Path]:
    """Yield a local path of a stored file, copying it from remote storage."""
    try:
        local = field.storage.path(field.name)
    except NotImplementedError:
        local = None
    if local is not None:
        yield Path(local)
        return
    with tempfile.TemporaryDirectory(prefix="ordersync-src-") as tmp:
        target = Path(tmp) / "source"
        with field.storage.open(field.name, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        yield target
