from datetime import UTC, datetime

import pytest

from ordersync.metrika import (
    MetrikaAccessDeniedError,
    MetrikaInvalidTokenError,
    MetrikaRateLimitError,
    MetrikaServerError,
    MetrikaTransportError,
    UploadRejectedError,
)
from ordersync.metrika.errors import MetrikaBadRequestError
from ordersync.submissions.policy import Action, RetryPolicy, until_utc_midnight

POLICY = RetryPolicy(
    base_delay=10, max_delay=100, max_failures=4, rate_limit_delay=5,
    random=lambda: 0.5,
)  # fmt: skip


def decide(error, failures=0, refreshed=False):
    return POLICY.decide(error, failures=failures, token_refreshed=refreshed)


def test_backoff_doubles_with_jitter_and_stops_at_the_cap():
    delays = [POLICY.backoff(n) for n in range(1, 8)]
    assert delays == [7.5, 15.0, 30.0, 60.0, 75.0, 75.0, 75.0]


@pytest.mark.parametrize("rand", [0.0, 0.999])
def test_jitter_stays_between_half_and_the_whole_capped_delay(rand):
    policy = RetryPolicy(base_delay=10, max_delay=100, random=lambda: rand)
    for failures in range(1, 10):
        cap = min(100, 10 * 2 ** (failures - 1))
        assert cap / 2 <= policy.backoff(failures) <= cap


def test_retry_after_is_a_floor_of_the_backoff():
    assert POLICY.backoff(1, retry_after=40) == 40


def test_connect_failure_before_the_body_is_a_counted_retry():
    error = MetrikaTransportError("no", kind="connect", body_sent=False)
    decision = decide(error)
    assert decision.action == Action.RETRY
    assert decision.counts_as_failure
    assert decision.delay == 7.5


def test_the_last_allowed_transient_failure_fails():
    error = MetrikaServerError("down", status=503, body_sent=False)
    assert decide(error, failures=2).action == Action.RETRY
    assert decide(error, failures=3).action == Action.FAIL


def test_5xx_after_the_body_was_sent_means_reconcile():
    error = MetrikaServerError("backend_error", status=503, body_sent=True)
    assert error.outcome_unknown
    assert decide(error).action == Action.RECONCILE
    # Even past the failure limit: it must be looked up before giving up.
    assert decide(error, failures=10).action == Action.RECONCILE


def test_read_timeout_after_the_body_means_reconcile():
    error = MetrikaTransportError("slow", kind="read_timeout", body_sent=True)
    assert decide(error).action == Action.RECONCILE


@pytest.mark.parametrize("status", [420, 429])
def test_rate_limit_waits_for_retry_after_and_is_not_a_failure(status):
    error = MetrikaRateLimitError(
        "quota", status=status, quota="quota_requests_by_ip", retry_after=3,
        body_sent=True,
    )  # fmt: skip
    decision = decide(error, failures=3)
    assert decision.action == Action.WAIT
    assert decision.delay == 3
    assert not decision.counts_as_failure


def test_rate_limit_without_retry_after_waits_a_few_seconds():
    error = MetrikaRateLimitError("q", status=429, quota="quota_parallel_requests")
    assert decide(error).delay == 7.5


def test_daily_quota_waits_until_after_midnight_utc():
    error = MetrikaRateLimitError("q", status=429, quota="quota_requests_by_uid")
    now = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    decision = POLICY.decide(error, failures=0, token_refreshed=False, now=now)
    assert decision.action == Action.WAIT_DAILY
    assert decision.delay == 90 * 60 + 60
    assert not decision.counts_as_failure


def test_until_midnight_from_another_zone():
    from zoneinfo import ZoneInfo

    moscow = datetime(2026, 3, 2, 2, 0, tzinfo=ZoneInfo("Europe/Moscow"))  # 23:00 UTC
    assert until_utc_midnight(moscow) == 3600 + 60


def test_invalid_token_refreshes_once_then_needs_reauth():
    error = MetrikaInvalidTokenError("Invalid oauth_token", status=403)
    assert decide(error).action == Action.REFRESH_TOKEN
    assert decide(error, refreshed=True).action == Action.NEEDS_REAUTH


def test_a_200_failed_and_a_400_are_rejections():
    from ordersync.metrika import Uploading

    uploading = Uploading.from_payload(
        {"uploading_id": "u1", "datetime": "2026-01-01 00:00:00",
         "api_validation_status": "FAILED", "elements_count": 0}
    )  # fmt: skip
    assert decide(UploadRejectedError("x", uploading=uploading)).action == Action.REJECT
    bad = MetrikaBadRequestError("bad", status=400, error_type="invalid_uploading")
    assert decide(bad).action == Action.REJECT


def test_access_denied_fails_without_retry():
    error = MetrikaAccessDeniedError("no", status=403, error_type="access_denied")
    decision = decide(error)
    assert decision.action == Action.FAIL
    assert not decision.counts_as_failure
