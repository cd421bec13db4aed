from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ordersync.uploads import services
from ordersync.uploads.models import Upload, UploadProblem
from tests.uploads.conftest import CLEAN_CSV

pytestmark = pytest.mark.django_db
S = Upload.Status


def _upload(counter, marketer, **fields) -> Upload:
    upload = Upload(counter=counter, created_by=marketer, original_name="o.csv")
    upload.original_file.save("source", SimpleUploadedFile("o.csv", CLEAN_CSV.encode()))
    Upload.objects.filter(pk=upload.pk).update(**fields)
    upload.refresh_from_db()
    return upload


def _silent_for(upload: Upload, minutes: float) -> None:
    Upload.objects.filter(pk=upload.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def _analysing(counter, marketer, job=Upload.Job.INSPECT, attempts=1) -> Upload:
    return _upload(
        counter,
        marketer,
        status=S.ANALYSING,
        job=job,
        job_attempts=attempts,
        job_started_at=timezone.now() - timedelta(hours=1),
    )


def test_a_job_silent_past_the_limit_is_started_again_and_finishes(
    counter, marketer, settings, django_capture_on_commit_callbacks, eager
):
    settings.UPLOAD_JOB_STUCK_MINUTES = 10
    upload = _analysing(counter, marketer)
    _silent_for(upload, 9)
    assert services.upload_requeue_stuck() == {"requeued": 0, "failed": 0}
    _silent_for(upload, 11)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.upload_requeue_stuck() == {"requeued": 1, "failed": 0}
    assert len(callbacks) == 1
    upload.refresh_from_db()
    assert upload.job_attempts == 2
    assert upload.status == S.DRAFT
    assert upload.columns[:2] == ["Номер заказа", "Дата"]


def test_the_old_workers_late_answer_is_ignored_after_a_restart(
    counter, marketer, settings, django_capture_on_commit_callbacks
):
    upload = _analysing(counter, marketer)
    old_start = upload.job_started_at
    _silent_for(upload, 60)
    with django_capture_on_commit_callbacks(execute=False):
        services.upload_requeue_stuck()
    assert not services._finish(upload, old_start, status=S.DRAFT)
    upload.refresh_from_db()
    assert upload.status == S.ANALYSING and upload.job_started_at != old_start


def test_a_file_that_kills_the_worker_three_times_becomes_unreadable(
    client, counter, marketer, settings, django_capture_on_commit_callbacks
):
    settings.UPLOAD_JOB_MAX_ATTEMPTS = 3
    upload = _analysing(counter, marketer, job=Upload.Job.VALIDATE, attempts=2)
    _silent_for(upload, 60)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.upload_requeue_stuck()["requeued"] == 1
    _silent_for(upload, 60)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.upload_requeue_stuck() == {"requeued": 0, "failed": 1}
    assert callbacks == []
    upload.refresh_from_db()
    assert (upload.status, upload.error_step) == (S.UNREADABLE, Upload.Step.FILE)
    assert upload.error_code == "job_stuck"
    assert upload.error_ru == (
        "Не удалось обработать файл: чтение 3 раза обрывалось без ответа. "
        "Сохраните его как CSV или разделите на файлы поменьше и загрузите снова; "
        "если это повторится, сообщите администратору."
    )
    assert upload.error_en == (
        "The file could not be processed; reading it stopped without an answer "
        "3 times. Save it as CSV or split it into smaller files and upload it "
        "again; if it happens again, tell your administrator."
    )
    assert services.upload_requeue_stuck() == {"requeued": 0, "failed": 0}
    client.force_login(marketer)
    page = client.get(reverse("uploads:resume", args=[upload.public_id]), follow=True)
    assert upload.error_ru in page.text


def test_progress_reports_keep_a_long_job_from_being_restarted(counter, marketer):
    upload = _analysing(counter, marketer)
    _silent_for(upload, 60)
    services._progress(upload)(500, 0.5)
    assert services.upload_requeue_stuck() == {"requeued": 0, "failed": 0}


def test_the_beat_task_runs_the_sweep(counter, marketer, monkeypatch):
    from ordersync.uploads.tasks import upload_requeue_stuck_task

    calls = []
    monkeypatch.setattr(services, "upload_requeue_stuck", lambda: calls.append(1))
    upload_requeue_stuck_task.apply().get()
    assert calls == [1]


@pytest.mark.parametrize("status", [S.DRAFT, S.READY, S.UNREADABLE])
def test_old_drafts_are_abandoned_and_their_files_deleted_counts_kept(
    client, counter, marketer, settings, status, django_capture_on_commit_callbacks
):
    settings.UPLOAD_DRAFT_RETENTION_DAYS = 7
    upload = _upload(
        counter, marketer, status=status, rows_total=5, counts_by_code={"x": 2}
    )
    UploadProblem.objects.create(upload=upload, row=2, code="x", value="a@b")
    name = upload.original_file.name
    Upload.objects.filter(pk=upload.pk).update(
        updated_at=timezone.now() - timedelta(days=6)
    )
    assert services.upload_drafts_expire() == 0
    Upload.objects.filter(pk=upload.pk).update(
        updated_at=timezone.now() - timedelta(days=8)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.upload_drafts_expire() == 1
    upload.refresh_from_db()
    assert upload.status == S.ABANDONED
    assert not upload.original_file and not default_storage.exists(name)
    assert (upload.rows_total, upload.counts_by_code) == (5, {"x": 2})
    assert not UploadProblem.objects.filter(upload=upload).exists()
    client.force_login(marketer)
    assert "o.csv" not in client.get(reverse("uploads:list")).text


def test_draft_retention_never_exceeds_the_upload_retention(
    counter, marketer, settings
):
    settings.UPLOAD_DRAFT_RETENTION_DAYS = 7
    settings.UPLOAD_RETENTION_DAYS = 2
    upload = _upload(counter, marketer, status=S.DRAFT)
    Upload.objects.filter(pk=upload.pk).update(
        updated_at=timezone.now() - timedelta(days=3)
    )
    assert services.upload_drafts_expire() == 1


def test_confirmed_and_analysing_uploads_are_not_drafts_to_expire(counter, marketer):
    for status in (S.CONFIRMED, S.ANALYSING, S.ABANDONED):
        upload = _upload(counter, marketer, status=status)
        Upload.objects.filter(pk=upload.pk).update(
            updated_at=timezone.now() - timedelta(days=90)
        )
    assert services.upload_drafts_expire() == 0
    assert Upload.objects.filter(status=S.CONFIRMED).get().original_file


def test_the_retention_task_expires_drafts_too(counter, marketer):
    from ordersync.submissions.tasks import submission_purge_files_task

    upload = _upload(counter, marketer, status=S.DRAFT)
    Upload.objects.filter(pk=upload.pk).update(
        updated_at=timezone.now() - timedelta(days=8)
    )
    submission_purge_files_task.apply().get()
    upload.refresh_from_db()
    assert upload.status == S.ABANDONED
