"""What to do after a Metrika call failed: the retry policy, without Django.

The decision depends only on the error the client raised (CONTRACT.md section 4)
and on what this submission has been through, so it is tested without a database.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ordersync.metrika import (
    MetrikaError,
    MetrikaInvalidTokenError,
    MetrikaRateLimitError,
    MetrikaResponseError,
    MetrikaUnauthorizedError,
    UploadRejectedError,
)
from ordersync.metrika.errors import MetrikaBadRequestError


class Action(enum.StrEnum):
    RETRY = "retry"  # a transient failure: back off, counts towards the limit
    WAIT = "wait"  # a per-second or parallel quota: wait, not a failure
    WAIT_DAILY = "wait_daily"  # the daily quota: wait for 00:00 UTC
    RECONCILE = "reconcile"  # the body was sent, the outcome is unknown
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - 403 invalid_token, first time
    NEEDS_REAUTH = "needs_reauth"  # the refreshed token was refused as well
    REJECT = "reject"  # Metrika refused the file: show its message
    FAIL = "fail"  # a permanent error, or too many transient ones


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0
    counts_as_failure: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters; tests make them small so nothing sleeps for long."""

    base_delay: float = 30.0
    max_delay: float = 1800.0
    max_failures: int = 6
    rate_limit_delay: float = 15.0
    random: Callable[[], float] = random.random

    def backoff(self, failures: int, retry_after: float | None = None) -> float:
        """Return the delay before attempt ``failures + 1``.

        Exponential with "equal jitter": half of the capped delay is fixed, the
        other half random, so retries spread out yet never come immediately.
        ``Retry-After`` is a floor, never shortened by jitter.
        """
        cap = min(self.max_delay, self.base_delay * 2 ** max(failures - 1, 0))
        delay = cap / 2 + self.random() * cap / 2
        return max(delay, retry_after or 0.0)

    def rate_limit_wait(self, retry_after: float | None) -> float:
        """Return how long to wait after a 420/429 that is not the daily quota."""
        if retry_after is not None:
            return retry_after
        return self.rate_limit_delay * (1 + self.random())

    def decide(
        self,
        error: MetrikaError,
        *,
        failures: int,
        token_refreshed: bool,
        now: datetime | None = None,
    ) -> Decision:
        """Return what to do after ``error``; ``failures`` excludes this one."""
        if isinstance(error, UploadRejectedError | MetrikaBadRequestError):
            return Decision(Action.REJECT)
        if isinstance(error, MetrikaInvalidTokenError | MetrikaUnauthorizedError):
            if token_refreshed:
                return Decision(Action.NEEDS_REAUTH)
            return Decision(Action.REFRESH_TOKEN)
        if isinstance(error, MetrikaRateLimitError):
            if error.daily:
                return Decision(Action.WAIT_DAILY, until_utc_midnight(now))
            return Decision(Action.WAIT, self.rate_limit_wait(error.retry_after))
        if error.outcome_unknown or isinstance(error, MetrikaResponseError):
            # A 2xx we cannot read may still be an accepted upload.
            return self._count(Action.RECONCILE, failures, error.retry_after)
        if error.transient:
            return self._count(Action.RETRY, failures, error.retry_after)
        return Decision(Action.FAIL)

    def _count(self, action: Action, failures: int, retry_after: float | None):
        failures += 1
        if failures >= self.max_failures and action == Action.RETRY:
            return Decision(Action.FAIL, counts_as_failure=True)
        return Decision(
            action, self.backoff(failures, retry_after), counts_as_failure=True
        )


def until_utc_midnight(now: datetime | None = None) -> float:
    """Return seconds until the next 00:00 UTC, when Metrika's daily quota resets."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = (now + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    # A minute of slack: our clock and Yandex's need not agree to the second.
    return (midnight - now).total_seconds() + 60
