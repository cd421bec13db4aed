"""Typed results of the Metrika and Yandex OAuth clients, and their parsers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

UPLOAD_PERMISSIONS = frozenset({"own", "edit"})


class MergeMode(StrEnum):
    SAVE = "SAVE"
    UPDATE = "UPDATE"
    APPEND = "APPEND"


class Delimiter(StrEnum):
    COMMA = "COMMA"
    SEMICOLON = "SEMICOLON"


class ValidationStatus(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"


def parse_bool(value: Any) -> bool:
    """Return a payload boolean given as ``true/false``, ``1/0`` or their strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", ""}:
        return False
    if value is None:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_metrika_datetime(value: str, naive_tz: tzinfo = UTC) -> datetime:
    """Return an aware UTC datetime from either observed Metrika form.

    The docs show ``2022-12-29T18:02:01Z``; real payloads show ``2021-03-11 16:56:02``
    without a zone, which is read in ``naive_tz``.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    return parsed.astimezone(UTC)


def format_metrika_datetime(value: datetime, naive_tz: tzinfo = UTC) -> str:
    """Return ``yyyy-MM-dd HH:mm:ss`` in ``naive_tz``, the ``datetime_offset`` form."""
    if value.tzinfo is None:
        raise ValueError("datetime_offset must be timezone-aware")
    return value.astimezone(naive_tz).strftime("%Y-%m-%d %H:%M:%S")


def token_fingerprint(token: str) -> str:
    """Return a short non-reversible tag that tells tokens apart in logs and UIs."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Uploading:
    """One upload as Metrika reports it (``UploadingMetaExternal``)."""

    uploading_id: str
    datetime: datetime
    api_validation_status: ValidationStatus
    elements_count: int
    entity_type: str = ""
    uploading_format: str = ""
    uploading_source: str = ""

    @property
    def passed(self) -> bool:
        """Return True when Metrika validated the upload."""
        return self.api_validation_status == ValidationStatus.PASSED

    @classmethod
    def from_payload(
        cls, payload: Mapping[str, Any], naive_tz: tzinfo = UTC
    ) -> Uploading:
        """Build from one ``uploading`` object; raise KeyError/ValueError if bad."""
        return cls(
            uploading_id=str(payload["uploading_id"]),
            datetime=parse_metrika_datetime(str(payload["datetime"]), naive_tz),
            api_validation_status=ValidationStatus(
                str(payload["api_validation_status"]).upper()
            ),
            elements_count=int(payload.get("elements_count") or 0),
            entity_type=str(payload.get("entity_type") or ""),
            uploading_format=str(payload.get("uploading_format") or ""),
            uploading_source=str(payload.get("uploading_source") or ""),
        )


@dataclass(frozen=True, slots=True)
class Counter:
    """The parts of a Metrika counter the app uses."""

    id: int
    name: str
    site: str
    time_zone_name: str
    time_zone_offset: int
    permission: str
    status: str
    gdpr_agreement_accepted: bool
    owner_login: str = ""

    @property
    def can_upload(self) -> bool:
        """Return True when the permission allows uploading orders."""
        return self.permission in UPLOAD_PERMISSIONS

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Counter:
        """Build from a counter object, current (``site2.site``) or older (``site``)."""
        site2 = payload.get("site2")
        site = (
            site2.get("site") if isinstance(site2, Mapping) else None
        ) or payload.get("site")
        return cls(
            id=int(payload["id"]),
            name=str(payload.get("name") or ""),
            site=str(site or ""),
            # Third-party clients fall back to Moscow, Metrika's default zone.
            time_zone_name=str(payload.get("time_zone_name") or "Europe/Moscow"),
            time_zone_offset=int(payload.get("time_zone_offset") or 0),
            permission=str(payload.get("permission") or ""),
            status=str(payload.get("status") or ""),
            gdpr_agreement_accepted=parse_bool(payload.get("gdpr_agreement_accepted")),
            owner_login=str(payload.get("owner_login") or ""),
        )


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens from Yandex OAuth; ``repr`` shows fingerprints, never the tokens."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    token_type: str
    expires_in: int | None
    expires_at: datetime | None
    # None when Yandex left ``scope`` out, which it does when all were granted.
    scope: tuple[str, ...] | None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], now: datetime) -> TokenSet:
        """Build from a ``/token`` success body received at ``now``."""
        expires_in = payload.get("expires_in")
        expires_in = int(expires_in) if expires_in is not None else None
        expires_at = None
        if expires_in is not None:
            # Eternal tokens come with huge values; cap instead of overflowing.
            expires_at = now + timedelta(seconds=min(expires_in, 100 * 365 * 86400))
        scope = payload.get("scope")
        return cls(
            access_token=str(payload["access_token"]),
            refresh_token=payload.get("refresh_token") or None,
            token_type=str(payload.get("token_type") or "bearer"),
            expires_in=expires_in,
            expires_at=expires_at,
            scope=tuple(str(scope).split()) if scope is not None else None,
        )

    def __repr__(self) -> str:
        refresh = token_fingerprint(self.refresh_token) if self.refresh_token else None
        return (
            f"TokenSet(access_token=<sha256:{token_fingerprint(self.access_token)}>, "
            f"refresh_token=<sha256:{refresh}>, token_type={self.token_type!r}, "
            f"expires_at={self.expires_at!r}, scope={self.scope!r})"
        )


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """The Yandex account a token belongs to (``login.yandex.ru/info``)."""

    login: str
    uid: str
    client_id: str = ""


@dataclass(slots=True)
class AttemptRecord:
    """One outbound HTTP attempt, for the app's per-attempt audit row."""

    operation: str
    method: str
    url: str
    started_at: datetime
    duration: float = 0.0
    status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    response_excerpt: str = ""
    bytes_sent: int = 0
    body_sent: bool = False
    counter_id: int | None = None
