"""Reads for the wizard and the history pages, limited to what the user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from ordersync.core.permissions import user_is_admin
from ordersync.counters.models import SavedMapping, StatusDictionary
from ordersync.counters.selectors import (
    counter_list_for_upload,
    counter_list_for_user,
)
from ordersync.uploads.models import Upload, UploadProblem

User = AbstractBaseUser | AnonymousUser


def upload_list_for_user(user: User) -> QuerySet[Upload]:
    """Return the uploads to counters the user may see (all of them for admins)."""
    uploads = Upload.objects.select_related("counter", "created_by")
    if user_is_admin(user):
        return uploads
    if not user.is_authenticated or not user.is_active:
        return uploads.none()
    return uploads.filter(counter__in=counter_list_for_user(user).values("pk"))


def upload_get_for_user(user: User, public_id: Any) -> Upload:
    """Return one upload the user may see; raise Http404 for anyone else."""
    return _get(upload_list_for_user(user), public_id)


def upload_list_for_wizard(user: User) -> QuerySet[Upload]:
    """Return the uploads the user may work on: their own (all for admins)."""
    uploads = upload_list_for_user(user)
    if user_is_admin(user):
        return uploads
    return uploads.filter(created_by=user)


def upload_get_for_wizard(user: User, public_id: Any) -> Upload:
    """Return an upload the user may take through the wizard; else Http404."""
    return _get(upload_list_for_wizard(user), public_id)


def upload_get_for_fixes(user: User, public_id: Any) -> Upload:
    """Return a sent upload whose corrected rows the user may send; else Http404.

    Whoever may see the upload and upload to its counter now may send its fixes.
    """
    uploads = upload_list_for_user(user).filter(
        status=Upload.Status.CONFIRMED,
        counter__in=counter_list_for_upload(user).values("pk"),
    )
    return _get(uploads, public_id)


def upload_fixes_possible(upload: Upload) -> bool:
    """Return whether rows with errors of this sent upload can be fixed and resent."""
    return upload.status == Upload.Status.CONFIRMED and bool(upload.error_ids)


def upload_fixes_merge_mode(upload: Upload) -> str:
    """Return the merge mode the upload was last sent with."""
    latest = (
        upload.submissions.order_by("-created_at", "-id")
        .values_list("merge_mode", flat=True)
        .first()
    )
    return latest or upload.merge_mode


def upload_may_send_fixes(user: User, upload: Upload) -> bool:
    """Return whether the user may send the corrected rows of this upload now."""
    return (
        upload_fixes_possible(upload)
        and counter_list_for_upload(user).filter(pk=upload.counter_id).exists()
    )


def upload_fixes_of(user: User, upload: Upload) -> QuerySet[Upload]:
    """Return the sent uploads of fixes for ``upload`` the user may see."""
    return (
        upload_list_for_user(user)
        .filter(fixes_of=upload, status=Upload.Status.CONFIRMED)
        .order_by("-created_at")
    )


def upload_fixes_origin(user: User, upload: Upload) -> Upload | None:
    """Return the upload whose fixes ``upload`` holds, if the user may see it."""
    if upload.fixes_of_id is None:
        return None
    return upload_list_for_user(user).filter(pk=upload.fixes_of_id).first()


def upload_progress_for_wizard(user: User, public_id: Any) -> dict[str, Any]:
    """Return the progress fields of one upload in a single-row query."""
    row = (
        upload_list_for_wizard(user)
        .filter(public_id=public_id)
        .values(
            "status",
            "job",
            "job_started_at",
            "job_finished_at",
            "progress_rows",
            "progress_fraction",
        )
        .first()
    )
    if row is None:
        raise Http404
    return row


def upload_drafts_for_user(user: User) -> QuerySet[Upload]:
    """Return the user's own unfinished uploads, newest first."""
    if not user.is_authenticated:
        return Upload.objects.none()
    return (
        upload_list_for_user(user)
        .filter(
            created_by=user,
            status__in=[
                Upload.Status.DRAFT,
                Upload.Status.ANALYSING,
                Upload.Status.READY,
                Upload.Status.UNREADABLE,
            ],
        )
        .order_by("-created_at")
    )


def upload_problems(upload: Upload, code: str = "") -> QuerySet[UploadProblem]:
    """Return the problems kept for an upload, optionally of one code."""
    problems = UploadProblem.objects.filter(upload=upload)
    if code:
        problems = problems.filter(code=code)
    return problems.order_by("row", "id")


def last_mapping_for_counter(counter_id: int, *, exclude: int | None = None) -> dict:
    """Return the mapping of the newest upload to the counter that has one."""
    uploads = Upload.objects.filter(counter_id=counter_id).exclude(mapping={})
    if exclude is not None:
        uploads = uploads.exclude(pk=exclude)
    row = uploads.order_by("-updated_at").values("mapping").first()
    return row["mapping"] if row else {}


def saved_mappings(counter_id: int) -> QuerySet[SavedMapping]:
    return SavedMapping.objects.filter(counter_id=counter_id).order_by("name")


def counter_statuses(counter_id: int) -> dict[str, str]:
    """Return the counter's status dictionaries merged, the newest winning."""
    merged: dict[str, str] = {}
    for statuses in (
        StatusDictionary.objects.filter(counter_id=counter_id)
        .order_by("updated_at")
        .values_list("statuses", flat=True)
    ):
        merged.update(statuses or {})
    return merged


def _get(uploads: QuerySet[Upload], public_id: Any) -> Upload:
    try:
        return uploads.get(public_id=public_id)
    except (Upload.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404 from exc
