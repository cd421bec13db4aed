"""HTTP clients for the Metrika API and Yandex OAuth (the contract in CONTRACT.md).

The only module in the project that imports ``requests``. Clients make exactly one
HTTP attempt per call and never retry: the caller's state machine decides, using
``MetrikaError.transient``, ``.body_sent``, ``.quota`` and ``.retry_after``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests_toolbelt.multipart.encoder import MultipartEncoder
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

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
    format_metrika_datetime,
    token_fingerprint,
)

logger = logging.getLogger(__name__)

EXCERPT_LIMIT = 2000
# urllib3 sends bodies 16 KiB at a time; bigger blocks cut per-call overhead on
# 1 GB uploads. Not much bigger: while the body is sent, urllib3 leaves the socket
# timeout at the *connect* timeout, so each block must go out within it.
UPLOAD_BLOCKSIZE = 64 * 1024
REDACTED = "<redacted>"

ProgressCallback = Callable[[int, int], None]
AttemptCallback = Callable[[AttemptRecord], None]


class _BlockSizeAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["blocksize"] = UPLOAD_BLOCKSIZE
        super().init_poolmanager(*args, **kwargs)


class _TrackedBody:
    """A streaming body that knows how much of itself reached the socket.

    urllib3 reads the next block only after ``sendall`` of the previous one
    returned, so reading EOF proves the whole body was handed to the network.
    """

    def __init__(self, encoder: MultipartEncoder, progress: ProgressCallback | None):
        self._encoder = encoder
        self._progress = progress
        self.len = encoder.len
        self.bytes_read = 0
        self.finished = False

    def read(self, size: int = -1) -> bytes:
        if self._progress is not None:
            self._progress(self.bytes_read, self.len)
        chunk = self._encoder.read(size)
        if chunk:
            self.bytes_read += len(chunk)
        else:
            self.finished = True
        return chunk


class _FileBody:
    """Present a file to the multipart encoder as a stream of known length.

    The encoder copies anything with ``getvalue`` into memory and needs a length
    for the rest; this wrapper offers ``read`` and a shrinking ``len`` only.
    """

    def __init__(self, fileobj: IO[bytes], size: int | None):
        self._fileobj = fileobj
        self.len = size if size is not None else _remaining_size(fileobj)

    def read(self, size: int = -1) -> bytes:
        chunk = self._fileobj.read(size if size >= 0 else UPLOAD_BLOCKSIZE)
        if not chunk and self.len > 0:
            raise OSError("the file is shorter than its announced size")
        self.len -= len(chunk)
        return chunk


def _remaining_size(fileobj: IO[bytes]) -> int:
    try:
        position = fileobj.tell()
        end = fileobj.seek(0, 2)
        fileobj.seek(position)
    except (AttributeError, OSError, ValueError):
        raise ValueError("cannot tell the file's size; pass size=") from None
    return end - position


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED
            if "token" in key.lower() or "secret" in key.lower()
            else _redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value


class _HTTPClient:
    """Shared attempt bookkeeping, error mapping and secret redaction."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        session: requests.Session | None,
        on_attempt: AttemptCallback | None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = (connect_timeout, read_timeout)
        self._on_attempt = on_attempt
        if session is None:
            session = requests.Session()
            # Retrying a POST at the transport level would hide an unknown outcome.
            adapter = _BlockSizeAdapter(max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session

    def _secrets(self) -> tuple[str, ...]:
        return ()

    def _redact(self, text: str, extra: Iterable[str] = ()) -> str:
        for secret in (*self._secrets(), *extra):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def _excerpt(self, response: requests.Response, extra: Iterable[str]) -> str:
        text = response.content[: EXCERPT_LIMIT * 4].decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            text = json.dumps(_redact_json(json.loads(text)), ensure_ascii=False)
        return self._redact(text, extra)[:EXCERPT_LIMIT]

    def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str],
        counter_id: int | None = None,
        body: _TrackedBody | None = None,
        base_url: str | None = None,
        secrets_in_call: Iterable[str] = (),
    ) -> tuple[requests.Response, AttemptRecord]:
        url = (base_url or self._base_url) + path
        if params:
            url = f"{url}?{urlencode(params)}"
        record = AttemptRecord(
            operation=operation,
            method=method,
            url=url,
            started_at=datetime.now(UTC),
            counter_id=counter_id,
        )
        host = urlsplit(url).hostname or url
        started = time.monotonic()
        transport_error: MetrikaError | None = None
        try:
            response = self._session.request(
                method,
                url,
                data=data,
                headers=dict(headers),
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            record.duration = time.monotonic() - started
            transport_error = self._transport_error(exc, host, body)
            self._finish(record, error=transport_error, body=body)
        if transport_error is not None:
            # Raised outside the handler so that not even __context__ keeps the
            # requests exception: it holds the prepared request, token included.
            raise transport_error
        record.duration = time.monotonic() - started
        record.status = response.status_code
        record.response_excerpt = self._excerpt(response, secrets_in_call)
        if response.status_code >= 300:
            error = self._http_error(response, record, body, secrets_in_call)
            self._finish(record, error=error, body=body)
            raise error
        self._finish(record, error=None, body=body)
        return response, record

    def _finish(
        self,
        record: AttemptRecord,
        *,
        error: MetrikaError | None,
        body: _TrackedBody | None,
    ) -> None:
        if body is not None:
            record.bytes_sent = body.bytes_read
            record.body_sent = body.finished
        else:
            record.body_sent = error is None or error.body_sent
        if error is not None:
            record.error_type = error.error_type or type(error).__name__
            record.error_message = error.message
            error.attempt = record
        logger.info(
            "yandex %s %s status=%s duration=%.3fs error=%s",
            record.operation,
            urlsplit(record.url).path,
            record.status,
            record.duration,
            record.error_type,
        )
        if self._on_attempt is not None:
            self._on_attempt(record)

    def _transport_error(
        self, exc: requests.RequestException, host: str, body: _TrackedBody | None
    ) -> MetrikaTransportError:
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        # urllib3's NewConnectionError subclasses ConnectTimeoutError: test it first.
        if isinstance(reason, NewConnectionError):
            kind, message = "connect", f"Could not connect to {host}"
            sent = False
        elif isinstance(exc, requests.ConnectTimeout) or isinstance(
            reason, ConnectTimeoutError
        ):
            kind, message = "connect_timeout", f"Timed out connecting to {host}"
            sent = False
        elif isinstance(exc, requests.ReadTimeout):
            kind, message = "read_timeout", f"Timed out waiting for {host} to answer"
            sent = body.finished if body is not None else True
        else:
            kind, message = "connection_lost", f"Connection to {host} was lost"
            sent = body.finished if body is not None else True
        return MetrikaTransportError(message, kind=kind, body_sent=sent)

    def _http_error(
        self,
        response: requests.Response,
        record: AttemptRecord,
        body: _TrackedBody | None,
        secrets_in_call: Iterable[str],
    ) -> MetrikaError:
        status = response.status_code
        error_type, message = self._parse_error_body(response)
        kwargs = {
            "status": status,
            "error_type": error_type,
            "retry_after": _retry_after(response.headers.get("Retry-After")),
            "body_sent": body.finished if body is not None else True,
            "response_excerpt": record.response_excerpt,
        }
        message = self._redact(message or f"HTTP {status}", secrets_in_call)
        if status in (420, 429):
            return MetrikaRateLimitError(message, quota=error_type, **kwargs)
        if status >= 500:
            return MetrikaServerError(message, **kwargs)
        if status == 401:
            return MetrikaUnauthorizedError(message, **kwargs)
        if status == 403 and error_type == "invalid_token":
            return MetrikaInvalidTokenError(message, **kwargs)
        if status == 403:
            return MetrikaAccessDeniedError(message, **kwargs)
        if status == 404:
            return MetrikaNotFoundError(message, **kwargs)
        if status >= 400:
            return MetrikaBadRequestError(message, **kwargs)
        return MetrikaResponseError(message, **kwargs)

    @staticmethod
    def _parse_error_body(response: requests.Response) -> tuple[str | None, str]:
        try:
            payload = response.json()
        except ValueError:
            return None, ""
        if not isinstance(payload, dict):
            return None, ""
        if isinstance(payload.get("error"), str):
            # Yandex OAuth: {"error": "invalid_grant", "error_description": "..."}
            return payload["error"], str(payload.get("error_description") or "")
        errors = payload.get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        error_type = first.get("error_type")
        message = payload.get("message") or first.get("message") or ""
        return (str(error_type) if error_type else None), str(message)

    def _json(self, response: requests.Response, record: AttemptRecord) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._bad_payload(record, "Answer is not JSON") from None

    @staticmethod
    def _bad_payload(record: AttemptRecord, message: str) -> MetrikaResponseError:
        return MetrikaResponseError(
            message,
            status=record.status,
            body_sent=True,
            response_excerpt=record.response_excerpt,
            attempt=record,
        )


class MetrikaClient(_HTTPClient):
    """Call the Metrika API on behalf of one OAuth token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        session: requests.Session | None = None,
        on_attempt: AttemptCallback | None = None,
        naive_tz: tzinfo = UTC,
    ) -> None:
        """Prepare a client; ``naive_tz`` is the zone of zone-less datetimes."""
        super().__init__(
            api_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            session=session,
            on_attempt=on_attempt,
        )
        self.__token = token
        self._naive_tz = naive_tz

    def __repr__(self) -> str:
        return (
            f"MetrikaClient(api_url={self._base_url!r}, "
            f"token=<sha256:{token_fingerprint(self.__token)}>)"
        )

    def _secrets(self) -> tuple[str, ...]:
        return (self.__token,)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"OAuth {self.__token}", "Accept": "application/json"}

    def upload_simple_orders(
        self,
        counter_id: int,
        fileobj: IO[bytes],
        *,
        merge_mode: MergeMode | str,
        delimiter: Delimiter | str = Delimiter.COMMA,
        filename: str = "orders.csv",
        progress: ProgressCallback | None = None,
        size: int | None = None,
    ) -> Uploading:
        """Stream a simple-orders CSV to a counter and return the PASSED uploading.

        ``fileobj`` is read in blocks from its current position, never whole;
        ``size`` is needed only when it cannot seek. ``progress(sent, total)`` is
        called with bytes handed to the network. Raise ``UploadRejectedError`` on
        a 200 ``FAILED`` and another ``MetrikaError`` on any other failure.
        """
        params = {
            "merge_mode": MergeMode(str(merge_mode).upper()).value,
            "delimiter_type": Delimiter(str(delimiter).upper()).value,
        }
        source = _FileBody(fileobj, size)
        encoder = MultipartEncoder(fields={"file": (filename, source, "text/csv")})
        body = _TrackedBody(encoder, progress)
        response, record = self._send(
            "upload_simple_orders",
            "POST",
            f"/cdp/api/v1/counter/{int(counter_id)}/data/simple_orders",
            params=params,
            data=body,
            headers={**self._headers(), "Content-Type": encoder.content_type},
            counter_id=int(counter_id),
            body=body,
        )
        payload = self._json(response, record)
        try:
            uploading = Uploading.from_payload(payload["uploading"], self._naive_tz)
        except (KeyError, TypeError, ValueError):
            raise self._bad_payload(record, "Answer has no valid 'uploading'") from None
        if not uploading.passed:
            raise UploadRejectedError(
                "Metrika rejected the file: api_validation_status is FAILED",
                uploading=uploading,
                status=record.status,
                error_type="FAILED",
                body_sent=True,
                response_excerpt=record.response_excerpt,
                attempt=record,
            )
        return uploading

    def last_uploadings(
        self,
        counter_id: int,
        *,
        limit: int = 10,
        datetime_offset: datetime | str | None = None,
        source: str | None = None,
    ) -> list[Uploading]:
        """Return recent uploadings, newest first, before ``datetime_offset``."""
        params: dict[str, Any] = {"limit": int(limit)}
        if isinstance(datetime_offset, datetime):
            datetime_offset = format_metrika_datetime(datetime_offset, self._naive_tz)
        if datetime_offset:
            params["datetime_offset"] = datetime_offset
        if source:
            params["source"] = source
        response, record = self._send(
            "last_uploadings",
            "GET",
            f"/cdp/api/v1/counter/{int(counter_id)}/last_uploadings",
            params=params,
            headers=self._headers(),
            counter_id=int(counter_id),
        )
        payload = self._json(response, record)
        try:
            return [
                Uploading.from_payload(item, self._naive_tz)
                for item in payload["uploadings"]
            ]
        except (KeyError, TypeError, ValueError):
            raise self._bad_payload(
                record, "Answer has no valid 'uploadings'"
            ) from None

    def find_uploading(
        self,
        counter_id: int,
        uploading_id: str,
        *,
        not_before: datetime | None = None,
        source: str | None = "API",
        page_size: int = 1000,
        max_pages: int = 20,
    ) -> Uploading | None:
        """Page through ``last_uploadings`` and return the one with ``uploading_id``.

        Stop at uploads older than ``not_before`` (aware) or after ``max_pages``;
        return None when it is not found.
        """
        offset: datetime | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            page = self.last_uploadings(
                counter_id, limit=page_size, datetime_offset=offset, source=source
            )
            for item in page:
                if item.uploading_id == uploading_id:
                    return item
            new = {item.uploading_id for item in page} - seen
            seen.update(new)
            if len(page) < page_size or not new:
                return None
            oldest = min(item.datetime for item in page)
            if not_before is not None and oldest < not_before:
                return None
            # The cursor is strictly-before with one-second precision: restart at
            # the oldest second plus one so uploads sharing it are not skipped,
            # unless the whole page is that one second.
            one_second = all(item.datetime == oldest for item in page)
            offset = oldest if one_second else oldest + timedelta(seconds=1)
        return None

    def counters(
        self, *, permission: Iterable[str] | None = None, per_page: int = 1000
    ) -> list[Counter]:
        """Return every counter the token can see, across all pages."""
        result: list[Counter] = []
        offset = 1
        while True:
            params: dict[str, Any] = {"offset": offset, "per_page": int(per_page)}
            if permission:
                params["permission"] = ",".join(permission)
            response, record = self._send(
                "counters",
                "GET",
                "/management/v1/counters",
                params=params,
                headers=self._headers(),
            )
            payload = self._json(response, record)
            try:
                page = [Counter.from_payload(item) for item in payload["counters"]]
                total = int(payload.get("rows", 0))
            except (KeyError, TypeError, ValueError):
                raise self._bad_payload(
                    record, "Answer has no valid 'counters'"
                ) from None
            result.extend(page)
            if not page or len(result) >= total:
                return result
            offset += len(page)

    def counter(self, counter_id: int) -> Counter:
        """Return one counter."""
        response, record = self._send(
            "counter",
            "GET",
            f"/management/v1/counter/{int(counter_id)}",
            headers=self._headers(),
            counter_id=int(counter_id),
        )
        payload = self._json(response, record)
        try:
            return Counter.from_payload(payload["counter"])
        except (KeyError, TypeError, ValueError):
            raise self._bad_payload(record, "Answer has no valid 'counter'") from None


def pkce_pair() -> tuple[str, str]:
    """Return a new PKCE ``(code_verifier, code_challenge)`` for method S256."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


class YandexOAuthClient(_HTTPClient):
    """Yandex ID: the authorize URL, code exchange, refresh and account info."""

    def __init__(
        self,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        *,
        login_url: str = "https://login.yandex.ru",
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
        on_attempt: AttemptCallback | None = None,
    ) -> None:
        """Prepare a client for one registered Yandex OAuth application."""
        super().__init__(
            oauth_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            session=session,
            on_attempt=on_attempt,
        )
        self.client_id = client_id
        self.__client_secret = client_secret
        self._login_url = login_url.rstrip("/")

    def __repr__(self) -> str:
        return (
            f"YandexOAuthClient(oauth_url={self._base_url!r}, "
            f"client_id={self.client_id!r})"
        )

    def _secrets(self) -> tuple[str, ...]:
        return (self.__client_secret,)

    def authorize_url(
        self,
        *,
        redirect_uri: str,
        scope: Iterable[str],
        state: str,
        code_challenge: str | None = None,
        code_challenge_method: str = "S256",
        force_confirm: bool = False,
        login_hint: str | None = None,
    ) -> str:
        """Return the URL to send the user's browser to."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scope),
            "state": state,
        }
        if code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = code_challenge_method
        if force_confirm:
            params["force_confirm"] = "yes"
        if login_hint:
            params["login_hint"] = login_hint
        return f"{self._base_url}/authorize?{urlencode(params)}"

    def exchange_code(
        self,
        code: str,
        *,
        code_verifier: str | None = None,
        redirect_uri: str | None = None,
    ) -> TokenSet:
        """Exchange a code for tokens; raise ``OAuthError`` if refused."""
        form = {"grant_type": "authorization_code", "code": code}
        if code_verifier:
            form["code_verifier"] = code_verifier
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        return self._token_request("oauth_exchange_code", form, (code, code_verifier))

    def refresh(self, refresh_token: str) -> TokenSet:
        """Return a fresh TokenSet; the refresh token in it replaces the old one."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token_request("oauth_refresh", form, (refresh_token,))

    def account_info(self, access_token: str) -> AccountInfo:
        """Return the login and uid of the account that owns ``access_token``."""
        try:
            response, record = self._send(
                "oauth_account_info",
                "GET",
                "/info",
                params={"format": "json"},
                headers={"Authorization": f"OAuth {access_token}"},
                base_url=self._login_url,
                secrets_in_call=(access_token,),
            )
        except (MetrikaUnauthorizedError, MetrikaInvalidTokenError) as exc:
            raise OAuthError(
                "The token is invalid or revoked",
                error="invalid_token",
                status=exc.status,
                body_sent=True,
                response_excerpt=exc.response_excerpt,
                attempt=exc.attempt,
            ) from None
        payload = self._json(response, record)
        try:
            return AccountInfo(
                login=str(payload["login"]),
                uid=str(payload["id"]),
                client_id=str(payload.get("client_id") or ""),
            )
        except (KeyError, TypeError):
            raise self._bad_payload(record, "Answer has no 'login'") from None

    def _token_request(
        self, operation: str, form: dict[str, str], secrets_in_call: tuple
    ) -> TokenSet:
        credentials = f"{self.client_id}:{self.__client_secret}".encode()
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        secrets_in_call = tuple(s for s in secrets_in_call if s)
        try:
            response, record = self._send(
                operation,
                "POST",
                "/token",
                data=urlencode(form),
                headers=headers,
                secrets_in_call=secrets_in_call,
            )
        except (
            MetrikaBadRequestError,
            MetrikaUnauthorizedError,
            MetrikaInvalidTokenError,
            MetrikaAccessDeniedError,
        ) as exc:
            raise self._oauth_error(exc, secrets_in_call) from None
        received_at = datetime.now(UTC)
        payload = self._json(response, record)
        try:
            return TokenSet.from_payload(payload, received_at)
        except (KeyError, TypeError, ValueError):
            raise self._bad_payload(record, "Answer has no 'access_token'") from None

    def _oauth_error(
        self, exc: MetrikaError, secrets_in_call: tuple[str, ...]
    ) -> OAuthError:
        return OAuthError(
            self._redact(exc.message, secrets_in_call),
            error=exc.error_type or "invalid_request",
            status=exc.status,
            body_sent=True,
            response_excerpt=exc.response_excerpt,
            attempt=exc.attempt,
        )
