import os
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError

from ordersync.core.models import AuditEvent
from ordersync.counters import crypto
from ordersync.counters.errors import TokenDecryptError
from ordersync.counters.models import YandexAccount
from tests.conftest import ROOT, TEST_TOKEN_KEY
from tests.counters.conftest import REFRESH, TOKEN

NEW_KEY = "9sPlGbe3WQqx0xj4lmDzN7dJYpJ6Zf1bXoW3Tn4aC2k="
STRANGER_KEY = "CQnNMPnG95A8uKZfWVfnp5J7ZHCqji55U1uH0XsV1z0="


def test_token_is_stored_encrypted_and_reads_back(account):
    stored = YandexAccount.objects.values_list(
        "access_token_encrypted", "refresh_token_encrypted"
    ).get()
    assert TOKEN not in "".join(stored)
    assert REFRESH not in "".join(stored)
    account.refresh_from_db()
    assert account.access_token() == TOKEN
    assert account.refresh_token() == REFRESH


def test_rotation_moves_every_token_to_the_newest_key(
    account, make_account, settings, capsys
):
    second = make_account(access_token="y0_second", uid="5002", login="other")
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, TEST_TOKEN_KEY]
    call_command("rotate_token_keys")
    assert "2 re-encrypted under the newest key" in capsys.readouterr().out
    old = Fernet(TEST_TOKEN_KEY)
    for row in YandexAccount.objects.all():
        for value in (row.access_token_encrypted, row.refresh_token_encrypted):
            with pytest.raises(InvalidToken):
                old.decrypt(value.encode())
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    account.refresh_from_db()
    second.refresh_from_db()
    assert account.access_token() == TOKEN
    assert account.refresh_token() == REFRESH
    assert second.access_token() == "y0_second"
    assert AuditEvent.objects.filter(action="keys.rotated").get().details == {
        "accounts": 2,
        "rotated": 2,
    }


def test_rotating_again_changes_nothing(account, settings, capsys):
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, TEST_TOKEN_KEY]
    call_command("rotate_token_keys")
    before = YandexAccount.objects.values_list("access_token_encrypted").get()
    call_command("rotate_token_keys")
    assert "0 re-encrypted" in capsys.readouterr().out.splitlines()[-1]
    assert YandexAccount.objects.values_list("access_token_encrypted").get() == before


def test_rotation_without_the_old_key_fails_and_changes_nothing(account, settings):
    before = YandexAccount.objects.values_list("access_token_encrypted").get()
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_token_keys")
    assert YandexAccount.objects.values_list("access_token_encrypted").get() == before


def test_wrong_key_raises_a_clear_error_without_the_token(account, settings):
    settings.TOKEN_ENCRYPTION_KEYS = [STRANGER_KEY]
    account.refresh_from_db()
    with pytest.raises(TokenDecryptError) as caught:
        account.access_token()
    message = str(caught.value)
    assert "ORDERSYNC_TOKEN_KEYS" in message
    assert account.access_token_encrypted not in message


def test_wrong_key_never_sends_anything_to_yandex(account, settings, emu):
    from ordersync.counters import services

    settings.TOKEN_ENCRYPTION_KEYS = [STRANGER_KEY]
    with pytest.raises(TokenDecryptError):
        services.account_check(account=account)
    with pytest.raises(TokenDecryptError):
        services.account_metrika_client(account=account)
    assert services.account_refresh_token(account_id=account.pk, force=True) == (
        services.RefreshResult.FAILED
    )
    assert emu.requests()["total"] == 0
    account.refresh_from_db()
    assert account.status == YandexAccount.Status.ACTIVE
    assert "не расшифровывается" in account.last_error


def test_development_key_is_made_once_and_private(settings, tmp_path):
    settings.TOKEN_ENCRYPTION_KEYS = []
    settings.TOKEN_KEYS_FILE = tmp_path / "token-keys"
    first = crypto.configured_keys()
    assert crypto.configured_keys() == first
    assert stat.S_IMODE(os.stat(settings.TOKEN_KEYS_FILE).st_mode) == 0o600
    assert crypto.decrypt(crypto.encrypt("y0_x")) == "y0_x"


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "ORDERSYNC_TOKEN_KEYS"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_token_keys():
    result = run_manage(
        "check",
        ORDERSYNC_PRODUCTION="1",
        DJANGO_SECRET_KEY="x" * 60,
        DJANGO_ALLOWED_HOSTS="ordersync.example.com",
    )
    assert result.returncode != 0
    assert "ORDERSYNC_TOKEN_KEYS is empty" in result.stderr


def test_a_malformed_key_fails_the_system_check():
    result = run_manage("check", ORDERSYNC_TOKEN_KEYS="not-a-fernet-key")
    assert result.returncode != 0
    assert "counters.E001" in result.stderr
    assert "not a Fernet key" in result.stderr
