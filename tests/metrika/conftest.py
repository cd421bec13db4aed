import http.client
import json
from urllib.parse import urlencode, urlsplit

import pytest

from ordersync.metrika import MetrikaClient, YandexOAuthClient

CANARY = "y0_CANARY_4f1d9c2b7e6a5d3c1b0a9f8e7d6c5b4a"
READONLY_TOKEN = "y0_readonly_token_for_tests"
OTHER_TOKEN = "y0_other_account_token"
CLIENT_ID = "test-client"
CLIENT_SECRET = "SECRET_CANARY_5b8e2f"
REDIRECT_URI = "http://127.0.0.1:9/yandex/callback"
OWN, EDIT, VIEW, FOREIGN = 101, 102, 103, 104

DOC_EXAMPLE = (
    "id,create_date_time,client_uniq_id,client_ids,emails,phones,order_status,"
    "revenue,cost,goals,currency\n"
    's_ord1,10.01.2024 11:56,s_user1,,"mail@example.com,mail2@example.com",,PAID,'
    '200,150,"oplata_cash:200,filial_1",\n'
    "s_ord2,20.01.2024 11:59,,12345,mail3@example.com,,,200,150,,EUR\n"
    ",12.02.2024,,34456,,79876543210,SPAM,,,plohoy_lead,\n"
)

SEED = {
    "settings": {"parallel_limit": 3, "rps_per_ip": None},
    "oauth_clients": [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "name": "OrderSync tests",
            "redirect_uris": [REDIRECT_URI],
            "scopes": ["metrika:read", "metrika:offline_data", "metrika:write"],
        }
    ],
    "accounts": [
        {"login": "agency", "uid": "1001"},
        {"login": "other", "uid": "1002"},
    ],
    "tokens": [
        {
            "access_token": CANARY,
            "login": "agency",
            "client_id": CLIENT_ID,
            "scopes": ["metrika:read", "metrika:offline_data"],
            "refresh_token": "1:REFRESH_CANARY_9d7c",
        },
        {
            "access_token": READONLY_TOKEN,
            "login": "agency",
            "scopes": ["metrika:read"],
        },
        {
            "access_token": OTHER_TOKEN,
            "login": "other",
            "scopes": ["metrika:read", "metrika:write"],
        },
    ],
    "counters": [
        {
            "id": OWN,
            "name": "Own, Moscow",
            "site": "own.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "agency",
        },
        {
            "id": EDIT,
            "name": "Edit, Yekaterinburg",
            "site": "edit.example",
            "time_zone_name": "Asia/Yekaterinburg",
            "owner_login": "other",
            "grants": {"agency": "edit"},
        },
        {
            "id": VIEW,
            "name": "View only",
            "site": "view.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "other",
            "grants": {"agency": "view"},
            "gdpr_agreement_accepted": False,
        },
        {
            "id": FOREIGN,
            "name": "Not ours",
            "site": "foreign.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "other",
        },
    ],
}


@pytest.fixture
def emulator_seed():
    return SEED


@pytest.fixture
def admin(emulator_admin):
    return emulator_admin


@pytest.fixture
def attempts():
    return []


@pytest.fixture
def client(emulator, attempts):
    return MetrikaClient(
        emulator.url,
        CANARY,
        # Generous: a loaded CI machine must not turn a slow answer into a failure;
        # the timeout tests build their own clients with short limits.
        connect_timeout=10,
        read_timeout=60,
        on_attempt=attempts.append,
    )


@pytest.fixture
def oauth(emulator, attempts):
    return YandexOAuthClient(
        emulator.url,
        CLIENT_ID,
        CLIENT_SECRET,
        login_url=emulator.url,
        # Generous: a loaded CI machine must not turn a slow answer into a failure;
        # the timeout tests build their own clients with short limits.
        connect_timeout=10,
        read_timeout=60,
        on_attempt=attempts.append,
    )


def raw_request(base_url, method, path, *, body=b"", headers=None, form=None):
    """Send one request without following redirects; return status, headers, body."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = dict(headers or {})
    if form is not None:
        body = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data
    finally:
        connection.close()


def raw_json(base_url, method, path, **kwargs):
    status, headers, data = raw_request(base_url, method, path, **kwargs)
    return status, headers, json.loads(data)
