import threading

import pytest
from django.db import connection

from ordersync.submissions import services
from tests.browser.conftest import log_in
from tests.submissions.conftest import (  # noqa: F401 - fixtures
    account,
    counter,
    emulator_seed,
    make_upload,
    submission_settings,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def background_worker(monkeypatch):
    """Run the submission service in a thread, as a worker would, after commit."""
    threads = []

    def dispatch(pk, delay=0.0):
        def run():
            try:
                services.submission_process(submission_id=pk)
            finally:
                connection.close()

        timer = threading.Timer(max(delay, 0.5), run)
        threads.append(timer)
        timer.start()

    monkeypatch.setattr(services, "_dispatch", dispatch)
    yield
    for timer in threads:
        timer.join(timeout=10)


def test_confirm_an_upload_and_watch_it_reach_accepted(
    page, live_server, marketer, background_worker, request
):
    new_upload = request.getfixturevalue("make_upload")
    metrika = request.getfixturevalue("emulator_admin")
    from ordersync.uploads.models import Upload

    upload = new_upload(rows=5, name="crm-export.csv")
    Upload.objects.filter(pk=upload.pk).update(
        status=Upload.Status.READY, step=Upload.Step.CONFIRM
    )
    log_in(page, live_server, "bob-marketer", "pw-marketer-123456")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/uploads/{upload.public_id}/confirm/")
    page.get_by_test_id("send").click()
    page.wait_for_url(f"**/history/{upload.public_id}/")
    # The progress block polls until the upload ends, then the page reloads.
    page.get_by_test_id("status").filter(has_text="Принята").first.wait_for(
        timeout=20_000
    )
    assert page.get_by_test_id("elements-count").inner_text() == "5"
    page.screenshot(path=page.shot_dir / "submission-detail.png", full_page=True)
    page.get_by_role("link", name="История загрузок").first.click()
    row = page.get_by_test_id("history-row").filter(has_text="crm-export.csv")
    assert row.get_by_test_id("status").inner_text() == "Принята"
    page.screenshot(path=page.shot_dir / "history.png", full_page=True)
    assert metrika.requests()["by_endpoint"]["upload"] == 1
    assert page.console_errors == []
