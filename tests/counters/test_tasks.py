import time
from datetime import timedelta

import pytest

from ordersync.counters import tasks
from tests.counters.conftest import CLIENT_ID, CLIENT_SECRET, TOKEN, endpoint_calls


@pytest.fixture
def worker_env(monkeypatch, emulator):
    """Point a worker started after this fixture at the emulator."""
    for name in ("METRIKA_API_URL", "YANDEX_OAUTH_URL", "YANDEX_LOGIN_URL"):
        monkeypatch.setenv(name, emulator.url)
    monkeypatch.setenv("YANDEX_OAUTH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("YANDEX_OAUTH_CLIENT_SECRET", CLIENT_SECRET)


def finished(log: str) -> int:
    return sum(
        "counters.refresh_account_token[" in line and " succeeded " in line
        for line in log.splitlines()
    )


@pytest.mark.integration
def test_two_refresh_tasks_on_a_real_worker_make_one_refresh_call(
    worker_env, celery_worker_process, make_account, emu
):
    account = make_account(
        expires_in=timedelta(days=5), obtained_ago=timedelta(days=360)
    )
    emu.add_fault("slow", endpoint="token", delay=1.0, times=1)
    tasks.refresh_account_token.delay(account.pk)
    tasks.refresh_account_token.delay(account.pk)
    deadline = time.monotonic() + 30
    log = celery_worker_process.log_path
    while finished(log.read_text()) < 2:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    text = log.read_text()
    assert "'refreshed'" in text
    assert "'busy'" in text or "'not_due'" in text
    assert TOKEN not in text
    assert endpoint_calls(emu, "token") == 1
    account.refresh_from_db()
    assert account.access_token() != TOKEN
