import os
import subprocess
import sys

from tests.conftest import ROOT

PRODUCTION_ENV = {
    "ORDERSYNC_PRODUCTION": "1",
    "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
    "DJANGO_ALLOWED_HOSTS": "ordersync.example.com",
    "ORDERSYNC_TOKEN_KEYS": "CQnNMPnG95A8uKZfWVfnp5J7ZHCqji55U1uH0XsV1z0=",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is no part of a deployment.
        env={
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_with_the_development_secret_key():
    from ordersync.settings import DEV_SECRET_KEY

    result = run_manage(
        "check", env={**PRODUCTION_ENV, "DJANGO_SECRET_KEY": DEV_SECRET_KEY}
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is the development key" in result.stderr


def test_deploy_check_passes_with_production_settings():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout
