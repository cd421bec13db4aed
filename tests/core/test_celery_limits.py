import subprocess
import sys

from tests.conftest import ROOT


def test_reading_task_is_time_limited_and_never_redelivered_by_the_broker(settings):
    from ordersync.celery import app

    app.loader.import_default_modules()
    task = app.tasks["uploads.run_job"]
    assert task.soft_time_limit == settings.UPLOAD_JOB_TIME_LIMIT_SECONDS
    assert task.time_limit == settings.UPLOAD_JOB_TIME_LIMIT_SECONDS + 60
    # A child killed on a hostile file must not get the same file again from the
    # broker; the uploads sweeper restarts it and counts the attempts.
    assert task.acks_late is False
    assert task.reject_on_worker_lost is False
    # Sending stays acknowledged late: a lost submission is redelivered.
    assert app.tasks["submissions.process"].acks_late is True


def test_worker_children_get_an_address_space_cap():
    code = (
        "import django, resource; django.setup();"
        "from ordersync.celery import cap_worker_memory; cap_worker_memory();"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20);"
        "bytearray(4 << 30)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "ordersync.settings", "PATH": "/usr/bin:/bin",
             "WORKER_MEMORY_LIMIT_MB": "1024"},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "1024"
    assert "MemoryError" in result.stderr
