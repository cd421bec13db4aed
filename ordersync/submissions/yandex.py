"""What submissions need from the counters and uploads apps, in one place."""

from __future__ import annotations

from typing import Any

from ordersync.counters import services as counters_services
from ordersync.counters.errors import CountersError
from ordersync.counters.models import Counter, YandexAccount
from ordersync.metrika import MetrikaClient

TokenUnavailableError = CountersError


def metrika_client(counter: Counter, *, on_attempt) -> MetrikaClient:
    """Return a client for the counter's account; raise TokenUnavailableError when
    the account needs re-authorisation or its token cannot be decrypted."""
    return counters_services.account_metrika_client(
        account=counter.account, on_attempt=on_attempt
    )


def account_usable(account: YandexAccount) -> bool:
    """Return whether uploads may use the account's token now."""
    account.refresh_from_db(fields=["status"])
    return account.status == YandexAccount.Status.ACTIVE


def account_refresh(account: YandexAccount) -> bool:
    """Refresh the token after a 403 ``invalid_token``; return True to retry.

    When another worker holds the refresh lease, its new token is used.
    """
    if counters_services.account_handle_invalid_token(account_id=account.pk):
        return True
    return account_usable(account)


def account_mark_needs_reauth(account: YandexAccount, *, message: str) -> None:
    """Flag the account: the refreshed token was refused as well."""
    counters_services.account_mark_needs_reauth(
        account_id=account.pk, reason="invalid_token"
    )


def upload_rows_without_id(upload: Any) -> int:
    """Return how many sent rows have no ``id`` (they may duplicate on a resend)."""
    return int(upload.rows_without_id or 0)


def upload_files_retained(upload: Any) -> bool:
    """Return whether the prepared parts are still stored."""
    return all(part.file for part in upload.parts.all())
