import io
import json
from urllib.error import HTTPError

import pytest

from ordersync.metrika import MetrikaClient, MetrikaRateLimitError, MetrikaServerError
from ordersync.metrika.emulator import DEMO_SEED, RunningEmulator, make_server
from tests.metrika.conftest import CANARY, DOC_EXAMPLE, EDIT, OWN, raw_json

AUTH = {"Authorization": f"OAuth {CANARY}"}
UPLOAD = f"/cdp/api/v1/counter/{OWN}/data/simple_orders"


def multipart(text=DOC_EXAMPLE, name="file"):
    body = (
        "--B\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="o.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        f"{text}\r\n--B--\r\n"
    ).encode()
    return body, {**AUTH, "Content-Type": "multipart/form-data; boundary=B"}


def test_binds_loopback_by_default():
    server = make_server(port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_demo_seed_has_the_demo_account_and_counters():
    with RunningEmulator(seed=DEMO_SEED) as emulator:
        client = MetrikaClient(emulator.url, "y0_demo-agency-long-lived-token")
        counters = client.counters()

    assert [(c.time_zone_name, c.permission) for c in counters] == [
        ("Europe/Moscow", "own"),
        ("Asia/Yekaterinburg", "edit"),
        ("Europe/Moscow", "view"),
    ]
    seed = json.loads(DEMO_SEED.read_text())
    assert seed["accounts"][0]["login"] == "demo-agency"
    assert seed["oauth_clients"][0]["client_secret"]


def test_error_body_has_the_contract_shape(emulator):
    status, _, body = raw_json(
        emulator.url, "GET", "/management/v1/counter/999", headers=AUTH
    )

    assert status == 404
    assert body == {
        "errors": [{"error_type": "not_found", "message": "Counter not found"}],
        "code": 404,
        "message": "Counter not found",
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Bearer {CANARY}"}, {"Authorization": CANARY}],
)
def test_missing_or_malformed_header_is_401(emulator, headers):
    status, _, body = raw_json(
        emulator.url, "GET", "/management/v1/counters", headers=headers
    )

    assert (status, body["errors"][0]["error_type"]) == (401, "unauthorized")


def test_token_in_the_url_is_not_accepted(emulator):
    status, _, _ = raw_json(
        emulator.url, "GET", f"/management/v1/counters?oauth_token={CANARY}"
    )

    assert status == 401


@pytest.mark.parametrize(
    ("query", "status", "error_type"),
    [
        ("", 400, "missing_parameter"),
        ("?merge_mode=MERGE", 400, "invalid_parameter"),
        ("?merge_mode=SAVE&delimiter_type=TAB", 400, "invalid_parameter"),
        ("?merge_mode=save", 200, None),
    ],
)
def test_upload_query_parameters(emulator, query, status, error_type):
    body, headers = multipart()

    got, _, payload = raw_json(
        emulator.url, "POST", UPLOAD + query, body=body, headers=headers
    )

    assert got == status
    if error_type:
        assert payload["errors"][0]["error_type"] == error_type


def test_upload_that_is_not_multipart_is_invalid_uploading(emulator):
    status, _, payload = raw_json(
        emulator.url,
        "POST",
        UPLOAD + "?merge_mode=SAVE",
        body=DOC_EXAMPLE.encode(),
        headers={**AUTH, "Content-Type": "text/csv"},
    )

    assert (status, payload["message"]) == (
        400,
        "The request must be multipart/form-data",
    )


def test_upload_without_file_part_is_invalid_uploading(emulator):
    body, headers = multipart(name="data")

    status, _, payload = raw_json(
        emulator.url, "POST", UPLOAD + "?merge_mode=SAVE", body=body, headers=headers
    )

    assert (status, payload["message"]) == (400, "The request has no 'file' part")


def test_uploading_payload_shape(emulator):
    body, headers = multipart()

    _, _, payload = raw_json(
        emulator.url, "POST", UPLOAD + "?merge_mode=SAVE", body=body, headers=headers
    )

    uploading = payload["uploading"]
    assert set(uploading) == {
        "uploading_id",
        "datetime",
        "api_validation_status",
        "elements_count",
        "entity_type",
        "uploading_format",
        "uploading_source",
    }
    assert len(uploading["datetime"]) == 19 and uploading["datetime"][10] == " "
    assert (uploading["uploading_format"], uploading["uploading_source"]) == (
        "CSV",
        "API",
    )


def test_merge_modes_reach_the_order_store(client, admin):
    header = "id,create_date_time,emails,revenue,order_status\n"
    client.upload_simple_orders(
        OWN,
        io.BytesIO(f"{header}o1,2024-01-10,a@b.ru,100,IN_PROGRESS\n".encode()),
        merge_mode="SAVE",
    )
    client.upload_simple_orders(
        OWN,
        io.BytesIO(f"{header}o1,2024-03-01,c@d.ru,,\n".encode()),
        merge_mode="APPEND",
    )

    order = admin.orders(OWN)["orders"]["o1"]
    assert order["emails"] == ["a@b.ru", "c@d.ru"]
    assert order["revenue"] == "100" and order["order_status"] == "IN_PROGRESS"
    assert order["create_date_time"] == "2024-01-10"

    client.upload_simple_orders(
        OWN, io.BytesIO(f"{header}o1,2024-01-10,e@f.ru,,\n".encode()), merge_mode="SAVE"
    )

    order = admin.orders(OWN)["orders"]["o1"]
    assert order["emails"] == ["e@f.ru"] and order["revenue"] is None
    assert order["order_status"] == "PAID"


def test_fault_always_stays_until_cleared(client, admin):
    admin.add_fault("status", status=503, counter_id=EDIT, times=None)

    for _ in range(3):
        with pytest.raises(MetrikaServerError):
            client.counter(EDIT)
    assert client.counter(OWN).id == OWN
    assert len(admin.state()["faults"]) == 1
    admin.clear_faults()
    assert client.counter(EDIT).id == EDIT


def test_bad_fault_is_rejected(admin):
    with pytest.raises(HTTPError, match="400"):
        admin.add_fault("explode")


def test_bad_setting_is_rejected(admin):
    with pytest.raises(HTTPError, match="400"):
        admin.settings(validation_failure="maybe")


def test_enforced_quotas_can_answer_420(client, admin):
    admin.settings(quota_status=420)
    admin.set_daily_used("agency", 5000)

    with pytest.raises(MetrikaRateLimitError) as caught:
        client.counters()

    assert caught.value.status == 420


def test_requests_per_ip_limit(client, admin):
    admin.settings(rps_per_ip=3)

    for _ in range(3):
        client.counter(OWN)
    with pytest.raises(MetrikaRateLimitError) as caught:
        client.counter(OWN)

    assert caught.value.quota == "quota_requests_by_ip"
    assert caught.value.retry_after == 1.0


def test_request_counts_and_reset(client, admin):
    client.counters()
    client.counter(OWN)
    client.upload_simple_orders(
        OWN, io.BytesIO(DOC_EXAMPLE.encode()), merge_mode="SAVE"
    )

    counts = admin.requests()

    assert counts["total"] == 3
    assert counts["by_counter"] == {str(OWN): {"counter": 1, "upload": 1}}
    assert counts["log"][-1]["endpoint"] == "upload"
    assert counts["log"][-1]["status"] == 200
    admin.clear_requests()
    assert admin.requests()["total"] == 0


def test_seed_and_reset(admin, client):
    client.upload_simple_orders(
        OWN, io.BytesIO(DOC_EXAMPLE.encode()), merge_mode="SAVE"
    )
    state = admin.state()
    assert len(state["uploadings"]) == 1

    admin.reset()

    assert admin.state()["uploadings"] == []
    admin.seed({"accounts": [{"login": "solo", "uid": "1"}]})
    assert [a["login"] for a in admin.state()["accounts"]] == ["solo"]
