"""Every call made to Yandex for an account is kept for the admins' account page."""

import pytest
from django.urls import reverse

from ordersync.counters import services
from ordersync.counters.errors import TokenCheckError
from ordersync.counters.models import AccountCall, YandexAccount
from tests.counters.conftest import REFRESH, TOKEN

pytestmark = pytest.mark.django_db


def calls(account) -> list[tuple[str, str, int | None]]:
    return [
        (c.method, c.path, c.status_code)
        for c in AccountCall.objects.filter(account=account).order_by(
            "started_at", "id"
        )
    ]


def test_check_now_keeps_the_refused_call_the_renewal_and_the_retry(account, emu):
    emu.add_fault("invalid_token", endpoint="counters", times=1)
    services.account_check(account=account)
    recorded = calls(account)
    assert [(m, s) for m, _, s in recorded] == [
        ("GET", 403),
        ("POST", 200),
        ("GET", 200),
    ]
    assert recorded[0][1].endswith("/counters") and recorded[2][1].endswith("/counters")
    assert recorded[1][1] == "/token"
    refused = AccountCall.objects.filter(account=account, status_code=403).get()
    assert refused.error_type == "invalid_token"


def test_connecting_a_pasted_token_keeps_the_calls_that_checked_it(
    client, admin_user, emu
):
    client.force_login(admin_user)
    client.post(reverse("counters:account_paste"), {"access_token": TOKEN})
    account = YandexAccount.objects.get()
    assert [(m, s) for m, _, s in calls(account)] == [("GET", 200), ("GET", 200)]


def test_an_unreachable_yandex_is_kept_as_a_call_without_an_answer(account, settings):
    settings.METRIKA_API_URL = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(TokenCheckError):
        services.account_check(account=account)
    call = AccountCall.objects.get(account=account)
    assert call.status_code is None
    assert call.error_type


def test_only_the_newest_calls_are_kept(account, emu, settings, monkeypatch):
    monkeypatch.setattr(services, "ACCOUNT_CALLS_KEPT", 3)
    for _ in range(5):
        services.account_check(account=account)
    assert AccountCall.objects.filter(account=account).count() == 3


def test_no_token_reaches_a_call_row_and_the_page_lists_them(
    client, admin_user, account, emu
):
    emu.add_fault("invalid_token", endpoint="counters", times=1)
    services.account_check(account=account)
    dump = str(list(AccountCall.objects.values()))
    new_token = account.__class__.objects.get(pk=account.pk).access_token()
    for secret in (TOKEN, REFRESH, new_token):
        assert secret not in dump
    client.force_login(admin_user)
    page = client.get(reverse("counters:account_detail", args=[account.pk])).text
    assert "Последние обращения к Яндексу" in page
    assert page.count('<span class="badge text-bg-success">200</span>') == 2
    assert '<span class="badge text-bg-danger">403</span>' in page
