"""Yandex Metrika and Yandex OAuth clients, with no Django imports.

Public API (everything the app needs is importable from here):

``MetrikaClient(api_url, token, *, connect_timeout=10, read_timeout=120,
session=None, on_attempt=None, naive_tz=UTC)``
    One HTTP attempt per call, never retried; raises a ``MetrikaError``.
    ``naive_tz`` is the zone of zone-less datetimes (unknown for the real API;
    UTC by default). While an upload body is sent, urllib3 keeps the socket
    timeout at ``connect_timeout``, so each 64 KiB block must go out within it.

    - ``upload_simple_orders(counter_id, fileobj, *, merge_mode, delimiter="COMMA",
      filename="orders.csv", progress=None) -> Uploading`` streams the file;
      ``progress(bytes_sent, total)``; a 200 ``FAILED`` raises
      ``UploadRejectedError`` (its ``.uploading`` has the id).
    - ``last_uploadings(counter_id, *, limit=10, datetime_offset=None,
      source=None) -> list[Uploading]`` (newest first).
    - ``find_uploading(counter_id, uploading_id, *, not_before=None,
      source="API", page_size=1000, max_pages=20) -> Uploading | None``.
    - ``counters(*, permission=None, per_page=1000) -> list[Counter]`` (all pages).
    - ``counter(counter_id) -> Counter``.

``YandexOAuthClient(oauth_url, client_id, client_secret, *,
login_url="https://login.yandex.ru", connect_timeout=10, read_timeout=30,
session=None, on_attempt=None)``
    - ``authorize_url(*, redirect_uri, scope, state, code_challenge=None,
      code_challenge_method="S256", force_confirm=False, login_hint=None) -> str``
    - ``exchange_code(code, *, code_verifier=None, redirect_uri=None) -> TokenSet``
    - ``refresh(refresh_token) -> TokenSet``
    - ``account_info(access_token) -> AccountInfo`` (``login_url``/info)

``pkce_pair() -> (code_verifier, code_challenge)`` for S256.

Errors (``errors.py``): every ``MetrikaError`` has ``transient``, ``status``,
``error_type``, ``message`` (Metrika's, safe to show), ``retry_after``, ``quota``,
``body_sent``, ``response_excerpt``, ``attempt`` and ``outcome_unknown``
(transient and the body was fully sent: reconcile before sending again).

``on_attempt(AttemptRecord)`` is called once per HTTP attempt, success or not,
with operation, method, url (never a token), started_at, duration, status,
error_type, error_message, response_excerpt (token-free), bytes_sent, body_sent.
"""

from ordersync.metrika.client import MetrikaClient, YandexOAuthClient, pkce_pair
from ordersync.metrika.errors import (
    MetrikaAccessDeniedError,
    MetrikaBadRequestError,
    MetrikaError,
    MetrikaInvalidTokenError,
    MetrikaNotFoundError,
    MetrikaRateLimitError,
    MetrikaResponseError,
    MetrikaServerError,
    MetrikaTransportError,
    MetrikaUnauthorizedError,
    OAuthError,
    UploadRejectedError,
)
from ordersync.metrika.types import (
    AccountInfo,
    AttemptRecord,
    Counter,
    Delimiter,
    MergeMode,
    TokenSet,
    Uploading,
    ValidationStatus,
)

__all__ = [
    "AccountInfo",
    "AttemptRecord",
    "Counter",
    "Delimiter",
    "MergeMode",
    "MetrikaAccessDeniedError",
    "MetrikaBadRequestError",
    "MetrikaClient",
    "MetrikaError",
    "MetrikaInvalidTokenError",
    "MetrikaNotFoundError",
    "MetrikaRateLimitError",
    "MetrikaResponseError",
    "MetrikaServerError",
    "MetrikaTransportError",
    "MetrikaUnauthorizedError",
    "OAuthError",
    "TokenSet",
    "UploadRejectedError",
    "Uploading",
    "ValidationStatus",
    "YandexOAuthClient",
    "pkce_pair",
]
