import time

import pytest
from django.urls import reverse

from ordersync.core.models import AuditEvent
from ordersync.counters.models import Counter, YandexAccount
from ordersync.counters.services import OAUTH_SESSION_KEY
from tests.counters.conftest import (
    CLIENT_SECRET,
    READONLY_TOKEN,
    REDIRECT_URI,
    TOKEN,
    callback_path,
    consent,
    endpoint_calls,
)

pytestmark = pytest.mark.django_db

CONNECT = reverse("counters:account_connect")
LIST = reverse("counters:account_list")


@pytest.fixture
def admin_client(client, admin_user, emulator):
    client.force_login(admin_user)
    return client


def start(client) -> str:
    response = client.get(CONNECT)
    assert response.status_code == 302
    return response.url


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_connect_sends_the_admin_to_yandex_with_state_and_pkce(admin_client, emulator):
    url = start(admin_client)
    assert url.startswith(f"{emulator.url}/authorize?")
    assert "code_challenge_method=S256" in url
    assert "scope=metrika%3Aread+metrika%3Aoffline_data" in url
    state = dict(p.split("=") for p in url.split("?")[1].split("&"))["state"]
    assert state in admin_client.session[OAUTH_SESSION_KEY]
    assert "code_verifier" not in url


def test_full_flow_stores_an_encrypted_token_and_opens_the_import(admin_client, emu):
    location = consent(start(admin_client))
    response = admin_client.get(callback_path(location), follow=True)
    account = YandexAccount.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "counters:account_import", args=[account.pk]
    )
    assert "Аккаунт Яндекса agency подключён" in response.text
    assert account.login == "agency"
    assert account.uid == "5001"
    assert account.scopes == ["metrika:read", "metrika:offline_data"]
    assert account.has_refresh_token
    assert account.expires_at is not None
    assert account.counters_reachable == 3
    issued = emu.state()["tokens"]
    assert account.access_token() in {t["access_token"] for t in issued}
    assert account.access_token() not in response.text
    assert AuditEvent.objects.filter(action="account.connected").count() == 1
    assert admin_client.session[OAUTH_SESSION_KEY] == {}


def test_denied_consent_connects_nothing(admin_client, emu):
    location = consent(start(admin_client), decision="deny")
    response = admin_client.get(callback_path(location), follow=True)
    assert messages_of(response) == [
        "Доступ отклонён на странице Яндекса. Ничего не подключено."
    ]
    assert not YandexAccount.objects.exists()
    assert endpoint_calls(emu, "token") == 0
    event = AuditEvent.objects.exclude(action__startswith="auth.").get()
    assert event.details == {"reason": "access_denied"}


def test_forged_state_is_refused_before_any_call(admin_client, emu):
    start(admin_client)
    response = admin_client.get(
        reverse("counters:oauth_callback") + "?code=1234567&state=forged", follow=True
    )
    assert "не относится к подключению" in messages_of(response)[0]
    assert endpoint_calls(emu, "token") == 0
    assert not YandexAccount.objects.exists()


def test_replayed_callback_is_refused(admin_client, emu):
    path = callback_path(consent(start(admin_client)))
    admin_client.get(path, follow=True)
    response = admin_client.get(path, follow=True)
    assert "уже был использован" in messages_of(response)[0]
    assert YandexAccount.objects.count() == 1
    assert endpoint_calls(emu, "token") == 1


def test_state_from_another_session_is_refused(admin_client, client, admin_user, emu):
    path = callback_path(consent(start(admin_client)))
    from django.test import Client

    other = Client()
    other.force_login(admin_user)
    response = other.get(path, follow=True)
    assert "не относится к подключению" in messages_of(response)[0]
    assert not YandexAccount.objects.exists()


def test_expired_state_is_refused(admin_client, emu):
    path = callback_path(consent(start(admin_client)))
    session = admin_client.session
    pending = session[OAUTH_SESSION_KEY]
    for entry in pending.values():
        entry["created"] = time.time() - 601
    session[OAUTH_SESSION_KEY] = pending
    session.save()
    response = admin_client.get(path, follow=True)
    assert "не относится к подключению" in messages_of(response)[0] or (
        "истекло" in messages_of(response)[0]
    )
    assert not YandexAccount.objects.exists()
    assert endpoint_calls(emu, "token") == 0


def test_expired_code_is_refused_with_a_clear_message(admin_client, emu):
    path = callback_path(consent(start(admin_client)))
    emu.advance_clock(11 * 60)
    response = admin_client.get(path, follow=True)
    assert messages_of(response) == [
        "Код авторизации истёк или уже использован. Ничего не сохранено; "
        "начните заново."
    ]
    assert not YandexAccount.objects.exists()


def test_token_without_the_upload_scope_is_not_saved(admin_client, emu):
    # The person edits the scope on the Yandex page: Yandex issues what was asked.
    location = consent(start(admin_client), scope="metrika:read")
    response = admin_client.get(callback_path(location), follow=True)
    assert "metrika:offline_data" in messages_of(response)[0]
    assert "Ничего не сохранено" in messages_of(response)[0]
    assert not YandexAccount.objects.exists()


def test_reconnecting_the_same_login_replaces_the_token(admin_client, account, emu):
    counter_count = Counter.objects.count()
    admin_client.get(callback_path(consent(start(admin_client))))
    account.refresh_from_db()
    assert YandexAccount.objects.count() == 1
    assert account.access_token() != TOKEN
    assert Counter.objects.count() == counter_count
    assert AuditEvent.objects.filter(action="account.token_replaced").exists()


def test_connect_without_an_oauth_app_explains_what_to_set(admin_client, settings):
    settings.YANDEX_OAUTH_CLIENT_ID = ""
    response = admin_client.get(CONNECT, follow=True)
    assert "YANDEX_OAUTH_CLIENT_ID" in messages_of(response)[0]


def test_pasted_token_is_checked_then_saved(admin_client, emu):
    response = admin_client.post(
        reverse("counters:account_paste"), {"access_token": f"  {TOKEN} "}
    )
    account = YandexAccount.objects.get()
    assert response.url == reverse("counters:account_import", args=[account.pk])
    assert account.access_token() == TOKEN
    assert account.source == YandexAccount.Source.MANUAL
    assert account.scopes is None
    assert not account.has_refresh_token
    assert endpoint_calls(emu, "info") == 1
    assert endpoint_calls(emu, "counters") == 1


def test_pasted_token_that_yandex_refuses_is_not_saved(admin_client, emu):
    response = admin_client.post(
        reverse("counters:account_paste"), {"access_token": "y0_made_up"}
    )
    assert response.status_code == 200
    assert "Яндекс не принимает этот токен" in response.text
    assert "y0_made_up" not in response.text
    assert not YandexAccount.objects.exists()


def test_pasted_token_without_metrika_read_is_not_saved(admin_client, emu):
    emu.add_token("y0_no_metrika", "agency", scopes=["metrika:offline_data"])
    response = admin_client.post(
        reverse("counters:account_paste"), {"access_token": "y0_no_metrika"}
    )
    assert "metrika:read" in response.text
    assert not YandexAccount.objects.exists()


def test_pasted_read_only_token_is_saved_and_lists_counters(admin_client, emu):
    admin_client.post(
        reverse("counters:account_paste"), {"access_token": READONLY_TOKEN}
    )
    assert YandexAccount.objects.get().login == "other"


def test_no_secret_reaches_the_audit_log(admin_client, emu):
    admin_client.get(callback_path(consent(start(admin_client))))
    account = YandexAccount.objects.get()
    dump = str(list(AuditEvent.objects.values()))
    assert account.access_token() not in dump
    assert account.refresh_token() not in dump
    assert CLIENT_SECRET not in dump
    assert REDIRECT_URI not in dump
