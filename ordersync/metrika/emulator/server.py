"""The emulator's HTTP server: Metrika API, Yandex OAuth, /info and the admin API.

Standard library only. One port serves every path, so ``METRIKA_API_URL``,
``YANDEX_OAUTH_URL`` and ``YANDEX_LOGIN_URL`` can all point at it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from ordersync.metrika.emulator.csvcheck import validate_simple_orders
from ordersync.metrika.emulator.faults import DEFAULT_MESSAGES, Fault
from ordersync.metrika.emulator.multipart import BodyReader, MultipartReader
from ordersync.metrika.emulator.state import (
    READ_SCOPES,
    UPLOAD_PERMISSIONS,
    UPLOAD_SCOPES,
    CounterRecord,
    EmulatorState,
    OAuthApp,
    Token,
    UploadRecord,
)
from ordersync.metrika.errors import MultipartFormatError

logger = logging.getLogger(__name__)

DEMO_SEED = Path(__file__).with_name("demo_seed.json")
METRIKA_SCOPES = READ_SCOPES | UPLOAD_SCOPES
MULTIPART_SLACK = 64 * 1024
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"/cdp/api/v1/counter/(\d+)/data/simple_orders"), "upload"),
    (
        "GET",
        re.compile(r"/cdp/api/v1/counter/(\d+)/last_uploadings"),
        "last_uploadings",
    ),
    ("GET", re.compile(r"/management/v1/counters"), "counters"),
    ("GET", re.compile(r"/management/v1/counter/(\d+)"), "counter"),
]


class _DropConnectionError(Exception):
    """Raised to close the connection without answering."""


class _AnswerError(Exception):
    """Raised to answer with a Metrika error body."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        retry_after: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.retry_after = retry_after


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    endpoint: str
    counter_id: int | None
    body: BodyReader
    token: str | None = None
    auth_malformed: bool = False
    login: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def _load_seed(seed: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(seed, dict):
        return seed
    return json.loads(Path(seed or DEMO_SEED).read_text(encoding="utf-8"))


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that owns one ``EmulatorState``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], state: EmulatorState):
        super().__init__(address, EmulatorHandler)
        self.state = state

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8765``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Dropped connections are part of the job; log, don't print tracebacks.
        logger.debug("connection error from %s", client_address, exc_info=True)


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MetrikaEmulator/1.0"
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    # Plumbing

    @property
    def state(self) -> EmulatorState:
        return self.server.state

    def _body_reader(self) -> BodyReader:
        length = self.headers.get("Content-Length")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        return BodyReader(self.rfile, int(length) if length else None, chunked)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(
        self, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _send_html(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

    def _drop(self) -> None:
        # SO_LINGER 0 makes close() send RST at once, like a crashed proxy.
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
        except OSError:
            pass

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = self._body_reader()
        path = parts.path.rstrip("/") or "/"
        try:
            if path.startswith("/_emulator/"):
                self._admin(method, path.removeprefix("/_emulator/"), query, body)
            elif path == "/authorize" and method in ("GET", "POST"):
                self._oauth(method, "authorize", query, body, self._authorize)
            elif path == "/token" and method == "POST":
                self._oauth(method, "token", query, body, self._token)
            elif path == "/info" and method == "GET":
                self._oauth(method, "info", query, body, self._info)
            elif path == "/verification_code":
                body.drain()
                self._send_html(200, VERIFICATION_PAGE)
            else:
                self._api(method, path, query, body)
        except _DropConnectionError:
            self._drop()
        except ConnectionError:
            # The client went away mid-body; there is nobody to answer.
            self.close_connection = True

    # Metrika API

    def _api(
        self, method: str, path: str, query: dict[str, str], body: BodyReader
    ) -> None:
        for route_method, pattern, route_endpoint in ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                endpoint = route_endpoint
                counter_id = int(match.group(1)) if match.groups() else None
                break
        else:
            body.drain()
            self._send_json(404, _error_body(404, "not_found", "Resource not found"))
            return
        request = Request(method, path, query, endpoint, counter_id, body)
        self._read_auth(request)
        started = time.monotonic()
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "method": method,
            "endpoint": endpoint,
            "path": path,
            "counter_id": counter_id,
            "login": request.login,
            "status": None,
            "fault": None,
        }
        try:
            status, payload, headers = self._api_answer(request, entry)
            entry["status"] = status
            self._send_json(status, payload, headers)
        except _DropConnectionError:
            entry["status"] = "dropped"
            raise
        finally:
            entry["duration"] = round(time.monotonic() - started, 4)
            entry["bytes"] = body.bytes_read
            self.state.record_request(entry)

    def _read_auth(self, request: Request) -> None:
        header = self.headers.get("Authorization")
        if header is None:
            return
        scheme, _, value = header.strip().partition(" ")
        if scheme != "OAuth" or not value.strip():
            request.auth_malformed = True
            return
        request.token = value.strip()
        token = self.state.valid_token(request.token)
        request.login = token.login if token else None

    def _api_answer(
        self, request: Request, entry: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        state = self.state
        fault = state.take_fault(
            request.endpoint, request.counter_id, request.token, request.login
        )
        entry["fault"] = fault.kind if fault else None
        try:
            if fault and fault.kind == "drop_before_body":
                raise _DropConnectionError
            if fault and fault.kind in ("status", "invalid_token"):
                raise _fault_answer(fault)
            if not state.charge_ip(self.client_address[0]):
                raise self._quota("quota_requests_by_ip", retry_after="1")
            if request.token is None or request.auth_malformed:
                raise _AnswerError(401, "unauthorized", "Unauthorized")
            token = state.valid_token(request.token)
            if token is None:
                raise _AnswerError(403, "invalid_token", "Invalid oauth_token")
        except _AnswerError as answer:
            request.body.drain()
            return _answer_payload(answer)
        if not state.enter(token.login):
            request.body.drain()
            return _answer_payload(self._quota("quota_parallel_requests"))
        try:
            try:
                if not state.charge_daily(token.login):
                    raise self._quota("quota_requests_by_uid")
                handler = getattr(self, f"_api_{request.endpoint}")
                status, payload = handler(request, token, fault)
            except _AnswerError as answer:
                status, payload, headers = _answer_payload(answer)
            else:
                headers = {}
            request.body.drain()
            if fault and fault.kind == "slow":
                time.sleep(fault.delay)
            if fault and fault.kind == "drop_after_body":
                raise _DropConnectionError
            return status, payload, headers
        finally:
            state.leave(token.login)

    def _quota(self, error_type: str, retry_after: str | None = None) -> _AnswerError:
        return _AnswerError(
            self.state.settings.quota_status,
            error_type,
            DEFAULT_MESSAGES[error_type],
            retry_after,
        )

    def _counter_for(
        self, request: Request, token: Token, scopes: frozenset[str]
    ) -> tuple[CounterRecord, str]:
        counter = self.state.counters.get(request.counter_id or 0)
        if counter is None or counter.status == "Deleted":
            raise _AnswerError(404, "not_found", "Counter not found")
        permission = self.state.permission(counter, token.login)
        if permission is None:
            raise _AnswerError(403, "access_denied", "Access denied")
        if not scopes & set(token.scopes):
            raise _AnswerError(
                403, "access_denied", "Access denied: the token lacks the scope"
            )
        return counter, permission

    def _api_counters(
        self, request: Request, token: Token, fault: Fault | None
    ) -> tuple[int, Any]:
        if not READ_SCOPES & set(token.scopes):
            raise _AnswerError(403, "access_denied", "Access denied: metrika:read")
        offset = _int_param(request.query, "offset", 1, minimum=1)
        per_page = _int_param(request.query, "per_page", 1000, minimum=1)
        wanted = {
            p.strip()
            for p in request.query.get("permission", "").split(",")
            if p.strip()
        }
        status_filter = request.query.get("status", "Active")
        with self.state.lock:
            visible = []
            for counter in sorted(self.state.counters.values(), key=lambda c: c.id):
                permission = self.state.permission(counter, token.login)
                if permission is None or counter.status != status_filter:
                    continue
                if wanted and permission not in wanted:
                    continue
                visible.append(self._counter_payload(counter, permission))
        page = visible[offset - 1 : offset - 1 + per_page]
        return 200, {"rows": len(visible), "counters": page}

    def _api_counter(
        self, request: Request, token: Token, fault: Fault | None
    ) -> tuple[int, Any]:
        counter, permission = self._counter_for(request, token, READ_SCOPES)
        return 200, {"counter": self._counter_payload(counter, permission)}

    def _api_last_uploadings(
        self, request: Request, token: Token, fault: Fault | None
    ) -> tuple[int, Any]:
        self._counter_for(request, token, METRIKA_SCOPES)
        limit = _int_param(request.query, "limit", 10, minimum=1, maximum=1000)
        before = None
        if request.query.get("datetime_offset"):
            before = self._parse_offset(request.query["datetime_offset"])
        uploads = self.state.uploads_for(
            request.counter_id or 0, before, request.query.get("source"), limit
        )
        return 200, {"uploadings": [self._uploading_payload(u) for u in uploads]}

    def _api_upload(
        self, request: Request, token: Token, fault: Fault | None
    ) -> tuple[int, Any]:
        settings = self.state.settings
        counter, permission = self._counter_for(request, token, UPLOAD_SCOPES)
        if permission not in UPLOAD_PERMISSIONS:
            raise _AnswerError(
                403, "access_denied", "Access denied: edit permission is required"
            )
        merge_mode = request.query.get("merge_mode", "").upper()
        if not merge_mode:
            raise _AnswerError(
                400, "missing_parameter", "Required parameter merge_mode is missing"
            )
        if merge_mode not in ("SAVE", "UPDATE", "APPEND"):
            raise _AnswerError(
                400, "invalid_parameter", f"Invalid merge_mode value '{merge_mode}'"
            )
        delimiter = request.query.get("delimiter_type", "COMMA").upper()
        if delimiter not in ("COMMA", "SEMICOLON"):
            raise _AnswerError(
                400, "invalid_parameter", f"Invalid delimiter_type value '{delimiter}'"
            )
        content_type = self.headers.get("Content-Type", "")
        boundary = re.search(r'boundary="?([^";]+)"?', content_type)
        if not content_type.startswith("multipart/form-data") or not boundary:
            raise _AnswerError(
                400, "invalid_uploading", "The request must be multipart/form-data"
            )
        length = int(self.headers.get("Content-Length") or 0)
        if length > settings.max_upload_bytes + MULTIPART_SLACK:
            raise _AnswerError(400, "invalid_uploading", "The file is larger than 1 GB")
        report = None
        size = 0
        try:
            for part in MultipartReader(request.body, boundary.group(1)).parts():
                if part.name != "file" or report is not None:
                    continue
                text = io.TextIOWrapper(
                    io.BufferedReader(part, 256 * 1024), encoding="utf-8", newline=""
                )
                report = validate_simple_orders(
                    text,
                    delimiter_type=delimiter,
                    zone=ZoneInfo(counter.time_zone_name),
                    now=datetime.fromtimestamp(self.state.now(), UTC),
                    validate_rows=settings.validate_rows,
                    keep_rows=settings.max_stored_rows if settings.store_orders else 0,
                )
                part.drain()
                size = part.bytes_read
        except MultipartFormatError as exc:
            raise _AnswerError(400, "invalid_uploading", str(exc)) from None
        if report is None:
            raise _AnswerError(
                400, "invalid_uploading", "The request has no 'file' part"
            )
        if size > settings.max_upload_bytes:
            raise _AnswerError(400, "invalid_uploading", "The file is larger than 1 GB")
        mode = settings.validation_failure
        if report.structure_error and mode != "failed":
            raise _AnswerError(400, "invalid_uploading", report.structure_error)
        if report.error_count and mode == "400":
            raise _AnswerError(400, "invalid_uploading", report.errors[0])
        passed = report.passed and not (fault and fault.kind == "failed")
        errors = list(report.errors)
        if report.structure_error:
            errors.insert(0, report.structure_error)
        if fault and fault.kind == "failed":
            errors.insert(0, "FAILED forced by an emulator fault")
        record = UploadRecord(
            counter_id=counter.id,
            uploading_id=self.state.new_upload_id(),
            created_at=self.state.now(),
            api_validation_status="PASSED" if passed else "FAILED",
            elements_count=report.rows,
            merge_mode=merge_mode,
            delimiter_type=delimiter,
            login=token.login,
            bytes=size,
            error_count=report.error_count + (0 if passed else 1),
            errors=errors,
        )
        self.state.add_upload(record, report.orders)
        return 200, {"uploading": self._uploading_payload(record)}

    def _parse_offset(self, value: str) -> float:
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _AnswerError(
                400, "invalid_parameter", f"Invalid datetime_offset value '{value}'"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(self.state.settings.datetime_tz))
        return moment.timestamp()

    def _format_datetime(self, timestamp: float) -> str:
        if self.state.settings.datetime_format == "iso":
            moment = datetime.fromtimestamp(int(timestamp), UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        zone = ZoneInfo(self.state.settings.datetime_tz)
        return datetime.fromtimestamp(int(timestamp), zone).strftime(
            "%Y-%m-%d %H:%M:%S"
        )

    def _uploading_payload(self, upload: UploadRecord) -> dict[str, Any]:
        return {
            "uploading_id": upload.uploading_id,
            "datetime": self._format_datetime(upload.created_at),
            "api_validation_status": upload.api_validation_status,
            "elements_count": upload.elements_count,
            "entity_type": "SYSTEM",
            "uploading_format": "CSV",
            "uploading_source": upload.source,
        }

    def _counter_payload(self, counter: CounterRecord, permission: str) -> dict:
        now = datetime.fromtimestamp(self.state.now(), UTC)
        offset = ZoneInfo(counter.time_zone_name).utcoffset(now.replace(tzinfo=None))
        payload: dict[str, Any] = {
            "id": counter.id,
            "status": counter.status,
            "owner_login": counter.owner_login,
            "activity_status": "low",
            "name": counter.name,
            "type": "simple",
            "favorite": False,
            "permission": permission,
            "create_time": counter.create_time,
            "time_zone_name": counter.time_zone_name,
            "time_zone_offset": int(offset.total_seconds() // 60) if offset else 0,
            "source": "system",
            "site2": {"site": counter.site},
            "gdpr_agreement_accepted": counter.gdpr_agreement_accepted,
            "mirrors2": [],
        }
        if self.state.settings.counter_payload == "legacy":
            # Older payloads: a plain "site", site2 with a domain, 0/1 booleans.
            payload["site"] = counter.site
            payload["site2"] = {"site": counter.site, "domain": counter.site}
            payload["favorite"] = 0
            payload["gdpr_agreement_accepted"] = int(counter.gdpr_agreement_accepted)
            payload["code_status"] = "CS_OK"
        return payload

    # Yandex OAuth and login.yandex.ru/info

    def _oauth(
        self,
        method: str,
        endpoint: str,
        query: dict[str, str],
        body: BodyReader,
        handler: Callable[[str, dict[str, str], BodyReader], None],
    ) -> None:
        header = self.headers.get("Authorization", "")
        token = header[6:].strip() if header.startswith("OAuth ") else None
        fault = self.state.take_fault(endpoint, None, token, None)
        status: Any = None
        try:
            if fault and fault.kind == "drop_before_body":
                raise _DropConnectionError
            if fault and fault.kind in ("status", "invalid_token"):
                body.drain()
                answer = _fault_answer(fault)
                status = answer.status
                if endpoint == "token":
                    payload = {"error": answer.error_type}
                    payload["error_description"] = answer.message
                    self._send_json(answer.status, payload)
                else:
                    self._send_json(*_answer_payload(answer))
                return
            if fault and fault.kind == "slow":
                time.sleep(fault.delay)
            if fault and fault.kind == "drop_after_body":
                body.drain()
                raise _DropConnectionError
            handler(method, query, body)
            status = "ok"
        except _DropConnectionError:
            status = "dropped"
            raise
        finally:
            self.state.record_request(
                {
                    "time": datetime.now(UTC).isoformat(),
                    "method": method,
                    "endpoint": endpoint,
                    "path": "/" + endpoint,
                    "counter_id": None,
                    "status": status,
                    "fault": fault.kind if fault else None,
                }
            )

    def _resolve_redirect(self, app: OAuthApp, redirect_uri: str) -> str | None:
        if app.redirect_uris:
            # Yandex ignores an unregistered redirect_uri and uses the first one.
            return (
                redirect_uri
                if redirect_uri in app.redirect_uris
                else (app.redirect_uris[0])
            )
        if urlsplit(redirect_uri).hostname in LOOPBACK_HOSTS:
            return redirect_uri
        return None

    def _authorize(self, method: str, query: dict[str, str], body: BodyReader) -> None:
        params = dict(query)
        if method == "POST":
            form = _read_small(body).decode("utf-8", "replace")
            params.update({k: v[-1] for k, v in parse_qs(form).items()})
        else:
            body.drain()
        app = self.state.apps.get(params.get("client_id", ""))
        if app is None:
            self._send_html(400, _page("Error", "<p>Unknown client_id.</p>"))
            return
        response_type = params.get("response_type", "")
        if response_type not in ("code", "token"):
            self._send_html(400, _page("Error", "<p>Unsupported response_type.</p>"))
            return
        redirect_uri = self._resolve_redirect(app, params.get("redirect_uri", ""))
        if redirect_uri is None:
            self._send_html(400, _page("Error", "<p>redirect_uri not allowed.</p>"))
            return
        state = params.get("state", "")
        scopes = params.get("scope", "").split() or list(app.scopes)
        method_name = params.get("code_challenge_method") or (
            "plain" if params.get("code_challenge") else ""
        )
        problem = None
        if not set(scopes) <= set(app.scopes):
            problem = ("invalid_scope", "The app may not request these scopes")
        elif params.get("code_challenge") and method_name not in ("S256", "plain"):
            problem = ("invalid_request", "Unsupported code_challenge_method")
        elif method == "POST" and params.get("decision") != "allow":
            problem = ("access_denied", "The user denied access")
        elif method == "POST" and params.get("login") not in self.state.accounts:
            problem = ("access_denied", "Unknown login")
        if problem:
            self._redirect(
                redirect_uri,
                {"error": problem[0], "error_description": problem[1], "state": state},
                fragment=response_type == "token",
            )
            return
        if method == "GET":
            self._send_html(200, self._consent_page(app, params, scopes))
            return
        login = params["login"]
        if response_type == "token":
            token = self.state.issue_token(app, login, scopes)
            self._redirect(
                redirect_uri,
                {
                    "access_token": token.access_token,
                    "token_type": "bearer",
                    "expires_in": app.token_ttl,
                    "state": state,
                },
                fragment=True,
            )
            return
        code = self.state.issue_code(
            client_id=app.client_id,
            login=login,
            redirect_uri=redirect_uri,
            scopes=scopes,
            code_challenge=params.get("code_challenge") or None,
            code_challenge_method=method_name or None,
        )
        self._redirect(redirect_uri, {"code": code.code, "state": state})

    def _redirect(
        self, target: str, params: dict[str, Any], fragment: bool = False
    ) -> None:
        params = {k: v for k, v in params.items() if v not in ("", None)}
        separator = "#" if fragment else ("&" if "?" in target else "?")
        self._send(
            302,
            b"",
            "text/plain",
            {"Location": f"{target}{separator}{urlencode(params)}"},
        )

    def _consent_page(
        self, app: OAuthApp, params: dict[str, str], scopes: list[str]
    ) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k not in ("decision", "login")
        )
        hint = params.get("login_hint")
        options = "".join(
            f'<option value="{html.escape(login)}"'
            f"{' selected' if login == hint else ''}>{html.escape(login)}</option>"
            for login in sorted(self.state.accounts)
        )
        scope_items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        content = (
            f"<p>The application <b>{html.escape(app.name)}</b> asks for access:</p>"
            f"<ul>{scope_items}</ul>"
            f'<form method="post" action="/authorize">{hidden}'
            f'<label>Account <select name="login">{options}</select></label> '
            '<button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="deny">Deny</button></form>'
        )
        return _page("Yandex ID (emulator)", content)

    def _token(self, method: str, query: dict[str, str], body: BodyReader) -> None:
        form_text = _read_small(body).decode("utf-8", "replace")
        form = {k: v[-1] for k, v in parse_qs(form_text).items()}
        try:
            status, payload = self._token_answer(form)
        except _AnswerError as error:
            status = error.status
            payload = {"error": error.error_type, "error_description": error.message}
        self._send_json(status, payload)

    def _token_answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            # With the header present, body credentials are ignored.
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
            except ValueError:
                raise _AnswerError(
                    400, "invalid_request", "Malformed Authorization header"
                ) from None
            client_id, _, secret = decoded.partition(":")
        app = self.state.apps.get(client_id or "")
        if app is None or app.client_secret != secret:
            raise _AnswerError(400, "invalid_client", "Client not found")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._grant_code(app, form)
        if grant_type == "refresh_token":
            return self._grant_refresh(app, form)
        raise _AnswerError(400, "unsupported_grant_type", "Unsupported grant_type")

    def _grant_code(self, app: OAuthApp, form: dict[str, str]) -> tuple[int, dict]:
        code_text = form.get("code")
        if not code_text:
            raise _AnswerError(400, "invalid_request", "code is required")
        if not re.fullmatch(r"\d{7}", code_text):
            raise _AnswerError(400, "bad_verification_code", "Invalid code")
        with self.state.lock:
            code = self.state.codes.get(code_text)
            if code is None or code.client_id != app.client_id:
                raise _AnswerError(400, "invalid_grant", "Invalid code")
            if code.used:
                raise _AnswerError(400, "invalid_grant", "Code has already been used")
            if code.expires_at <= self.state.now():
                raise _AnswerError(400, "invalid_grant", "Code has expired")
            if code.code_challenge:
                verifier = form.get("code_verifier") or ""
                if code.code_challenge_method == "S256":
                    digest = hashlib.sha256(
                        verifier.encode("ascii", "replace")
                    ).digest()
                    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                else:
                    computed = verifier
                if not verifier or computed != code.code_challenge:
                    raise _AnswerError(400, "invalid_grant", "Invalid code_verifier")
            code.used = True
            token = self.state.issue_token(app, code.login, code.scopes)
        return 200, {
            "token_type": "bearer",
            "access_token": token.access_token,
            "expires_in": app.token_ttl,
            "refresh_token": token.refresh_token,
            "scope": " ".join(token.scopes),
        }

    def _grant_refresh(self, app: OAuthApp, form: dict[str, str]) -> tuple[int, dict]:
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise _AnswerError(400, "invalid_request", "refresh_token is required")
        with self.state.lock:
            old = self.state.token_by_refresh(refresh_token)
            if (
                old is None
                or old.revoked
                or old.client_id != app.client_id
                or (old.expires_at is not None and old.expires_at <= self.state.now())
            ):
                raise _AnswerError(400, "invalid_grant", "Invalid refresh token")
            # The old refresh token dies; the old access token lives out its term.
            old.refresh_token = None
            token = self.state.issue_token(app, old.login, old.scopes)
        return 200, {
            "token_type": "bearer",
            "access_token": token.access_token,
            "expires_in": app.token_ttl,
            "refresh_token": token.refresh_token,
        }

    def _info(self, method: str, query: dict[str, str], body: BodyReader) -> None:
        body.drain()
        header = self.headers.get("Authorization", "")
        token_text = header[6:].strip() if header.startswith("OAuth ") else None
        token = self.state.valid_token(token_text)
        if token is None:
            self._send_json(401, {"error": "invalid_token"})
            return
        account = self.state.accounts[token.login]
        self._send_json(
            200,
            {
                "id": account.uid,
                "login": account.login,
                "client_id": token.client_id,
                "psuid": "1." + hashlib.sha256(account.uid.encode()).hexdigest()[:24],
            },
        )

    # Admin API

    def _admin(
        self, method: str, action: str, query: dict[str, str], body: BodyReader
    ) -> None:
        data: Any = None
        if method == "POST":
            raw = _read_small(body, 64 * 1024 * 1024)
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                self._send_json(400, {"error": "body must be JSON"})
                return
        else:
            body.drain()
        state = self.state
        try:
            result = self._admin_action(method, action, query, data, state)
        except (ValueError, KeyError, TypeError) as exc:
            self._send_json(400, {"error": str(exc)})
            return
        if result is None:
            self._send_json(404, {"error": f"no admin action {method} {action}"})
        else:
            self._send_json(200, result)

    def _admin_action(
        self,
        method: str,
        action: str,
        query: dict[str, str],
        data: Any,
        state: EmulatorState,
    ) -> Any:
        if (method, action) == ("GET", "state"):
            return state.to_json()
        if (method, action) == ("POST", "reset"):
            state.load(state.seed)
            return {"ok": True}
        if (method, action) == ("POST", "seed"):
            state.load(data)
            return {"ok": True}
        if (method, action) == ("GET", "faults"):
            return {"faults": [f.to_json() for f in state.faults]}
        if (method, action) == ("POST", "faults"):
            items = data if isinstance(data, list) else [data]
            return {"faults": [f.to_json() for f in state.add_faults(items)]}
        if (method, action) == ("DELETE", "faults"):
            with state.lock:
                state.faults.clear()
            return {"ok": True}
        if (method, action) == ("GET", "requests"):
            return state.requests_json()
        if (method, action) == ("DELETE", "requests"):
            state.reset_counters()
            return {"ok": True}
        if (method, action) == ("POST", "settings"):
            with state.lock:
                state.settings.update(data)
            return state.to_json()["settings"]
        if (method, action) == ("POST", "revoke"):
            state.revoke(access_token=data.get("access_token"), login=data.get("login"))
            return {"ok": True}
        if (method, action) == ("POST", "quota"):
            state.set_daily_used(data["login"], int(data["daily_used"]))
            return {"ok": True}
        if (method, action) == ("POST", "clock"):
            with state.lock:
                state.clock_offset += float(data.get("advance", 0))
            return {"clock_offset": state.clock_offset}
        if (method, action) == ("POST", "tokens"):
            raw = dict(data)
            expires_in = raw.pop("expires_in", None)
            raw["expires_at"] = (
                state.now() + expires_in if expires_in is not None else None
            )
            with state.lock:
                state.tokens[raw["access_token"]] = Token(**raw)
            return {"ok": True}
        if (method, action) == ("GET", "orders"):
            return state.orders_json(int(query["counter_id"]))
        return None


def _read_small(body: BodyReader, limit: int = 64 * 1024) -> bytes:
    """Return a small body (forms, admin JSON); drop what is beyond ``limit``."""
    chunks, size = [], 0
    for chunk in iter(body.read_block, b""):
        if size < limit:
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)[:limit]


def _error_body(status: int, error_type: str, message: str) -> dict[str, Any]:
    return {
        "errors": [{"error_type": error_type, "message": message}],
        "code": status,
        "message": message,
    }


def _answer_payload(answer: _AnswerError) -> tuple[int, Any, dict[str, str]]:
    headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
    body = _error_body(answer.status, answer.error_type, answer.message)
    return answer.status, body, headers


def _fault_answer(fault: Fault) -> _AnswerError:
    error_type = fault.error_type or "backend_error"
    message = fault.message or DEFAULT_MESSAGES.get(error_type, "Error")
    return _AnswerError(fault.status, error_type, message, fault.retry_after)


def _int_param(
    query: dict[str, str],
    name: str,
    default: int,
    *,
    minimum: int,
    maximum: int | None = None,
) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum or (maximum is not None and value > maximum):
        raise _AnswerError(400, "invalid_parameter", f"Invalid {name} value '{raw}'")
    return value


def _page(title: str, content: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{content}</body></html>"
    )


VERIFICATION_PAGE = _page(
    "Verification code",
    "<p>Copy the access token from this page's address (after "
    "<code>#access_token=</code>).</p>"
    "<pre id='t'></pre><script>document.getElementById('t').textContent="
    "new URLSearchParams(location.hash.slice(1)).get('access_token')||''</script>",
)


def make_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: str | Path | dict[str, Any] | None = None,
) -> EmulatorHTTPServer:
    """Return a bound (not yet serving) emulator; port 0 picks a free port."""
    return EmulatorHTTPServer((host, port), EmulatorState(_load_seed(seed)))


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: str | Path | dict[str, Any] | None = None,
    ready: Callable[[EmulatorHTTPServer], None] | None = None,
) -> None:
    """Run the emulator until interrupted; ``seed`` defaults to the demo seed."""
    server = make_server(host, port, seed)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class RunningEmulator:
    """An emulator serving from a background thread; a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: str | Path | dict[str, Any] | None = None,
    ):
        self.server = make_server(host, port, seed)
        self.url = self.server.url
        self.state = self.server.state
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="metrika-emulator",
            daemon=True,
        )

    def __enter__(self) -> RunningEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> RunningEmulator:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
