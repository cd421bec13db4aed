"""Writes for Yandex accounts, tokens, counters and access grants.

Tokens are decrypted only inside these functions, right before a call to Yandex,
and never leave them in messages, logs or task arguments.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from ordersync.core.permissions import ADMINS_GROUP
from ordersync.core.services import audit_log
from ordersync.counters import crypto
from ordersync.counters.errors import (
    CounterImportError,
    OAuthFlowError,
    TokenCheckError,
    TokenDecryptError,
)
from ordersync.counters.models import (
    READ_SCOPES,
    UPLOAD_SCOPES,
    AccountCall,
    Counter,
    CounterGrant,
    SavedMapping,
    StatusDictionary,
    YandexAccount,
)
from ordersync.metrika import (
    AccountInfo,
    AttemptRecord,
    MetrikaAccessDeniedError,
    MetrikaClient,
    MetrikaError,
    MetrikaInvalidTokenError,
    MetrikaUnauthorizedError,
    OAuthError,
    TokenSet,
    YandexOAuthClient,
    pkce_pair,
)
from ordersync.metrika import Counter as RemoteCounter
from ordersync.metrika.types import token_fingerprint

logger = logging.getLogger(__name__)

OAUTH_SESSION_KEY = "counters_oauth_pending"
OAUTH_STATE_TTL = 600
OAUTH_MAX_PENDING = 5
REFRESH_LEASE = timedelta(minutes=2)
# Pages wait for these calls: keep them short.
CHECK_TIMEOUTS = (5.0, 15.0)
# How many calls to Yandex each account keeps for the admins' account page.
ACCOUNT_CALLS_KEPT = 100
REVOKED_ERRORS = frozenset({"invalid_grant", "invalid_token", "unauthorized_client"})


# Clients


def _oauth_client(
    *, timeouts: tuple[float, float] | None = None, on_attempt=None
) -> YandexOAuthClient:
    connect, read = timeouts or (settings.METRIKA_CONNECT_TIMEOUT, 30.0)
    return YandexOAuthClient(
        settings.YANDEX_OAUTH_URL,
        settings.YANDEX_OAUTH_CLIENT_ID,
        settings.YANDEX_OAUTH_CLIENT_SECRET,
        login_url=settings.YANDEX_LOGIN_URL,
        connect_timeout=connect,
        read_timeout=read,
        on_attempt=on_attempt,
    )


def account_calls_record(account_id: int, attempts: list[AttemptRecord]) -> None:
    """Keep the account's calls to Yandex, newest ACCOUNT_CALLS_KEPT of them."""
    AccountCall.objects.bulk_create(
        AccountCall(
            account_id=account_id,
            operation=a.operation[:32],
            method=a.method[:8],
            path=urlsplit(a.url).path[:300],
            started_at=a.started_at,
            duration=round(a.duration, 3),
            status_code=a.status,
            error_type=(a.error_type or "")[:64],
            error_message=(a.error_message or "")[:500],
        )
        for a in attempts
    )
    stale = AccountCall.objects.filter(account_id=account_id).order_by(
        "-started_at", "-id"
    )[ACCOUNT_CALLS_KEPT : ACCOUNT_CALLS_KEPT + 1]
    oldest_kept = stale.values_list("started_at", flat=True).first()
    if oldest_kept is not None:
        AccountCall.objects.filter(
            account_id=account_id, started_at__lte=oldest_kept
        ).delete()


def _account_recorder(account_id: int):
    """Return an ``on_attempt`` callback that records each call at once."""

    def record(attempt: AttemptRecord) -> None:
        account_calls_record(account_id, [attempt])

    return record


def _metrika_client(
    access_token: str, *, timeouts: tuple[float, float] | None = None, on_attempt=None
) -> MetrikaClient:
    connect, read = timeouts or (
        settings.METRIKA_CONNECT_TIMEOUT,
        settings.METRIKA_READ_TIMEOUT,
    )
    return MetrikaClient(
        settings.METRIKA_API_URL,
        access_token,
        connect_timeout=connect,
        read_timeout=read,
        on_attempt=on_attempt,
    )


def account_metrika_client(
    *,
    account: YandexAccount,
    on_attempt=None,
    timeouts: tuple[float, float] | None = None,
) -> MetrikaClient:
    """Return a Metrika client for the account's token.

    Raise TokenCheckError when the account cannot be used (needs
    re-authorisation or is disconnected) and TokenDecryptError when the keys do
    not open the token: nothing is ever sent with an unreadable token.
    ``on_attempt`` receives each AttemptRecord; successful calls also stamp the
    account's "last successful call".
    """
    if account.status != YandexAccount.Status.ACTIVE:
        raise TokenCheckError(
            _("The Yandex account %(login)s needs to be connected again.")
            % {"login": account.login}
        )
    token = account.access_token()

    def record(attempt: AttemptRecord) -> None:
        if attempt.status is not None and attempt.status < 300:
            YandexAccount.objects.filter(pk=account.pk).update(
                last_success_at=timezone.now()
            )
        if on_attempt is not None:
            on_attempt(attempt)

    return _metrika_client(token, timeouts=timeouts, on_attempt=record)


def _transient_message(exc: MetrikaError) -> str:
    return _("Yandex did not answer (%(error)s). Try again in a minute.") % {
        "error": str(exc)
    }


# Verifying and storing tokens


@dataclass(frozen=True)
class VerifiedToken:
    info: AccountInfo
    counters: list[RemoteCounter]


@sensitive_variables("access_token")
def account_verify_token(
    *,
    access_token: str,
    calls: list[AttemptRecord],
    timeouts: tuple[float, float] = CHECK_TIMEOUTS,
) -> VerifiedToken:
    """Return the token's account and counters; raise TokenCheckError if unusable.

    ``calls`` collects the calls made, to be recorded once the account exists.
    """
    collect = calls.append
    try:
        info = _oauth_client(timeouts=timeouts, on_attempt=collect).account_info(
            access_token
        )
        counters = _metrika_client(
            access_token, timeouts=timeouts, on_attempt=collect
        ).counters()
    except (OAuthError, MetrikaInvalidTokenError, MetrikaUnauthorizedError):
        raise TokenCheckError(
            _("Yandex does not accept this token: it is wrong, expired or revoked.")
        ) from None
    except MetrikaAccessDeniedError:
        raise TokenCheckError(
            _("The token may not read Metrika counters: it lacks metrika:read.")
        ) from None
    except MetrikaError as exc:
        raise TokenCheckError(_transient_message(exc)) from None
    return VerifiedToken(info=info, counters=counters)


def _missing_scopes(scopes: list[str] | None) -> list[str]:
    if scopes is None:
        return []
    missing = []
    if not set(scopes) & set(READ_SCOPES):
        missing.append("metrika:read")
    if not set(scopes) & set(UPLOAD_SCOPES):
        missing.append("metrika:offline_data")
    return missing


@sensitive_variables("access_token", "refresh_token")
def _account_store(
    *,
    access_token: str,
    refresh_token: str,
    expires_at: datetime | None,
    scopes: list[str] | None,
    verified: VerifiedToken,
    source: str,
    request: HttpRequest,
    calls: list[AttemptRecord],
) -> YandexAccount:
    now = timezone.now()
    with transaction.atomic():
        account = (
            YandexAccount.objects.select_for_update()
            .filter(uid=verified.info.uid)
            .first()
        )
        replaced = account is not None and account.status != (
            YandexAccount.Status.DISCONNECTED
        )
        if account is None:
            account = YandexAccount(uid=verified.info.uid, connected_at=now)
        account.login = verified.info.login
        account.status = YandexAccount.Status.ACTIVE
        account.source = source
        account.access_token_encrypted = crypto.encrypt(access_token)
        account.refresh_token_encrypted = (
            crypto.encrypt(refresh_token) if refresh_token else ""
        )
        account.token_fingerprint = token_fingerprint(access_token)
        account.scopes = scopes
        account.expires_at = expires_at
        account.token_obtained_at = now
        account.refresh_lease_until = None
        account.last_success_at = now
        account.last_checked_at = now
        account.last_error = ""
        account.counters_reachable = len(verified.counters)
        account.connected_by = request.user
        if not replaced:
            account.connected_at = now
        account.save()
        _apply_counter_list(account, verified.counters, now)
        audit_log(
            action="account.token_replaced" if replaced else "account.connected",
            target=account,
            details={
                "login": account.login,
                "source": source,
                "fingerprint": account.token_fingerprint,
                "scopes": scopes,
            },
            request=request,
        )
        account_calls_record(account.pk, calls)
    return account


@sensitive_variables("access_token")
def account_connect_pasted(*, access_token: str, request: HttpRequest) -> YandexAccount:
    """Check a hand-obtained token against Yandex, then store it encrypted."""
    access_token = access_token.strip()
    calls: list[AttemptRecord] = []
    verified = account_verify_token(access_token=access_token, calls=calls)
    return _account_store(
        access_token=access_token,
        refresh_token="",
        expires_at=None,
        scopes=None,
        verified=verified,
        source=YandexAccount.Source.MANUAL,
        request=request,
        calls=calls,
    )


# OAuth authorization-code flow with state and PKCE


def oauth_redirect_uri(request: HttpRequest) -> str:
    """Return the callback URL registered with Yandex."""
    return settings.YANDEX_OAUTH_REDIRECT_URI or request.build_absolute_uri(
        reverse("counters:oauth_callback")
    )


def _pending_states(request: HttpRequest) -> dict[str, dict]:
    now = time.time()
    pending = request.session.get(OAUTH_SESSION_KEY, {})
    return {
        state: entry
        for state, entry in pending.items()
        if now - entry.get("created", 0) < OAUTH_STATE_TTL
    }


def account_oauth_start(*, request: HttpRequest) -> str:
    """Remember a new state and PKCE verifier; return the Yandex authorize URL."""
    if not settings.YANDEX_OAUTH_CLIENT_ID:
        raise OAuthFlowError(
            _(
                "The Yandex OAuth application is not configured: set "
                "YANDEX_OAUTH_CLIENT_ID and YANDEX_OAUTH_CLIENT_SECRET, or paste a "
                "token instead."
            )
        )
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    pending = _pending_states(request)
    # Several tabs may be mid-flow; keep only the newest few.
    newest = sorted(pending.items(), key=lambda item: item[1]["created"])
    pending = dict(newest[-(OAUTH_MAX_PENDING - 1) :])
    pending[state] = {"verifier": verifier, "created": time.time()}
    request.session[OAUTH_SESSION_KEY] = pending
    return _oauth_client().authorize_url(
        redirect_uri=oauth_redirect_uri(request),
        scope=settings.YANDEX_OAUTH_SCOPES,
        state=state,
        code_challenge=challenge,
        force_confirm=True,
    )


def _oauth_failure(request: HttpRequest, reason: str, message: str) -> OAuthFlowError:
    audit_log(
        action="account.oauth_failed", details={"reason": reason}, request=request
    )
    return OAuthFlowError(message)


def account_oauth_finish(
    *, request: HttpRequest, params: dict[str, str]
) -> YandexAccount:
    """Complete the flow from the callback's query; raise OAuthFlowError.

    The state is single use: it is removed from the session before anything else,
    whatever the outcome. Nothing is stored unless every check passed.
    """
    state = params.get("state", "")
    all_pending = request.session.get(OAUTH_SESSION_KEY, {})
    entry = all_pending.get(state) if state else None
    pending = _pending_states(request)
    pending.pop(state, None)
    request.session[OAUTH_SESSION_KEY] = pending
    if entry is None:
        raise _oauth_failure(
            request,
            "unknown_state",
            _(
                "This answer from Yandex does not belong to a connection started "
                "here, or it was already used. Nothing was saved; start again with "
                "“Connect Yandex account”."
            ),
        )
    if time.time() - entry.get("created", 0) >= OAUTH_STATE_TTL:
        raise _oauth_failure(
            request,
            "expired_state",
            _(
                "The connection took longer than 10 minutes and has expired. "
                "Nothing was saved; start again."
            ),
        )
    error = params.get("error")
    if error == "access_denied":
        raise _oauth_failure(
            request,
            "access_denied",
            _("Access was declined on the Yandex page. Nothing was connected."),
        )
    if error:
        raise _oauth_failure(
            request,
            error[:64],
            _("Yandex refused the connection (%(error)s: %(description)s).")
            % {"error": error[:64], "description": params.get("error_description", "")},
        )
    code = params.get("code", "")
    if not code:
        raise _oauth_failure(
            request, "no_code", _("Yandex sent no authorisation code; start again.")
        )
    redirect_uri = oauth_redirect_uri(request)
    calls: list[AttemptRecord] = []
    try:
        tokens = _oauth_client(on_attempt=calls.append).exchange_code(
            code, code_verifier=entry["verifier"], redirect_uri=redirect_uri
        )
    except OAuthError as exc:
        if exc.error in ("invalid_grant", "bad_verification_code"):
            raise _oauth_failure(
                request,
                exc.error,
                _(
                    "The authorisation code has expired or was already used. "
                    "Nothing was saved; start again."
                ),
            ) from None
        raise _oauth_failure(
            request,
            exc.error,
            _("Yandex OAuth refused the code (%(error)s). Nothing was saved.")
            % {"error": exc.error},
        ) from None
    except MetrikaError as exc:
        raise _oauth_failure(
            request, "oauth_unreachable", _transient_message(exc)
        ) from None
    return _account_store_token_set(tokens=tokens, request=request, calls=calls)


@sensitive_variables("tokens")
def _account_store_token_set(
    *, tokens: TokenSet, request: HttpRequest, calls: list[AttemptRecord]
) -> YandexAccount:
    scopes = list(tokens.scope) if tokens.scope is not None else None
    missing = _missing_scopes(scopes)
    if missing:
        raise _oauth_failure(
            request,
            "missing_scope",
            _(
                "Yandex granted the token without the rights OrderSync needs "
                "(%(scopes)s missing). Nothing was saved; allow all requested "
                "rights when connecting."
            )
            % {"scopes": ", ".join(missing)},
        )
    try:
        verified = account_verify_token(access_token=tokens.access_token, calls=calls)
    except TokenCheckError as exc:
        raise _oauth_failure(request, "token_check", str(exc)) from None
    return _account_store(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token or "",
        expires_at=tokens.expires_at,
        scopes=scopes if scopes is not None else list(settings.YANDEX_OAUTH_SCOPES),
        verified=verified,
        source=YandexAccount.Source.OAUTH,
        request=request,
        calls=calls,
    )


# Refresh, revocation, health


class RefreshResult(StrEnum):
    REFRESHED = "refreshed"
    NOT_DUE = "not_due"
    BUSY = "busy"
    NOT_REFRESHABLE = "not_refreshable"
    FAILED = "failed"
    REVOKED = "revoked"


def token_refresh_due(account: YandexAccount, now: datetime) -> bool:
    """Return whether less than the margin (or half the lifetime) is left."""
    if account.expires_at is None:
        return False
    lifetime = account.expires_at - account.token_obtained_at
    margin = min(settings.TOKEN_REFRESH_MARGIN, lifetime / 2)
    return now >= account.expires_at - margin


def account_refresh_token(*, account_id: int, force: bool = False) -> RefreshResult:
    """Exchange the refresh token for a new pair when due (or when ``force``).

    A lease column makes this safe to run from several workers at once: only the
    worker whose conditional UPDATE claimed the lease calls Yandex, so a refresh
    token is never spent twice. Works the same on PostgreSQL and SQLite.
    """
    now = timezone.now()
    claimable = YandexAccount.objects.filter(
        pk=account_id, status=YandexAccount.Status.ACTIVE
    ).exclude(refresh_token_encrypted="")
    claimed = claimable.filter(
        Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now)
    ).update(refresh_lease_until=now + REFRESH_LEASE)
    if not claimed:
        return (
            RefreshResult.BUSY if claimable.exists() else RefreshResult.NOT_REFRESHABLE
        )
    try:
        return _refresh_claimed(account_id, force=force)
    finally:
        YandexAccount.objects.filter(pk=account_id).update(refresh_lease_until=None)


@sensitive_variables("refresh_token", "tokens")
def _refresh_claimed(account_id: int, *, force: bool) -> RefreshResult:
    account = YandexAccount.objects.get(pk=account_id)
    now = timezone.now()
    if not force and not token_refresh_due(account, now):
        return RefreshResult.NOT_DUE
    try:
        refresh_token = account.refresh_token()
    except TokenDecryptError as exc:
        logger.error("Yandex account %s: %s", account.pk, exc)
        _account_note_error(account, str(exc))
        return RefreshResult.FAILED
    try:
        tokens = _oauth_client(on_attempt=_account_recorder(account.pk)).refresh(
            refresh_token
        )
    except OAuthError as exc:
        if exc.error in REVOKED_ERRORS:
            account_mark_needs_reauth(account_id=account.pk, reason=exc.error)
            return RefreshResult.REVOKED
        logger.error("Yandex account %s: refresh refused: %s", account.pk, exc.error)
        _account_note_error(
            account,
            _("Yandex OAuth refused the refresh (%(error)s).") % {"error": exc.error},
        )
        return RefreshResult.FAILED
    except MetrikaError as exc:
        logger.warning("Yandex account %s: refresh failed: %s", account.pk, exc)
        _account_note_error(account, _transient_message(exc))
        return RefreshResult.FAILED
    with transaction.atomic():
        account.access_token_encrypted = crypto.encrypt(tokens.access_token)
        if tokens.refresh_token:
            account.refresh_token_encrypted = crypto.encrypt(tokens.refresh_token)
        account.token_fingerprint = token_fingerprint(tokens.access_token)
        account.expires_at = tokens.expires_at
        account.token_obtained_at = now
        if tokens.scope is not None:
            account.scopes = list(tokens.scope)
        account.last_success_at = now
        account.last_error = ""
        account.save(
            update_fields=[
                "access_token_encrypted",
                "refresh_token_encrypted",
                "token_fingerprint",
                "expires_at",
                "token_obtained_at",
                "scopes",
                "last_success_at",
                "last_error",
            ]
        )
        audit_log(
            action="account.token_refreshed",
            target=account,
            details={"fingerprint": account.token_fingerprint},
        )
    logger.info("Yandex account %s: token refreshed", account.pk)
    return RefreshResult.REFRESHED


def _account_note_error(account: YandexAccount, message: str) -> None:
    YandexAccount.objects.filter(pk=account.pk).update(
        last_error=message[:500], last_checked_at=timezone.now()
    )


def account_mark_needs_reauth(*, account_id: int, reason: str) -> bool:
    """Flag a working account as needing re-authorisation and e-mail the admins.

    Return False when it was already flagged (admins are told once).
    """
    changed = YandexAccount.objects.filter(
        pk=account_id, status=YandexAccount.Status.ACTIVE
    ).update(
        status=YandexAccount.Status.NEEDS_REAUTH,
        last_error=_("Yandex no longer accepts the token (%(reason)s).")
        % {"reason": reason},
        last_checked_at=timezone.now(),
    )
    if not changed:
        return False
    account = YandexAccount.objects.get(pk=account_id)
    logger.warning("Yandex account %s needs re-authorisation: %s", account.pk, reason)
    audit_log(
        action="account.token_invalid",
        target=account,
        details={"reason": reason, "fingerprint": account.token_fingerprint},
    )
    _mail_admins_reauth(account)
    return True


def _mail_admins_reauth(account: YandexAccount) -> None:
    User = get_user_model()
    recipients = sorted(
        set(
            User.objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(groups__name=ADMINS_GROUP))
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not recipients:
        return
    url = settings.ORDERSYNC_SITE_URL.rstrip("/") + reverse(
        "counters:account_detail", args=[account.pk]
    )
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("OrderSync: Yandex account %(login)s must be connected again") % {
            "login": account.login
        }
        body = _(
            "Yandex no longer accepts the token of the account %(login)s: it was "
            "revoked, its password changed, or access was withdrawn. Uploads to its "
            "counters stop until an admin connects the account again:\n\n%(url)s\n"
        ) % {"login": account.login, "url": url}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def account_handle_invalid_token(*, account_id: int) -> bool:
    """React to Metrika's 403 ``invalid_token``: refresh once, else flag the account.

    Return True when a new token is ready and the call may be retried once.
    """
    result = account_refresh_token(account_id=account_id, force=True)
    if result == RefreshResult.REFRESHED:
        return True
    if result in (RefreshResult.NOT_REFRESHABLE, RefreshResult.FAILED):
        account_mark_needs_reauth(account_id=account_id, reason="invalid_token")
    return False


def account_check(*, account: YandexAccount, _retried: bool = False) -> YandexAccount:
    """Call Yandex now with a short timeout and record the account's health.

    Raise TokenCheckError or TokenDecryptError with the reason when it fails.
    """
    if account.status == YandexAccount.Status.DISCONNECTED:
        raise TokenCheckError(_("The account is disconnected; connect it again."))
    try:
        token = account.access_token()
    except TokenDecryptError as exc:
        _account_note_error(account, str(exc))
        raise
    try:
        counters = _metrika_client(
            token, timeouts=CHECK_TIMEOUTS, on_attempt=_account_recorder(account.pk)
        ).counters()
    except MetrikaInvalidTokenError:
        if not _retried and account_handle_invalid_token(account_id=account.pk):
            account.refresh_from_db()
            return account_check(account=account, _retried=True)
        account_mark_needs_reauth(account_id=account.pk, reason="invalid_token")
        account.refresh_from_db()
        raise TokenCheckError(
            _("Yandex no longer accepts the token; connect the account again.")
        ) from None
    except MetrikaAccessDeniedError:
        message = _("The token may not read Metrika counters: it lacks metrika:read.")
        _account_note_error(account, message)
        raise TokenCheckError(message) from None
    except MetrikaError as exc:
        message = _transient_message(exc)
        _account_note_error(account, message)
        raise TokenCheckError(message) from None
    now = timezone.now()
    with transaction.atomic():
        account.last_checked_at = now
        account.last_success_at = now
        account.last_error = ""
        account.counters_reachable = len(counters)
        account.save(
            update_fields=[
                "last_checked_at",
                "last_success_at",
                "last_error",
                "counters_reachable",
            ]
        )
        _apply_counter_list(account, counters, now)
    return account


def account_disconnect(*, account: YandexAccount, request: HttpRequest) -> None:
    """Forget the account's tokens; its counters stay, unusable, for history."""
    with transaction.atomic():
        account.status = YandexAccount.Status.DISCONNECTED
        account.access_token_encrypted = ""
        account.refresh_token_encrypted = ""
        account.refresh_lease_until = None
        account.save()
        audit_log(
            action="account.disconnected",
            target=account,
            details={"fingerprint": account.token_fingerprint},
            request=request,
        )


# Counters


@dataclass(frozen=True)
class RemoteCounterRow:
    counter: RemoteCounter
    added: bool


def account_fetch_counters(*, account: YandexAccount) -> list[RemoteCounterRow]:
    """Return the counters the account sees now, marking those already added."""
    try:
        remote = account_metrika_client(
            account=account,
            timeouts=CHECK_TIMEOUTS,
            on_attempt=_account_recorder(account.pk),
        ).counters()
    except MetrikaInvalidTokenError:
        account_handle_invalid_token(account_id=account.pk)
        raise TokenCheckError(
            _("Yandex no longer accepts the token; connect the account again.")
        ) from None
    except MetrikaError as exc:
        raise TokenCheckError(_transient_message(exc)) from None
    added = set(
        account.counters.filter(enabled=True).values_list("metrika_id", flat=True)
    )
    return [RemoteCounterRow(counter=c, added=c.id in added) for c in remote]


def _apply_counter_list(
    account: YandexAccount, remote: list[RemoteCounter], now: datetime
) -> int:
    by_id = {c.id: c for c in remote}
    changed = 0
    for counter in account.counters.all():
        item = by_id.get(counter.metrika_id)
        if item is None:
            values = {"reachable": False}
        else:
            values = {
                "reachable": True,
                "name": item.name or counter.name,
                "site": item.site,
                "time_zone_name": item.time_zone_name,
                "permission": item.permission,
            }
        if any(getattr(counter, k) != v for k, v in values.items()):
            changed += 1
        for key, value in {**values, "synced_at": now}.items():
            setattr(counter, key, value)
        counter.save()
    return changed


def counter_import(
    *, account: YandexAccount, metrika_ids: list[int], request: HttpRequest
) -> list[Counter]:
    """Add the chosen counters, as Yandex describes them now; all or nothing."""
    if not metrika_ids:
        raise CounterImportError(_("Choose at least one counter."))
    remote = {
        row.counter.id: row.counter for row in account_fetch_counters(account=account)
    }
    problems = []
    for metrika_id in metrika_ids:
        item = remote.get(metrika_id)
        if item is None:
            problems.append(
                _("Counter %(id)s is not visible to the account %(login)s.")
                % {"id": metrika_id, "login": account.login}
            )
        elif not item.can_upload:
            problems.append(
                _(
                    "Counter %(id)s (%(name)s): the account only has “%(permission)s” "
                    "access; uploading orders needs “own” or “edit”."
                )
                % {"id": item.id, "name": item.name, "permission": item.permission}
            )
    if problems:
        raise CounterImportError(" ".join(problems))
    now = timezone.now()
    added = []
    with transaction.atomic():
        for metrika_id in metrika_ids:
            item = remote[metrika_id]
            counter, _created = Counter.objects.update_or_create(
                account=account,
                metrika_id=item.id,
                defaults={
                    "name": item.name or str(item.id),
                    "site": item.site,
                    "time_zone_name": item.time_zone_name,
                    "permission": item.permission,
                    "reachable": True,
                    "enabled": True,
                    "synced_at": now,
                },
                create_defaults={
                    "name": item.name or str(item.id),
                    "site": item.site,
                    "time_zone_name": item.time_zone_name,
                    "permission": item.permission,
                    "added_by": request.user,
                    "added_at": now,
                    "synced_at": now,
                },
            )
            audit_log(
                action="counter.added",
                target=counter,
                details={"metrika_id": item.id, "permission": item.permission},
                request=request,
            )
            added.append(counter)
    return added


def account_sync_counters(*, account: YandexAccount, request: HttpRequest) -> int:
    """Bring added counters in line with Yandex; return how many changed."""
    rows = account_fetch_counters(account=account)
    now = timezone.now()
    with transaction.atomic():
        changed = _apply_counter_list(account, [row.counter for row in rows], now)
        YandexAccount.objects.filter(pk=account.pk).update(
            counters_reachable=len(rows), last_checked_at=now, last_error=""
        )
        audit_log(
            action="counters.synced",
            target=account,
            details={"changed": changed, "visible": len(rows)},
            request=request,
        )
    return changed


def counter_update_settings(
    *,
    counter: Counter,
    default_merge_mode: str,
    hash_personal_data: bool,
    default_phone_region: str,
    request: HttpRequest,
) -> Counter:
    """Change a counter's upload defaults."""
    # Read from the database: a bound ModelForm has already changed ``counter``.
    before = Counter.objects.values(
        "default_merge_mode", "hash_personal_data", "default_phone_region"
    ).get(pk=counter.pk)
    after = {
        "default_merge_mode": default_merge_mode,
        "hash_personal_data": hash_personal_data,
        "default_phone_region": default_phone_region.upper(),
    }
    with transaction.atomic():
        for key, value in after.items():
            setattr(counter, key, value)
        counter.save(update_fields=list(after))
        changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
        if changes:
            audit_log(
                action="counter.settings_changed",
                target=counter,
                details=changes,
                request=request,
            )
    return counter


def counter_remove(*, counter: Counter, request: HttpRequest) -> None:
    """Stop offering the counter for uploads; history and settings stay."""
    with transaction.atomic():
        counter.enabled = False
        counter.save(update_fields=["enabled"])
        audit_log(
            action="counter.removed",
            target=counter,
            details={"metrika_id": counter.metrika_id},
            request=request,
        )


def grant_add(
    *,
    counter: Counter,
    user: AbstractBaseUser | None = None,
    group: Group | None = None,
    request: HttpRequest,
) -> CounterGrant:
    """Let a user, or every member of a group, upload to the counter."""
    if (user is None) == (group is None):
        raise ValueError("grant exactly one of user or group")
    with transaction.atomic():
        grant, created = CounterGrant.objects.get_or_create(
            counter=counter,
            user=user,
            group=group,
            defaults={"granted_by": request.user},
        )
        if created:
            audit_log(
                action="grant.added",
                target=counter,
                details={"grantee": grant.grantee, "kind": "user" if user else "group"},
                request=request,
            )
    return grant


def grant_remove(*, grant: CounterGrant, request: HttpRequest) -> None:
    """Withdraw a grant."""
    with transaction.atomic():
        audit_log(
            action="grant.removed",
            target=grant.counter,
            details={"grantee": grant.grantee},
            request=request,
        )
        grant.delete()


def saved_mapping_save(
    *, counter: Counter, name: str, mapping: dict, user: AbstractBaseUser
) -> SavedMapping:
    """Create or replace the counter's mapping called ``name``."""
    saved, _created = SavedMapping.objects.update_or_create(
        counter=counter,
        name=name.strip()[:100],
        defaults={"mapping": mapping},
        create_defaults={"mapping": mapping, "created_by": user},
    )
    return saved


def status_dictionary_save(
    *, counter: Counter, name: str, statuses: dict[str, str], user: AbstractBaseUser
) -> StatusDictionary:
    """Create or replace the counter's status dictionary called ``name``."""
    saved, _created = StatusDictionary.objects.update_or_create(
        counter=counter,
        name=name.strip()[:100],
        defaults={"statuses": statuses},
        create_defaults={"statuses": statuses, "created_by": user},
    )
    return saved


# Key rotation


@dataclass(frozen=True)
class RotationReport:
    accounts: int
    rotated: int


def token_keys_rotate() -> RotationReport:
    """Re-encrypt every stored token under the newest key, all or nothing."""
    rotated = 0
    accounts = 0
    with transaction.atomic():
        for account in YandexAccount.objects.select_for_update().exclude(
            access_token_encrypted=""
        ):
            accounts += 1
            fields = ["access_token_encrypted", "refresh_token_encrypted"]
            before = [getattr(account, f) for f in fields]
            if all(not v or crypto.newest_key_opens(v) for v in before):
                continue
            for field in fields:
                value = getattr(account, field)
                if value:
                    setattr(account, field, crypto.rotate(value))
            account.save(update_fields=fields)
            rotated += 1
        audit_log(
            action="keys.rotated", details={"accounts": accounts, "rotated": rotated}
        )
    return RotationReport(accounts=accounts, rotated=rotated)
