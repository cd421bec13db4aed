import http.client
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.utils import timezone

from ordersync.counters import crypto
from ordersync.counters.models import Counter, CounterGrant, YandexAccount
from ordersync.metrika.emulator import EmulatorAdmin
from ordersync.metrika.types import token_fingerprint

TOKEN = "y0_AGENCY_TOKEN_CANARY_7f3e9a"
REFRESH = "1:AGENCY_REFRESH_CANARY_2c8d"
READONLY_TOKEN = "y0_READONLY_TOKEN_CANARY"
CLIENT_ID = "ordersync-test"
CLIENT_SECRET = "CLIENT_SECRET_CANARY_51f0"
REDIRECT_URI = "http://127.0.0.1:9/counters/accounts/callback/"
OWN, EDIT, VIEW, FOREIGN = 201, 202, 203, 204

SEED = {
    "settings": {"parallel_limit": None, "rps_per_ip": None},
    "oauth_clients": [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "name": "OrderSync tests",
            "redirect_uris": [],
            "scopes": ["metrika:read", "metrika:offline_data", "metrika:write"],
            "token_ttl": 31536000,
        }
    ],
    "accounts": [
        {"login": "agency", "uid": "5001"},
        {"login": "other", "uid": "5002"},
    ],
    "tokens": [
        {
            "access_token": TOKEN,
            "login": "agency",
            "client_id": CLIENT_ID,
            "scopes": ["metrika:read", "metrika:offline_data"],
            "refresh_token": REFRESH,
        },
        {"access_token": READONLY_TOKEN, "login": "other", "scopes": ["metrika:read"]},
    ],
    "counters": [
        {
            "id": OWN,
            "name": "Shop",
            "site": "shop.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "agency",
        },
        {
            "id": EDIT,
            "name": "Clinic",
            "site": "clinic.example",
            "time_zone_name": "Asia/Yekaterinburg",
            "owner_login": "other",
            "grants": {"agency": "edit"},
        },
        {
            "id": VIEW,
            "name": "Blog",
            "site": "blog.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": "other",
            "grants": {"agency": "view"},
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
def emulator(emulator, settings):
    """Return the emulator, with our OAuth callback registered in settings."""
    settings.YANDEX_OAUTH_REDIRECT_URI = REDIRECT_URI
    return emulator


@pytest.fixture
def emu(emulator_admin):
    return emulator_admin


def endpoint_calls(emu: EmulatorAdmin, endpoint: str) -> int:
    return emu.requests()["by_endpoint"].get(endpoint, 0)


@pytest.fixture
def make_account(db):
    def make(
        *,
        access_token: str = TOKEN,
        refresh_token: str = REFRESH,
        expires_in: timedelta = timedelta(days=300),
        obtained_ago: timedelta = timedelta(days=65),
        login: str = "agency",
        uid: str = "5001",
        **fields,
    ) -> YandexAccount:
        now = timezone.now()
        return YandexAccount.objects.create(
            uid=uid,
            login=login,
            source=YandexAccount.Source.OAUTH,
            access_token_encrypted=crypto.encrypt(access_token),
            refresh_token_encrypted=crypto.encrypt(refresh_token)
            if refresh_token
            else "",
            token_fingerprint=token_fingerprint(access_token),
            scopes=["metrika:read", "metrika:offline_data"],
            expires_at=now + expires_in,
            token_obtained_at=now - obtained_ago,
            **fields,
        )

    return make


@pytest.fixture
def account(make_account):
    return make_account()


@pytest.fixture
def counter(account):
    return Counter.objects.create(
        account=account,
        metrika_id=OWN,
        name="Shop",
        site="shop.example",
        time_zone_name="Europe/Moscow",
        permission="own",
    )


@pytest.fixture
def other_counter(account):
    return Counter.objects.create(
        account=account,
        metrika_id=EDIT,
        name="Clinic",
        site="clinic.example",
        time_zone_name="Asia/Yekaterinburg",
        permission="edit",
    )


@pytest.fixture
def outsider(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username="carol-outsider", password="pw-outsider-123456"
    )
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    return user


@pytest.fixture
def granted(counter, marketer):
    CounterGrant.objects.create(counter=counter, user=marketer)
    return marketer


def consent(
    authorize_url: str,
    *,
    decision: str = "allow",
    login: str = "agency",
    **overrides: str,
) -> str:
    """Press a button on the emulator's consent page; return the redirect target."""
    parts = urlsplit(authorize_url)
    form = {**dict(parse_qsl(parts.query)), **overrides}
    form.update(decision=decision, login=login)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/authorize",
            body=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        response.read()
        assert response.status == 302, response.status
        return response.getheader("Location")
    finally:
        connection.close()


def callback_path(location: str) -> str:
    """Return our callback's path and query from the emulator's redirect."""
    parts = urlsplit(location)
    assert parts.path == "/counters/accounts/callback/"
    return f"{parts.path}?{parts.query}"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
