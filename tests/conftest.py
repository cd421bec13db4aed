import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ordersync.metrika.emulator import EmulatorAdmin, RunningEmulator

ROOT = Path(__file__).resolve().parent.parent
# Tests never write var/token-keys: every test encrypts under this fixed key.
TEST_TOKEN_KEY = "pXW2y7kXQ6gR3bH0sWcJ8vYwq2L1mZt5N4aUe9FhKdI="


@pytest.fixture(autouse=True)
def _token_keys(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [TEST_TOKEN_KEY]


@pytest.fixture(scope="session")
def _running_emulator():
    with RunningEmulator(port=0, seed={}) as emulator:
        yield emulator


@pytest.fixture
def eager(settings):
    """Run queued tasks inside the test, as the web process would with no broker."""
    from ordersync.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def emulator_seed() -> dict:
    """Return the state the emulator starts each test from; test folders override
    it with their accounts, tokens and counters."""
    return {}


@pytest.fixture
def emulator(_running_emulator, emulator_seed, settings):
    """Return the emulator reset to ``emulator_seed``, with the app's Yandex URLs and
    OAuth client (the seed's first) pointed at it."""
    _running_emulator.state.load(copy.deepcopy(emulator_seed))
    url = _running_emulator.url
    settings.METRIKA_API_URL = url
    settings.YANDEX_OAUTH_URL = url
    settings.YANDEX_LOGIN_URL = url
    client = (emulator_seed.get("oauth_clients") or [{}])[0]
    settings.YANDEX_OAUTH_CLIENT_ID = client.get("client_id", "")
    settings.YANDEX_OAUTH_CLIENT_SECRET = client.get("client_secret", "")
    return _running_emulator


@pytest.fixture
def emulator_admin(emulator):
    return EmulatorAdmin(emulator.url)


@pytest.fixture
def admin_user(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username="alice-admin", password="pw-admin-123456", is_staff=True
    )
    user.groups.add(Group.objects.get_or_create(name="Admins")[0])
    return user


@pytest.fixture
def marketer(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username="bob-marketer", password="pw-marketer-123456"
    )
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    return user


def database_url_for_subprocess() -> str:
    """Return a DATABASE_URL that points a child process at the test database."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("a real worker needs the PostgreSQL test database")
    user = s.get("USER") or "postgres"
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{s['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start a real Celery worker on the configured broker and the test database."""
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("integration tests run against Redis")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "ORDERSYNC_TOKEN_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "worker.log").open("w")
    from ordersync.celery import app

    app.control.purge()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "ordersync", "worker",
            "--loglevel", "INFO", "--concurrency", "2", "--without-gossip",
            "--without-mingle", "--hostname", f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    log_path = tmp_path / "worker.log"
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    proc.log_path = log_path
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
