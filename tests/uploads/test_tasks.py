import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ordersync.uploads import services
from ordersync.uploads.models import Upload
from tests.uploads.conftest import CLEAN_CSV


def test_the_task_runs_the_job_in_process(db, counter, marketer, settings):
    from ordersync.uploads.tasks import upload_run_job

    upload = Upload(counter=counter, created_by=marketer, original_name="o.csv")
    upload.original_file.save("source", SimpleUploadedFile("o.csv", CLEAN_CSV.encode()))
    Upload.objects.filter(pk=upload.pk).update(
        status=Upload.Status.ANALYSING, job=Upload.Job.INSPECT
    )
    upload_run_job.apply(args=[upload.pk]).get()
    upload.refresh_from_db()
    assert upload.status == Upload.Status.DRAFT
    assert upload.columns[:2] == ["Номер заказа", "Дата"]


@pytest.mark.integration
def test_a_real_worker_reads_and_checks_the_file(
    request, transactional_db, counter, marketer, settings, monkeypatch
):
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    request.getfixturevalue("celery_worker_process")
    upload = services.upload_create(
        user=marketer,
        counter=counter,
        file=SimpleUploadedFile("o.csv", CLEAN_CSV.encode()),
        language="ru",
    )
    wait_for(upload, Upload.Status.DRAFT)
    assert upload.kind == "csv"
    services.upload_accept_source(upload=upload)
    from ordersync import orderfile

    services.upload_set_mapping(
        upload=upload, mapping=orderfile.Mapping.from_dict(upload.mapping)
    )
    wait_for(upload, Upload.Status.DRAFT)
    services.upload_set_options(
        upload=upload,
        user=marketer,
        statuses={},
        merge_mode="SAVE",
        hash_pii=True,
        duplicates="keep_all",
        remember_statuses=False,
        language="ru",
    )
    wait_for(upload, Upload.Status.READY)
    assert (upload.rows_total, upload.rows_valid) == (3, 2)
    assert upload.parts.get().rows == 2


def wait_for(upload: Upload, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        upload.refresh_from_db()
        if upload.status == status:
            return
        time.sleep(0.1)
    pytest.fail(f"upload stuck in {upload.status} ({upload.error_en})")
