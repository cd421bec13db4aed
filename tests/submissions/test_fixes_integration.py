"""Resend only rows fixed since, through a real Celery worker, Redis and PostgreSQL
against the emulator: the check, the corrected rows' check and both sends."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ordersync import orderfile
from ordersync.submissions.models import Submission
from ordersync.uploads import services
from ordersync.uploads.models import Upload
from tests.submissions.conftest import HEADER
from tests.submissions.test_worker_integration import (  # noqa: F401 - fixtures
    posts,
    terminal,
    wait_for,
    worker_env,
    workers,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
S = Submission.Status


def checked(upload: Upload) -> Upload:
    assert wait_for(
        lambda: Upload.objects.get(pk=upload.pk).status != Upload.Status.ANALYSING,
        timeout=30,
        sweep=False,
    )
    return Upload.objects.get(pk=upload.pk)


def test_only_the_fixed_rows_reach_metrika_once(
    workers,  # noqa: F811
    counter,
    marketer,
    emulator_admin,
):
    workers()
    original = services.upload_create(
        user=marketer,
        counter=counter,
        file=SimpleUploadedFile(
            "crm.csv",
            (
                HEADER + "o1,2024-01-05 11:56:00,1001,PAID,10\n"
                "o2,2024-01-06 11:56:00,1002,PAID,abc\n"
                "o3,2024-01-07 11:56:00,1003,PAID,-1\n"
            ).encode(),
        ),
        language="ru",
    )
    original = checked(original)
    services.upload_accept_source(upload=original)
    services.upload_set_mapping(
        upload=original, mapping=orderfile.suggest_mapping(original.columns, [])
    )
    original = checked(original)
    services.upload_set_options(
        upload=original, user=marketer, statuses={}, merge_mode="SAVE",
        hash_pii=False, duplicates="keep_all", remember_statuses=False,
        language="ru",
    )  # fmt: skip
    original = checked(original)
    assert (original.rows_valid, original.rows_invalid) == (1, 2)
    services.upload_go_to_confirm(upload=original)
    services.upload_confirm(upload=original, user=marketer)
    first = Submission.objects.get(upload=original)
    assert wait_for(lambda: terminal(first), timeout=45)
    assert first.status == S.ACCEPTED

    fix = services.upload_fixes_create(
        user=marketer,
        original=original,
        file=SimpleUploadedFile(
            "crm-fixed.csv",
            (
                HEADER + "o1,2024-01-05 11:56:00,1001,PAID,10\n"
                "o2,2024-01-06 11:56:00,1002,PAID,20\n"
                "o3,2024-01-07 11:56:00,1003,PAID,30\n"
            ).encode(),
        ),
        merge_mode="SAVE",
        language="ru",
    )
    fix = checked(fix)
    assert (fix.rows_valid, fix.rows_invalid, fix.rows_not_matched) == (2, 0, 1)
    services.upload_go_to_confirm(upload=fix)
    assert services.upload_confirm(upload=fix, user=marketer)
    assert not services.upload_confirm(upload=fix, user=marketer)
    second = Submission.objects.get(upload=fix)
    assert wait_for(lambda: terminal(second), timeout=45)
    assert (second.status, second.elements_count) == (S.ACCEPTED, 2)
    assert posts(emulator_admin) == 2
    held = emulator_admin.orders(counter_id=counter.metrika_id)["orders"]
    assert sorted(held) == ["o1", "o2", "o3"]
