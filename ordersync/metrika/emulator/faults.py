"""Faults the emulator injects on demand, for the next N requests or always."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

METRIKA_ENDPOINTS = frozenset({"upload", "last_uploadings", "counters", "counter"})
ENDPOINTS = METRIKA_ENDPOINTS | {"authorize", "token", "info"}
KINDS = frozenset(
    {
        # Answer with an error status and body (429/420 quotas, 503, 504, ...).
        "status",
        # Answer 403 invalid_token as if the token had been revoked.
        "invalid_token",
        # Process normally, then wait ``delay`` seconds before answering.
        "slow",
        # Close the connection before reading the request body.
        "drop_before_body",
        # Read and process the request (an upload is stored), then close unanswered.
        "drop_after_body",
        # Validate and store nothing, answer 200 with api_validation_status FAILED.
        "failed",
    }
)
DEFAULT_ERROR_TYPES = {
    420: "quota_requests_by_ip",
    429: "quota_requests_by_ip",
    500: "backend_error",
    503: "backend_error",
    504: "timeout",
}
DEFAULT_MESSAGES = {
    "quota_requests_by_ip": "Quota exceeded: too many requests from this IP",
    "quota_parallel_requests": "Quota exceeded: too many parallel requests",
    "quota_requests_by_uid": "Quota exceeded: daily request limit for the user",
    "quota_requests_by_counter_id": "Quota exceeded: request limit for the counter",
    "backend_error": "Internal error",
    "timeout": "Query execution time exceeded",
    "invalid_token": "Invalid oauth_token",
}
_ids = itertools.count(1)


@dataclass
class Fault:
    """One fault rule; empty selectors match everything on Metrika endpoints."""

    kind: str
    endpoint: str | None = None
    counter_id: int | None = None
    token: str | None = None
    login: str | None = None
    # None means always; otherwise the rule is used up after this many matches.
    times: int | None = 1
    status: int = 503
    error_type: str | None = None
    message: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    id: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a rule from admin JSON; raise ValueError on a bad one."""
        unknown = set(data) - {f for f in cls.__dataclass_fields__ if f != "id"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        fault = cls(**data)
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        if fault.endpoint is not None and fault.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {fault.endpoint!r}")
        if fault.kind == "invalid_token":
            fault.status, fault.error_type = 403, "invalid_token"
        if fault.kind == "status" and fault.error_type is None:
            fault.error_type = DEFAULT_ERROR_TYPES.get(fault.status, "backend_error")
        if fault.retry_after is not None:
            fault.retry_after = str(fault.retry_after)
        fault.id = next(_ids)
        return fault

    def matches(
        self,
        endpoint: str,
        counter_id: int | None,
        token: str | None,
        login: str | None,
    ) -> bool:
        """Return True when this rule applies to the request."""
        if self.endpoint is None and endpoint not in METRIKA_ENDPOINTS:
            return False
        return (
            (self.endpoint is None or self.endpoint == endpoint)
            and (self.counter_id is None or self.counter_id == counter_id)
            and (self.token is None or self.token == token)
            and (self.login is None or self.login == login)
        )

    def to_json(self) -> dict[str, Any]:
        """Return the rule as admin JSON."""
        return asdict(self)
