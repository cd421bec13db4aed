"""The emulator's state: accounts, tokens, counters, uploads, orders and quotas.

Everything is in memory, loaded from a seed dict (see ``demo_seed.json``), and
guarded by one lock; long work (reading an upload) happens outside it.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
import uuid
from collections import Counter as Tally
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from ordersync.metrika.emulator.faults import Fault

LIST_FIELDS = ("client_ids", "emails", "phones", "emails_md5", "phones_md5", "goals")
SCALAR_FIELDS = ("client_uniq_id", "order_status", "revenue", "cost", "currency")
READ_SCOPES = frozenset({"metrika:read", "metrika:write"})
UPLOAD_SCOPES = frozenset({"metrika:offline_data", "metrika:write"})
UPLOAD_PERMISSIONS = frozenset({"own", "edit"})
REQUEST_LOG_SIZE = 5000


@dataclass
class Settings:
    """Switches for behaviour the documentation leaves open (CONTRACT.md)."""

    # "split": unparsable file → 400 invalid_uploading, bad rows → 200 FAILED;
    # "400": both → 400; "failed": both → 200 FAILED.
    validation_failure: str = "split"
    # "space": 2021-03-11 16:56:02 (real payloads); "iso": 2022-12-29T18:02:01Z.
    datetime_format: str = "space"
    # Zone of "space" datetimes, in answers and in datetime_offset.
    datetime_tz: str = "UTC"
    # "current": site2.site and true/false; "legacy": site and 1/0.
    counter_payload: str = "current"
    # Status for enforced quotas: 429 (RU docs) or 420 (EN docs).
    quota_status: int = 429
    parallel_limit: int | None = 3
    rps_per_ip: int | None = None
    validate_rows: bool = True
    store_orders: bool = True
    max_stored_rows: int = 200_000
    max_upload_bytes: int = 1024**3
    code_ttl: int = 600

    def update(self, data: dict[str, Any]) -> None:
        """Apply admin JSON; raise ValueError on unknown keys or values."""
        known = {f.name for f in fields(self)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        choices = {
            "validation_failure": {"split", "400", "failed"},
            "datetime_format": {"space", "iso"},
            "counter_payload": {"current", "legacy"},
            "quota_status": {420, 429},
        }
        for key, value in data.items():
            if key in choices and value not in choices[key]:
                raise ValueError(f"{key} must be one of {sorted(choices[key])}")
            setattr(self, key, value)


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    name: str = "OrderSync"
    # Empty means: accept any loopback redirect URI (handy for local demos).
    redirect_uris: list[str] = field(default_factory=list)
    scopes: list[str] = field(
        default_factory=lambda: ["metrika:read", "metrika:offline_data"]
    )
    token_ttl: int = 365 * 86400


@dataclass
class Account:
    login: str
    uid: str
    daily_limit: int = 5000


@dataclass
class Token:
    access_token: str
    login: str
    client_id: str = ""
    scopes: list[str] = field(default_factory=list)
    expires_at: float | None = None
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class CounterRecord:
    id: int
    name: str
    site: str
    time_zone_name: str
    owner_login: str
    # login → "edit" | "view" | ...; the owner has "own".
    grants: dict[str, str] = field(default_factory=dict)
    status: str = "Active"
    gdpr_agreement_accepted: bool = True
    create_time: str = "2024-01-15T10:00:00+03:00"


@dataclass
class UploadRecord:
    counter_id: int
    uploading_id: str
    created_at: float
    api_validation_status: str
    elements_count: int
    merge_mode: str = "SAVE"
    delimiter_type: str = "COMMA"
    login: str = ""
    source: str = "API"
    bytes: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    orders_stored: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    login: str
    redirect_uri: str
    scopes: list[str]
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def merge_order(
    existing: dict[str, Any] | None, row: dict[str, str], mode: str
) -> dict[str, Any]:
    """Return the stored order after applying one row in SAVE/UPDATE/APPEND mode."""
    incoming: dict[str, Any] = {}
    for name in (*SCALAR_FIELDS, *LIST_FIELDS):
        value = row.get(name)
        if value:
            incoming[name] = value.split(",") if name in LIST_FIELDS else value
    blank: dict[str, Any] = dict.fromkeys((*SCALAR_FIELDS, *LIST_FIELDS))
    if existing is None or mode == "SAVE":
        order = {"id": row.get("id") or None, **blank, **incoming}
        # The creation date of a known order never changes.
        order["create_date_time"] = (
            existing["create_date_time"] if existing else row["create_date_time"]
        )
        order["order_status"] = order["order_status"] or "PAID"
        return order
    order = copy.deepcopy(existing)
    for name, value in incoming.items():
        if mode == "APPEND" and name in LIST_FIELDS and order.get(name):
            order[name] = order[name] + [v for v in value if v not in order[name]]
        else:
            order[name] = value
    return order


class EmulatorState:
    """All mutable emulator state; every public method takes the lock."""

    def __init__(self, seed: dict[str, Any]):
        self.lock = threading.RLock()
        self.load(seed)

    def load(self, seed: dict[str, Any]) -> None:
        """Replace everything with the contents of ``seed``."""
        with self.lock:
            self.seed = copy.deepcopy(seed)
            self.settings = Settings()
            self.settings.update(seed.get("settings", {}))
            self.clock_offset = 0.0
            now = time.time()
            self.apps = {
                a["client_id"]: OAuthApp(**a) for a in seed.get("oauth_clients", [])
            }
            self.accounts = {a["login"]: Account(**a) for a in seed.get("accounts", [])}
            self.tokens: dict[str, Token] = {}
            for raw in seed.get("tokens", []):
                raw = dict(raw)
                expires_in = raw.pop("expires_in", None)
                raw["expires_at"] = (
                    now + expires_in
                    if expires_in is not None
                    else _timestamp(raw.get("expires_at"))
                )
                self.tokens[raw["access_token"]] = Token(**raw)
            self.counters = {
                int(c["id"]): CounterRecord(**c) for c in seed.get("counters", [])
            }
            self.uploads: list[UploadRecord] = []
            for raw in seed.get("uploadings", []):
                raw = dict(raw)
                raw["created_at"] = _timestamp(raw["created_at"])
                self.uploads.append(UploadRecord(**raw))
            self.orders: dict[int, dict[str, dict]] = {}
            self.anonymous_orders: dict[int, list[dict]] = {}
            self.codes: dict[str, AuthCode] = {}
            self.faults: list[Fault] = []
            self.reset_counters()

    def reset_counters(self) -> None:
        """Forget request counts and quota usage."""
        with self.lock:
            self.request_log: deque[dict] = deque(maxlen=REQUEST_LOG_SIZE)
            self.by_endpoint: Tally[str] = Tally()
            self.by_counter: dict[int, Tally[str]] = {}
            self.in_flight: Tally[str] = Tally()
            self.parallel_peak: Tally[str] = Tally()
            self.daily_used: dict[str, tuple[str, int]] = {}
            self.ip_window: dict[str, deque[float]] = {}

    def now(self) -> float:
        """Return the emulator clock (wall clock plus an admin-set offset)."""
        return time.time() + self.clock_offset

    # Tokens and permissions

    def valid_token(self, access_token: str | None) -> Token | None:
        """Return the token if it is known, unrevoked and unexpired."""
        with self.lock:
            token = self.tokens.get(access_token or "")
            if token is None or token.revoked or token.login not in self.accounts:
                return None
            if token.expires_at is not None and token.expires_at <= self.now():
                return None
            return token

    def permission(self, counter: CounterRecord, login: str) -> str | None:
        """Return the login's permission on a counter, or None."""
        if counter.owner_login == login:
            return "own"
        return counter.grants.get(login)

    def revoke(self, *, access_token: str | None = None, login: str | None = None):
        """Revoke one token, or every token of a login (a password change)."""
        with self.lock:
            for token in self.tokens.values():
                if token.access_token == access_token or token.login == login:
                    token.revoked = True

    # Faults, counting and quotas

    def add_faults(self, items: list[dict[str, Any]]) -> list[Fault]:
        """Add fault rules from admin JSON."""
        faults = [Fault.from_json(item) for item in items]
        with self.lock:
            self.faults.extend(faults)
        return faults

    def take_fault(
        self,
        endpoint: str,
        counter_id: int | None,
        token: str | None,
        login: str | None,
    ) -> Fault | None:
        """Return the first matching fault and use up one of its times."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(endpoint, counter_id, token, login):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return copy.copy(fault)
        return None

    def record_request(self, entry: dict[str, Any]) -> None:
        """Count one finished request."""
        with self.lock:
            self.request_log.append(entry)
            self.by_endpoint[entry["endpoint"]] += 1
            if entry.get("counter_id") is not None:
                tally = self.by_counter.setdefault(entry["counter_id"], Tally())
                tally[entry["endpoint"]] += 1

    def enter(self, login: str) -> bool:
        """Start a request for ``login``; False when the parallel limit is hit."""
        with self.lock:
            limit = self.settings.parallel_limit
            if limit is not None and self.in_flight[login] >= limit:
                return False
            self.in_flight[login] += 1
            self.parallel_peak[login] = max(
                self.parallel_peak[login], self.in_flight[login]
            )
            return True

    def leave(self, login: str) -> None:
        """Finish a request started with ``enter``."""
        with self.lock:
            self.in_flight[login] -= 1

    def charge_daily(self, login: str) -> bool:
        """Count a request against the daily quota; False when it is exhausted."""
        with self.lock:
            # The quota resets at 00:00 GMT.
            day = datetime.fromtimestamp(self.now(), UTC).date().isoformat()
            used_day, used = self.daily_used.get(login, (day, 0))
            if used_day != day:
                used = 0
            account = self.accounts[login]
            if used >= account.daily_limit:
                return False
            self.daily_used[login] = (day, used + 1)
            return True

    def set_daily_used(self, login: str, used: int) -> None:
        """Set today's request count for a login (to test an exhausted quota)."""
        with self.lock:
            day = datetime.fromtimestamp(self.now(), UTC).date().isoformat()
            self.daily_used[login] = (day, used)

    def charge_ip(self, ip: str) -> bool:
        """Count a request against the per-IP rate; False when over it."""
        with self.lock:
            limit = self.settings.rps_per_ip
            if limit is None:
                return True
            window = self.ip_window.setdefault(ip, deque())
            now = time.monotonic()
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                return False
            window.append(now)
            return True

    # Uploads and orders

    def add_upload(self, record: UploadRecord, rows: list[dict] | None) -> None:
        """Store an upload and, when it passed, apply its rows to the order store."""
        with self.lock:
            self.uploads.append(record)
            if record.api_validation_status != "PASSED" or rows is None:
                return
            if not self.settings.store_orders:
                return
            store = self.orders.setdefault(record.counter_id, {})
            anonymous = self.anonymous_orders.setdefault(record.counter_id, [])
            for row in rows:
                order_id = row.get("id")
                if not order_id:
                    # Without an id every row is a new order: the duplicate risk.
                    anonymous.append(merge_order(None, row, "SAVE"))
                    continue
                store[order_id] = merge_order(
                    store.get(order_id), row, record.merge_mode
                )
            record.orders_stored = True

    def uploads_for(
        self, counter_id: int, before: float | None, source: str | None, limit: int
    ) -> list[UploadRecord]:
        """Return a counter's uploads, newest first, strictly before ``before``."""
        with self.lock:
            found = [
                u
                for u in self.uploads
                if u.counter_id == counter_id
                and (before is None or int(u.created_at) < before)
                and (not source or u.source.upper() == source.upper())
            ]
        found.sort(key=lambda u: u.created_at, reverse=True)
        return found[:limit]

    # OAuth

    def issue_code(self, **kwargs: Any) -> AuthCode:
        """Create a 7-digit authorization code that lives ``code_ttl`` seconds."""
        with self.lock:
            while True:
                code = str(secrets.randbelow(9_000_000) + 1_000_000)
                if code not in self.codes:
                    break
            auth_code = AuthCode(
                code=code, expires_at=self.now() + self.settings.code_ttl, **kwargs
            )
            self.codes[code] = auth_code
            return auth_code

    def issue_token(self, app: OAuthApp, login: str, scopes: list[str]) -> Token:
        """Create an access/refresh token pair for a login."""
        with self.lock:
            token = Token(
                access_token="y0_" + secrets.token_urlsafe(42),
                login=login,
                client_id=app.client_id,
                scopes=list(scopes),
                expires_at=self.now() + app.token_ttl,
                refresh_token="1:" + secrets.token_urlsafe(48),
            )
            self.tokens[token.access_token] = token
            return token

    def token_by_refresh(self, refresh_token: str) -> Token | None:
        """Return the live token that ``refresh_token`` belongs to."""
        with self.lock:
            for token in self.tokens.values():
                if token.refresh_token == refresh_token:
                    return token
        return None

    def new_upload_id(self) -> str:
        """Return a UUID, the form real uploading ids take."""
        return str(uuid.uuid4())

    # Inspection

    def to_json(self) -> dict[str, Any]:
        """Return the state (orders excluded, see ``orders_json``) for the admin API."""
        with self.lock:
            return {
                "settings": asdict(self.settings),
                "clock_offset": self.clock_offset,
                "oauth_clients": [asdict(a) for a in self.apps.values()],
                "accounts": [
                    {
                        **asdict(a),
                        "daily_used": self.daily_used.get(a.login, ("", 0))[1],
                    }
                    for a in self.accounts.values()
                ],
                "tokens": [
                    {**asdict(t), "expires_at": _iso(t.expires_at)}
                    for t in self.tokens.values()
                ],
                "counters": [asdict(c) for c in self.counters.values()],
                "uploadings": [
                    {**asdict(u), "created_at": _iso(u.created_at)}
                    for u in self.uploads
                ],
                "codes": [
                    {**asdict(c), "expires_at": _iso(c.expires_at)}
                    for c in self.codes.values()
                ],
                "faults": [f.to_json() for f in self.faults],
            }

    def orders_json(self, counter_id: int) -> dict[str, Any]:
        """Return what Metrika would hold for a counter."""
        with self.lock:
            return {
                "orders": copy.deepcopy(self.orders.get(counter_id, {})),
                "anonymous_orders": copy.deepcopy(
                    self.anonymous_orders.get(counter_id, [])
                ),
            }

    def requests_json(self) -> dict[str, Any]:
        """Return request counts per endpoint and counter, and the recent log."""
        with self.lock:
            return {
                "total": sum(self.by_endpoint.values()),
                "by_endpoint": dict(self.by_endpoint),
                "by_counter": {str(k): dict(v) for k, v in self.by_counter.items()},
                "parallel_peak": dict(self.parallel_peak),
                "in_flight": {k: v for k, v in self.in_flight.items() if v},
                "log": list(self.request_log)[-200:],
            }
