"""Resend only rows fixed since, in headless Chromium: from the sent upload's page
through the corrected export's preview to "accepted", linked both ways."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.browser.conftest import log_in
from tests.browser.test_submission import background_worker  # noqa: F401 - fixture
from tests.submissions.conftest import (  # noqa: F401 - fixtures
    HEADER,
    account,
    counter,
    emulator_seed,
    submission_settings,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORIGINAL = HEADER + (
    "o1,2024-01-05 11:56:00,1001,PAID,10\n"
    "o2,2024-01-06 11:56:00,1002,PAID,abc\n"
    "o3,2024-01-07 11:56:00,1003,PAID,-5\n"
    ",2024-01-08 11:56:00,1004,PAID,zz\n"
)
CORRECTED = HEADER + (
    "o1,2024-01-05 11:56:00,1001,PAID,10\n"
    "o2,2024-01-06 11:56:00,1002,PAID,20\n"
    "o3,2024-01-07 11:56:00,1003,PAID,-5\n"
    "o4,2024-01-09 11:56:00,1005,PAID,7\n"
)


@pytest.fixture
def sent_with_errors(counter, marketer, background_worker, eager):  # noqa: F811
    """An upload checked through the wizard's services and sent: 1 row valid,
    3 with errors, one of them without an id."""
    from ordersync import orderfile
    from ordersync.submissions.models import Submission
    from ordersync.uploads import services
    from ordersync.uploads.models import Upload

    upload = services.upload_create(
        user=marketer,
        counter=counter,
        file=SimpleUploadedFile("crm-january.csv", ORIGINAL.encode()),
        language="ru",
    )
    upload.refresh_from_db()
    services.upload_accept_source(upload=upload)
    services.upload_set_mapping(
        upload=upload, mapping=orderfile.suggest_mapping(upload.columns, [])
    )
    upload.refresh_from_db()
    services.upload_set_options(
        upload=upload,
        user=marketer,
        statuses={},
        merge_mode="UPDATE",
        hash_pii=True,
        duplicates="keep_all",
        remember_statuses=False,
        language="ru",
    )
    upload.refresh_from_db()
    assert (upload.rows_valid, upload.rows_invalid) == (1, 3)
    services.upload_go_to_confirm(upload=upload)
    services.upload_confirm(upload=upload, user=marketer)
    submission = Submission.objects.get(upload=upload)
    return Upload.objects.get(pk=upload.pk), submission


def test_send_only_the_rows_fixed_since_and_see_them_linked(
    page, live_server, sent_with_errors, tmp_path, request
):
    from ordersync.submissions.models import Submission
    from ordersync.uploads.models import Upload

    original, first = sent_with_errors
    metrika = request.getfixturevalue("emulator_admin")
    log_in(page, live_server, "bob-marketer", "pw-marketer-123456")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/history/{original.public_id}/")
    page.get_by_test_id("status").filter(has_text="Принята").first.wait_for(
        timeout=20_000
    )
    page.get_by_test_id("send-fixes").click()
    page.wait_for_url(f"**/uploads/{original.public_id}/fixes/")
    assert "1 строка с ошибками была без номера заказа" in (
        page.get_by_test_id("unmatchable").inner_text()
    )
    assert page.get_by_test_id("fixes-merge-mode").input_value() == "UPDATE"
    export = tmp_path / "crm-january-fixed.csv"
    export.write_text(CORRECTED, encoding="utf-8")
    page.set_input_files("#id_file", str(export))
    page.screenshot(path=tmp_path / "fixes-form.png", full_page=True)
    page.get_by_test_id("check-fixes").click()
    page.wait_for_url("**/preview/")
    page.get_by_test_id("fixes-summary").wait_for(timeout=20_000)
    assert page.get_by_test_id("fixes-fixed").inner_text() == "1"
    assert page.get_by_test_id("fixes-invalid").inner_text() == "1"
    assert page.get_by_test_id("fixes-not-matched").inner_text() == "2"
    assert page.get_by_test_id("fixes-unmatchable").is_visible()
    assert page.get_by_test_id("problem-table").inner_text().count("\n") >= 1
    page.screenshot(path=tmp_path / "fixes-preview.png", full_page=True)
    page.get_by_test_id("send-valid").click()
    page.wait_for_url("**/confirm/")
    assert f"№{original.pk}" in page.get_by_test_id("confirm-fixes-of").inner_text()
    page.get_by_test_id("send").click()
    fix = Upload.objects.get(fixes_of=original)
    page.wait_for_url(f"**/history/{fix.public_id}/")
    page.get_by_test_id("status").filter(has_text="Принята").first.wait_for(
        timeout=20_000
    )
    assert page.get_by_test_id("elements-count").inner_text() == "1"
    assert Submission.objects.get(upload=fix).merge_mode == "UPDATE"
    page.get_by_test_id("fixes-of").get_by_role("link").click()
    page.wait_for_url(f"**/history/{original.public_id}/")
    page.screenshot(path=tmp_path / "fixes-original.png", full_page=True)
    page.get_by_test_id("fixes").get_by_role("link").click()
    page.wait_for_url(f"**/history/{fix.public_id}/")
    held = metrika.orders(counter_id=first.counter.metrika_id)["orders"]
    assert sorted(held) == ["o1", "o2"]
    assert metrika.requests()["by_endpoint"]["upload"] == 2
    assert page.console_errors == []
