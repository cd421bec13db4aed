"""Errors raised by the Metrika and Yandex OAuth clients.

Every error says whether retrying can help (``transient``) and whether the request
body reached the network in full (``body_sent``): a transient error after the body
was sent is an outcome the caller must reconcile before sending again, because
Metrika may have accepted the upload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ordersync.metrika.types import AttemptRecord, Uploading

DAILY_QUOTAS = frozenset({"quota_requests_by_uid", "quota_requests_by_counter_id"})


class MetrikaError(Exception):
    """Base of every error the clients raise; carries no token, ever."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        quota: str | None = None,
        body_sent: bool = False,
        response_excerpt: str = "",
        attempt: AttemptRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.retry_after = retry_after
        self.quota = quota
        self.body_sent = body_sent
        self.response_excerpt = response_excerpt
        self.attempt = attempt

    @property
    def outcome_unknown(self) -> bool:
        """Return True when the server may have acted on the request anyway."""
        return (
            self.transient
            and self.body_sent
            and not isinstance(self, MetrikaRateLimitError)
        )

    def __str__(self) -> str:
        parts = [str(self.status)] if self.status else []
        if self.error_type:
            parts.append(self.error_type)
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, "
            f"error_type={self.error_type!r}, message={self.message!r}, "
            f"transient={self.transient!r}, body_sent={self.body_sent!r})"
        )


class MetrikaTransportError(MetrikaError):
    """No HTTP answer: connect failure, timeout, or connection lost."""

    transient = True

    def __init__(self, message: str, *, kind: str, **kwargs) -> None:
        super().__init__(message, **kwargs)
        # One of "connect", "connect_timeout", "read_timeout", "connection_lost".
        self.kind = kind


class MetrikaRateLimitError(MetrikaError):
    """A 420/429 quota answer; ``quota`` names the quota that was hit."""

    transient = True

    @property
    def daily(self) -> bool:
        """Return True for quotas that only reset at 00:00 UTC."""
        return self.quota in DAILY_QUOTAS


class MetrikaServerError(MetrikaError):
    """A 5xx answer (``backend_error``, ``timeout``); the outcome may be unknown."""

    transient = True


class MetrikaUnauthorizedError(MetrikaError):
    """A 401: the Authorization header was missing or malformed."""


class MetrikaInvalidTokenError(MetrikaError):
    """A 403 ``invalid_token``: the token is unknown, expired or revoked."""


class MetrikaAccessDeniedError(MetrikaError):
    """A 403 other than ``invalid_token``: no right to this counter or scope."""


class MetrikaNotFoundError(MetrikaError):
    """A 404: the counter does not exist."""


class MetrikaBadRequestError(MetrikaError):
    """A 400 or another 4xx: a bad parameter or an invalid file."""


class MetrikaResponseError(MetrikaError):
    """A 2xx answer whose body is not what the contract promises."""


class UploadRejectedError(MetrikaError):
    """A 200 whose ``api_validation_status`` is ``FAILED``."""

    def __init__(self, message: str, *, uploading: Uploading, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.uploading = uploading


class OAuthError(MetrikaError):
    """An error answer from Yandex OAuth; ``error`` is e.g. ``invalid_grant``."""

    def __init__(self, message: str, *, error: str, **kwargs) -> None:
        super().__init__(message, error_type=error, **kwargs)
        self.error = error


class MultipartFormatError(ValueError):
    """The emulator received a body that is not valid multipart/form-data."""
