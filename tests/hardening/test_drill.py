"""The crash drill of ``bench/drill.py`` in a short form: 10 uploads, 3 kills -9 of
the worker, a Redis restart and random Metrika faults."""

import shutil

import pytest

from bench import drill
from bench.common import Worker, free_port
from tests.conftest import database_url_for_subprocess

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def emulator_seed():
    return drill.SEED


@pytest.fixture
def redis(settings, tmp_path):
    """A Redis of the drill's own, which it may kill; the shared one stays up."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("integration tests run against Redis")
    if not shutil.which("redis-server"):
        pytest.skip("the drill needs redis-server to start a Redis it may kill")
    server = drill.RedisServer(free_port(), tmp_path / "redis.log").start()
    yield server
    server.kill()


@pytest.fixture
def broker(settings, redis, monkeypatch):
    """Point this process's Celery app at the drill's Redis, with the database
    number of the configured broker."""
    from ordersync.celery import app

    database = settings.CELERY_BROKER_URL.rsplit("/", 1)[-1] or "0"
    url = f"redis://127.0.0.1:{redis.port}/{database}"
    # Celery reads the variable before its configuration; the pooled
    # connections to the configured broker are dropped, as after a fork.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app._after_fork()
    yield url
    monkeypatch.undo()
    app._after_fork()


def test_drill_ends_every_upload_in_one_terminal_state_without_duplicates(
    settings, emulator, redis, broker, tmp_path
):
    for key, value in drill.SETTINGS.items():
        setattr(settings, key, value)
    env = drill.worker_env(
        database_url=database_url_for_subprocess(),
        broker_url=broker,
        emulator_url=emulator.url,
        media_root=settings.MEDIA_ROOT,
        token_keys=",".join(settings.TOKEN_ENCRYPTION_KEYS),
    )
    worker = Worker(env, tmp_path / "worker.log")
    config = drill.Config(
        submissions=10, seed=20261128, kills=3, redis_restarts=1, chaos=20,
        deadline=80, max_rows=80,
    )  # fmt: skip
    lines = []
    try:
        figures = drill.Drill(
            config, emulator=emulator, worker=worker, redis=redis, say=lines.append
        ).run()
    finally:
        worker.stop()
    report = "\n".join([*lines, *figures.lines()])
    print(report)
    assert figures.missed() == [], report
    assert (figures.total, figures.kills, figures.redis_restarts) == (10, 3, 1)
