import threading

import pytest
from django.db import connection

from ordersync.uploads import services
from ordersync.uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_confirms_make_one_transition_and_one_submission(
    wizard, marketer
):
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL")
    wizard.run_to_preview()
    wizard.post(wizard.url("preview"))
    upload = wizard.upload
    wins, errors = [], []
    barrier = threading.Barrier(20)

    def confirm() -> None:
        try:
            barrier.wait()
            copy = Upload.objects.get(pk=upload.pk)
            wins.append(services.upload_confirm(upload=copy, user=marketer))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert wins.count(True) == 1
    upload.refresh_from_db()
    assert upload.status == Upload.Status.CONFIRMED
    assert upload.submissions.count() == 1


def test_repeated_confirms_are_one_transition(wizard, marketer):
    wizard.run_to_preview()
    wizard.post(wizard.url("preview"))
    upload = wizard.upload
    results = [services.upload_confirm(upload=upload, user=marketer) for _ in range(5)]
    assert results == [True, False, False, False, False]
    assert upload.submissions.count() == 1


def test_a_job_for_a_changed_upload_is_dropped(wizard):
    """A late task finishing an older job must not overwrite the newer state."""
    wizard.start()
    upload = wizard.upload
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.ANALYSING)
    upload.refresh_from_db()
    started = upload.job_started_at
    Upload.objects.filter(pk=upload.pk).update(job_started_at=None)
    assert not services._finish(upload, started, status=Upload.Status.READY)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.ANALYSING


def test_a_failing_job_is_told_not_left_running(wizard, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "_inspect", boom)
    wizard.start()
    upload = wizard.upload
    assert upload.status == Upload.Status.DRAFT
    assert upload.error_step == Upload.Step.SOURCE
    assert "ошибки на нашей стороне" in upload.error_ru
    assert "disk on fire" not in upload.error_ru


def test_clean_file_name_keeps_a_short_visible_basename():
    assert services.clean_file_name("..\\..\\win.ini.csv") == "win.ini.csv"
    assert services.clean_file_name("a\u202ebc\u200b.csv") == "abc.csv"
    long = services.clean_file_name("x" * 10_000 + ".xlsx")
    assert len(long) <= 255 and long.endswith(".xlsx")
    assert services.clean_file_name("") == "file"
