import io
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from ordersync.metrika import (
    MetrikaAccessDeniedError,
    MetrikaBadRequestError,
    MetrikaClient,
    MetrikaError,
    MetrikaInvalidTokenError,
    MetrikaNotFoundError,
    MetrikaRateLimitError,
    MetrikaServerError,
    MetrikaTransportError,
    MetrikaUnauthorizedError,
    UploadRejectedError,
    ValidationStatus,
)
from ordersync.metrika.emulator.state import UploadRecord
from tests.metrika.conftest import (
    CANARY,
    DOC_EXAMPLE,
    EDIT,
    FOREIGN,
    OWN,
    READONLY_TOKEN,
    VIEW,
)

HEADER = "id,create_date_time,emails,order_status,revenue\n"


def csv_file(text: str = DOC_EXAMPLE) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def big_csv(rows: int) -> io.BytesIO:
    lines = [HEADER] + [
        f"ord{i},2024-01-10 11:56:00,user{i}@example.com,PAID,{i}.50\n"
        for i in range(rows)
    ]
    return csv_file("".join(lines))


def upload(client, counter_id=OWN, fileobj=None, **kwargs):
    kwargs.setdefault("merge_mode", "SAVE")
    return client.upload_simple_orders(counter_id, fileobj or csv_file(), **kwargs)


# Endpoints


def test_upload_of_documented_example_passes_and_reports_rows(client, admin):
    result = upload(client)

    assert result.api_validation_status is ValidationStatus.PASSED
    assert result.elements_count == 3
    assert len(result.uploading_id) == 36
    assert result.datetime.tzinfo is UTC
    assert abs(datetime.now(UTC) - result.datetime) < timedelta(seconds=5)
    assert admin.requests()["by_counter"][str(OWN)] == {"upload": 1}


def test_upload_reports_progress_up_to_the_total(client):
    seen = []

    upload(client, fileobj=big_csv(20_000), progress=lambda s, t: seen.append((s, t)))

    sent = [s for s, _ in seen]
    assert sent == sorted(sent)
    assert seen[-1][0] == seen[-1][1] > 1_000_000


def test_upload_reads_the_file_in_blocks_never_whole(client):
    source = big_csv(100_000)
    sizes = []
    original = source.read

    def read(size=-1):
        sizes.append(size)
        return original(size)

    source.read = read

    upload(client, fileobj=source)

    assert source.tell() > 4_000_000
    assert max(sizes) <= 64 * 1024
    assert -1 not in sizes


def test_semicolon_upload_with_lowercase_merge_mode_passes(client):
    text = DOC_EXAMPLE.replace(",", ";").replace(
        '"mail@example.com;mail2@example.com"', '"mail@example.com,mail2@example.com"'
    )
    text = text.replace('"oplata_cash:200;filial_1"', '"oplata_cash:200,filial_1"')

    result = upload(
        client, fileobj=csv_file(text), delimiter="semicolon", merge_mode="update"
    )

    assert result.passed


def test_last_uploadings_lists_newest_first(client):
    first = upload(client)
    second = upload(client)

    listed = client.last_uploadings(OWN, limit=10, source="API")

    assert [u.uploading_id for u in listed] == [second.uploading_id, first.uploading_id]
    assert client.last_uploadings(EDIT) == []


def test_last_uploadings_offset_is_strictly_before(client, emulator):
    _seed_uploads(emulator, OWN, ["2024-05-01 10:00:00", "2024-05-01 10:00:01"])

    listed = client.last_uploadings(
        OWN, datetime_offset=datetime(2024, 5, 1, 10, 0, 1, tzinfo=UTC)
    )

    assert [u.uploading_id for u in listed] == ["u0"]


def _seed_uploads(emulator, counter_id, moments, prefix="u"):
    for index, moment in enumerate(moments):
        created = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
        emulator.state.uploads.append(
            UploadRecord(
                counter_id=counter_id,
                uploading_id=f"{prefix}{index}",
                created_at=created,
                api_validation_status="PASSED",
                elements_count=index + 1,
            )
        )


def test_find_uploading_pages_back_across_a_shared_second(client, emulator, attempts):
    # Five uploads in one second straddle the page boundary of a limit of 3.
    moments = [f"2024-05-01 10:00:{s:02d}" for s in range(10)]
    moments += ["2024-05-01 09:59:59"] * 5 + ["2024-05-01 09:00:00"]
    _seed_uploads(emulator, OWN, moments)

    found = client.find_uploading(OWN, "u15", page_size=3, source=None)

    assert found is not None and found.elements_count == 16
    assert len(attempts) >= 6


def test_find_uploading_returns_none_when_missing(client, emulator):
    _seed_uploads(emulator, OWN, ["2024-05-01 10:00:00"])

    assert client.find_uploading(OWN, "nope") is None


def test_find_uploading_stops_at_not_before(client, emulator, attempts):
    _seed_uploads(emulator, OWN, [f"2024-05-0{d} 10:00:00" for d in range(1, 8)])

    found = client.find_uploading(
        OWN,
        "nope",
        page_size=2,
        not_before=datetime(2024, 5, 6, 12, tzinfo=UTC),
    )

    assert found is None
    assert len(attempts) == 1


def test_counters_collects_every_page(client, attempts, admin):
    counters = client.counters(per_page=2)

    assert [c.id for c in counters] == [OWN, EDIT, VIEW]
    assert [c.permission for c in counters] == ["own", "edit", "view"]
    assert [c.can_upload for c in counters] == [True, True, False]
    assert len(attempts) == 2
    assert admin.requests()["by_endpoint"] == {"counters": 2}


def test_counters_permission_filter(client):
    counters = client.counters(permission=["own", "edit"])

    assert [c.id for c in counters] == [OWN, EDIT]


def test_counter_reads_zone_site_and_gdpr(client):
    counter = client.counter(EDIT)

    assert counter.time_zone_name == "Asia/Yekaterinburg"
    assert counter.time_zone_offset == 300
    assert counter.site == "edit.example"
    assert counter.gdpr_agreement_accepted is True
    assert client.counter(VIEW).gdpr_agreement_accepted is False


def test_legacy_counter_payload_parses(client, admin):
    admin.settings(counter_payload="legacy")

    counter = client.counter(VIEW)

    assert counter.site == "view.example"
    assert counter.gdpr_agreement_accepted is False


def test_iso_datetimes_parse(client, admin):
    admin.settings(datetime_format="iso")

    result = upload(client)

    listed = client.last_uploadings(OWN)
    assert listed[0].datetime == result.datetime
    assert abs(datetime.now(UTC) - result.datetime) < timedelta(seconds=5)


def test_zone_less_datetimes_are_read_in_the_configured_zone(emulator, admin):
    admin.settings(datetime_tz="Europe/Moscow")
    client = MetrikaClient(emulator.url, CANARY, naive_tz=ZoneInfo("Europe/Moscow"))

    result = upload(client)

    assert abs(datetime.now(UTC) - result.datetime) < timedelta(seconds=5)
    assert client.find_uploading(OWN, result.uploading_id) == result


# Permanent errors


def test_rows_breaking_rules_give_upload_rejected_error(client):
    bad = HEADER + "o1,2024-01-10 11:56,Mail@Example.com,PAID,10\n"

    with pytest.raises(UploadRejectedError) as caught:
        upload(client, fileobj=csv_file(bad))

    error = caught.value
    assert not error.transient
    assert error.uploading.api_validation_status is ValidationStatus.FAILED
    assert error.uploading.elements_count == 1
    assert client.last_uploadings(OWN)[0].api_validation_status == "FAILED"


def test_unparsable_file_gives_400_invalid_uploading(client):
    with pytest.raises(MetrikaBadRequestError) as caught:
        upload(
            client, fileobj=csv_file("id;create_date_time;emails\n1;2024-01-01;a@b.c\n")
        )

    error = caught.value
    assert (error.status, error.error_type) == (400, "invalid_uploading")
    assert (
        error.message
        == "Unknown column 'id;create_date_time;emails' (check delimiter_type)"
    )
    assert not error.transient


def test_decision_switch_row_errors_as_400(client, admin):
    admin.settings(validation_failure="400")
    bad = HEADER + "o1,2024-01-10 11:56,,PAID,10\n"

    with pytest.raises(MetrikaBadRequestError) as caught:
        upload(client, fileobj=csv_file(bad))

    assert caught.value.message == "Row 2: Missing field with identifiers"


def test_decision_switch_unparsable_file_as_200_failed(client, admin):
    admin.settings(validation_failure="failed")

    with pytest.raises(UploadRejectedError):
        upload(client, fileobj=csv_file("nonsense\n"))


def test_bad_limit_is_invalid_parameter(client):
    with pytest.raises(MetrikaBadRequestError) as caught:
        client.last_uploadings(OWN, limit=1001)

    assert caught.value.error_type == "invalid_parameter"


def test_missing_header_token_is_401(emulator):
    client = MetrikaClient(emulator.url, "")

    with pytest.raises(MetrikaUnauthorizedError) as caught:
        client.counters()

    assert (caught.value.status, caught.value.error_type) == (401, "unauthorized")


def test_unknown_token_is_invalid_token(emulator):
    client = MetrikaClient(emulator.url, "y0_unknown")

    with pytest.raises(MetrikaInvalidTokenError) as caught:
        client.counter(OWN)

    assert caught.value.message == "Invalid oauth_token"
    assert not caught.value.transient


def test_revoked_token_is_invalid_token(client, admin):
    client.counter(OWN)
    admin.revoke(access_token=CANARY)

    with pytest.raises(MetrikaInvalidTokenError):
        client.counter(OWN)


def test_expired_token_is_invalid_token(emulator, admin):
    admin.add_token("y0_short", "agency", scopes=["metrika:read"], expires_in=60)
    client = MetrikaClient(emulator.url, "y0_short")
    client.counter(OWN)
    admin.advance_clock(61)

    with pytest.raises(MetrikaInvalidTokenError):
        client.counter(OWN)


def test_counter_without_access_is_access_denied(client):
    with pytest.raises(MetrikaAccessDeniedError) as caught:
        client.counter(FOREIGN)

    assert (caught.value.status, caught.value.error_type) == (403, "access_denied")


def test_upload_to_view_only_counter_is_access_denied(client, admin):
    with pytest.raises(MetrikaAccessDeniedError):
        upload(client, counter_id=VIEW)

    assert admin.state()["uploadings"] == []


def test_upload_with_read_only_scope_is_access_denied(emulator):
    client = MetrikaClient(emulator.url, READONLY_TOKEN)

    with pytest.raises(MetrikaAccessDeniedError):
        upload(client, counter_id=OWN)


def test_unknown_counter_is_not_found(client):
    with pytest.raises(MetrikaNotFoundError) as caught:
        client.counter(999)

    assert caught.value.status == 404


# Transient errors and faults


@pytest.mark.parametrize("status", [429, 420])
def test_quota_fault_carries_quota_kind_and_retry_after(client, admin, status):
    admin.add_fault("status", status=status, retry_after=7, counter_id=OWN)

    with pytest.raises(MetrikaRateLimitError) as caught:
        upload(client)

    error = caught.value
    assert error.transient and not error.daily and not error.outcome_unknown
    assert (error.status, error.quota, error.retry_after) == (
        status,
        "quota_requests_by_ip",
        7.0,
    )
    assert upload(client).passed


@pytest.mark.parametrize(
    ("status", "error_type"), [(503, "backend_error"), (504, "timeout")]
)
def test_server_error_after_full_body_is_outcome_unknown(
    client, admin, status, error_type
):
    admin.add_fault("status", status=status, endpoint="upload")

    with pytest.raises(MetrikaServerError) as caught:
        upload(client)

    error = caught.value
    assert (error.status, error.error_type) == (status, error_type)
    assert error.transient and error.body_sent and error.outcome_unknown


def test_slow_answer_times_out_after_the_upload_was_stored(emulator, admin):
    client = MetrikaClient(emulator.url, CANARY, read_timeout=0.3)
    admin.add_fault("slow", delay=1.0, endpoint="upload")
    started = datetime.now(UTC) - timedelta(seconds=1)

    with pytest.raises(MetrikaTransportError) as caught:
        upload(client)

    error = caught.value
    assert (error.kind, error.transient, error.body_sent) == (
        "read_timeout",
        True,
        True,
    )
    assert error.outcome_unknown
    time.sleep(0.8)
    found = client.last_uploadings(OWN)
    assert len(found) == 1 and found[0].datetime >= started.replace(microsecond=0)


def test_connection_dropped_before_body_means_not_sent(client, admin):
    admin.add_fault("drop_before_body", endpoint="upload")

    with pytest.raises(MetrikaTransportError) as caught:
        upload(client, fileobj=big_csv(400_000))

    error = caught.value
    assert (error.kind, error.transient, error.body_sent) == (
        "connection_lost",
        True,
        False,
    )
    assert not error.outcome_unknown
    assert not error.attempt.body_sent
    assert admin.state()["uploadings"] == []
    assert admin.requests()["by_endpoint"] == {"upload": 1}


def test_connection_dropped_after_body_stores_the_upload(client, admin):
    admin.add_fault("drop_after_body", endpoint="upload")

    with pytest.raises(MetrikaTransportError) as caught:
        upload(client)

    error = caught.value
    assert (error.kind, error.body_sent, error.outcome_unknown) == (
        "connection_lost",
        True,
        True,
    )
    stored = admin.state()["uploadings"]
    assert len(stored) == 1
    found = client.find_uploading(OWN, stored[0]["uploading_id"])
    assert found.elements_count == 3


def test_forced_failed_is_upload_rejected(client, admin):
    admin.add_fault("failed", counter_id=OWN)

    with pytest.raises(UploadRejectedError) as caught:
        upload(client)

    assert caught.value.uploading.elements_count == 3
    assert admin.orders(OWN)["orders"] == {}


def test_invalid_token_fault_for_one_token_only(client, admin, emulator):
    admin.add_fault("invalid_token", token=CANARY, times=None)
    other = MetrikaClient(emulator.url, READONLY_TOKEN)

    for _ in range(2):
        with pytest.raises(MetrikaInvalidTokenError):
            client.counter(OWN)
    assert other.counter(OWN).id == OWN


def test_daily_quota_exhausted(client, admin):
    admin.set_daily_used("agency", 5000)

    with pytest.raises(MetrikaRateLimitError) as caught:
        client.counters()

    assert caught.value.quota == "quota_requests_by_uid"
    assert caught.value.daily
    admin.advance_clock(86400)
    assert client.counters()


def test_fourth_parallel_request_hits_parallel_quota(client, admin, emulator):
    admin.add_fault("slow", delay=1.0, endpoint="counters", times=3)
    threads = [threading.Thread(target=client.counters) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while emulator.state.in_flight["agency"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)

    with pytest.raises(MetrikaRateLimitError) as caught:
        client.counter(OWN)

    for thread in threads:
        thread.join()
    assert caught.value.quota == "quota_parallel_requests"
    assert admin.requests()["parallel_peak"] == {"agency": 3}
    assert client.counter(OWN).id == OWN


def test_connect_failure_is_transient_and_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = MetrikaClient(f"http://127.0.0.1:{port}", CANARY, connect_timeout=1)

    with pytest.raises(MetrikaTransportError) as caught:
        upload(client)

    assert (caught.value.kind, caught.value.body_sent) == ("connect", False)


def test_fault_for_next_n_requests_then_normal(client, admin):
    admin.add_fault("status", status=503, endpoint="counter", times=2)

    for _ in range(2):
        with pytest.raises(MetrikaServerError):
            client.counter(OWN)
    assert client.counter(OWN).id == OWN


# Attempt records and secrets


def test_on_attempt_gets_one_record_per_http_attempt(client, admin, attempts):
    admin.add_fault("status", status=429, endpoint="counter", retry_after=1)
    with pytest.raises(MetrikaRateLimitError):
        client.counter(OWN)
    upload(client)

    failed, sent = attempts
    assert (failed.operation, failed.status, failed.error_type) == (
        "counter",
        429,
        "quota_requests_by_ip",
    )
    assert failed.error_message
    assert '"quota_requests_by_ip"' in failed.response_excerpt
    assert (sent.operation, sent.status, sent.error_type) == (
        "upload_simple_orders",
        200,
        None,
    )
    assert sent.body_sent and sent.bytes_sent > len(DOC_EXAMPLE)
    assert sent.counter_id == OWN and sent.duration > 0
    assert "merge_mode=SAVE" in sent.url


def _every_failure(client, admin, emulator):
    """Yield every error the client raises across the fault catalogue."""
    faults = [
        {"kind": "status", "status": 429, "retry_after": 1},
        {"kind": "status", "status": 420},
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 504},
        {"kind": "invalid_token"},
        {"kind": "drop_before_body"},
        {"kind": "drop_after_body"},
        {"kind": "failed"},
        {"kind": "slow", "delay": 0.6},
    ]
    slow_client = MetrikaClient(emulator.url, CANARY, read_timeout=0.3)
    for fault in faults:
        admin.add_fault(**fault)
        try:
            upload(slow_client)
        except MetrikaError as error:
            yield error
    for call in (
        lambda: client.counter(FOREIGN),
        lambda: client.counter(999),
        lambda: client.last_uploadings(OWN, limit=0),
        lambda: upload(client, fileobj=csv_file("x\n")),
        lambda: MetrikaClient(emulator.url, CANARY + "x").counters(),
        lambda: MetrikaClient("http://127.0.0.1:9", CANARY).counters(),
    ):
        try:
            call()
        except MetrikaError as error:
            yield error


def test_token_never_appears_in_errors_logs_or_records(
    client, admin, emulator, caplog, attempts
):
    caplog.set_level(logging.DEBUG)

    errors = list(_every_failure(client, admin, emulator))

    assert len(errors) == 15
    for error in errors:
        for text in (str(error), repr(error), repr(vars(error)), repr(error.attempt)):
            assert CANARY not in text
        assert error.__cause__ is None
        # Not even the implicit context may keep the requests exception: it holds
        # the prepared request with the Authorization header.
        assert error.__context__ is None or not isinstance(
            error.__context__, requests.RequestException
        )
    assert CANARY not in caplog.text
    assert CANARY not in repr(client)
    assert all(CANARY not in repr(record) for record in attempts)
