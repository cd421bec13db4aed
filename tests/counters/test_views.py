import copy

import pytest
from django.urls import reverse

from ordersync.core.models import AuditEvent
from ordersync.counters import selectors, services
from ordersync.counters.errors import TokenCheckError
from ordersync.counters.models import Counter, CounterGrant, YandexAccount
from tests.counters.conftest import EDIT, OWN, SEED, TOKEN, VIEW

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user, emulator):
    client.force_login(admin_user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_import_page_lists_what_the_account_sees(admin_client, account):
    page = admin_client.get(reverse("counters:account_import", args=[account.pk]))
    text = page.text
    for name in ("Shop", "Clinic", "Blog"):
        assert name in text
    assert "Not ours" not in text
    assert f'name="metrika_ids" value="{OWN}"' in text
    assert f'name="metrika_ids" value="{VIEW}"' not in text
    assert "Доступ только на просмотр: Метрика не примет загрузку" in text


def test_importing_adds_counters_with_their_name_site_and_zone(
    admin_client, account, admin_user
):
    response = admin_client.post(
        reverse("counters:account_import", args=[account.pk]),
        {"metrika_ids": [OWN, EDIT]},
        follow=True,
    )
    assert messages_of(response) == ["Добавлены счётчики: Shop, Clinic."]
    clinic = Counter.objects.get(metrika_id=EDIT)
    assert (clinic.name, clinic.site, clinic.time_zone_name, clinic.permission) == (
        "Clinic",
        "clinic.example",
        "Asia/Yekaterinburg",
        "edit",
    )
    assert clinic.added_by == admin_user
    assert AuditEvent.objects.filter(action="counter.added").count() == 2


def test_a_view_only_counter_is_refused_and_nothing_is_added(admin_client, account):
    response = admin_client.post(
        reverse("counters:account_import", args=[account.pk]),
        {"metrika_ids": [OWN, VIEW]},
        follow=True,
    )
    assert messages_of(response) == [
        "Счётчик 203 (Blog): у аккаунта только доступ «view»; для загрузки заказов "
        "нужен «own» или «edit»."
    ]
    assert not Counter.objects.exists()


def test_a_counter_of_another_account_cannot_be_imported(
    account, rf, admin_user, emulator
):
    from ordersync.counters.errors import CounterImportError

    request = rf.post("/")
    request.user = admin_user
    with pytest.raises(CounterImportError, match="204 не виден аккаунту agency"):
        services.counter_import(account=account, metrika_ids=[204], request=request)
    assert not Counter.objects.exists()


def test_sync_renames_and_marks_vanished_counters(
    admin_client, counter, other_counter, emu
):
    seed = copy.deepcopy(SEED)
    seed["counters"][0]["name"] = "Shop (renamed)"
    seed["counters"][1]["grants"] = {}
    emu.seed(seed)
    response = admin_client.post(
        reverse("counters:account_sync", args=[counter.account.pk]), follow=True
    )
    assert messages_of(response) == ["Счётчики сверены с Яндексом; изменилось: 2."]
    counter.refresh_from_db()
    other_counter.refresh_from_db()
    assert counter.name == "Shop (renamed)"
    assert not other_counter.reachable
    assert not other_counter.can_upload
    assert "аккаунт его больше не видит" in response.text


def test_settings_are_saved_and_audited(admin_client, counter):
    response = admin_client.post(
        reverse("counters:counter_settings", args=[counter.pk]),
        {"default_merge_mode": "UPDATE", "default_phone_region": "kz"},
    )
    assert response.status_code == 302, response.text
    counter.refresh_from_db()
    assert counter.default_merge_mode == "UPDATE"
    assert counter.hash_personal_data is False
    assert counter.default_phone_region == "KZ"
    event = AuditEvent.objects.get(action="counter.settings_changed")
    assert event.details["default_merge_mode"] == ["SAVE", "UPDATE"]


def test_unknown_phone_region_is_refused(admin_client, counter):
    response = admin_client.post(
        reverse("counters:counter_settings", args=[counter.pk]),
        {"default_merge_mode": "UPDATE", "default_phone_region": "XX"},
    )
    assert response.status_code == 400
    assert "Неизвестный код страны." in response.text
    counter.refresh_from_db()
    assert counter.default_merge_mode == "SAVE"


def test_granting_and_removing_access(admin_client, counter, marketer, client):
    admin_client.post(
        reverse("counters:grant_create", args=[counter.pk]), {"user": marketer.pk}
    )
    grant = CounterGrant.objects.get()
    assert list(selectors.counter_list_for_upload(marketer)) == [counter]
    response = admin_client.post(
        reverse("counters:grant_delete", args=[counter.pk, grant.pk]), follow=True
    )
    assert messages_of(response)[-1] == "Доступ для bob-marketer отозван."
    assert not selectors.counter_list_for_upload(marketer).exists()
    actions = list(
        AuditEvent.objects.exclude(action__startswith="auth.").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["grant.added", "grant.removed"]


def test_a_grant_names_a_user_or_a_group_not_both(admin_client, counter, marketer):
    from django.contrib.auth.models import Group

    response = admin_client.post(
        reverse("counters:grant_create", args=[counter.pk]),
        {"user": marketer.pk, "group": Group.objects.get(name="Marketers").pk},
        follow=True,
    )
    assert messages_of(response) == ["Выберите либо пользователя, либо группу."]
    assert not CounterGrant.objects.exists()


def test_counters_for_upload_leave_out_unusable_ones(make_account, marketer, outsider):
    from django.contrib.auth.models import Group

    good = make_account()
    bad = make_account(uid="9", login="revoked", status="needs_reauth")
    fields = {"site": "", "time_zone_name": "Europe/Moscow"}
    ready = Counter.objects.create(
        account=good, metrika_id=1, name="a", permission="edit", **fields
    )
    view = Counter.objects.create(
        account=good, metrika_id=2, name="b", permission="view", **fields
    )
    gone = Counter.objects.create(
        account=good,
        metrika_id=3,
        name="c",
        permission="own",
        reachable=False,
        **fields,
    )
    removed = Counter.objects.create(
        account=good, metrika_id=4, name="d", permission="own", enabled=False, **fields
    )
    revoked = Counter.objects.create(
        account=bad, metrika_id=5, name="e", permission="own", **fields
    )
    marketers = Group.objects.get(name="Marketers")
    for counter in (ready, view, gone, removed, revoked):
        CounterGrant.objects.create(counter=counter, group=marketers)
    assert list(selectors.counter_list_for_upload(marketer)) == [ready]
    assert selectors.counter_get_for_upload(marketer, ready.pk) == ready
    with pytest.raises(Exception, match="No Counter matches"):
        selectors.counter_get_for_upload(marketer, view.pk)
    assert set(selectors.counter_list_for_user(outsider)) == {
        ready,
        view,
        gone,
        revoked,
    }


def test_saved_mappings_and_status_dictionaries(counter, marketer, outsider, granted):
    services.saved_mapping_save(
        counter=counter, name="CRM export", mapping={"E-mail": "emails"}, user=marketer
    )
    services.saved_mapping_save(
        counter=counter, name="CRM export", mapping={"Mail": "emails"}, user=marketer
    )
    services.status_dictionary_save(
        counter=counter, name="amoCRM", statuses={"Оплачен": "PAID"}, user=marketer
    )
    assert [m.mapping for m in selectors.saved_mapping_list(marketer, counter)] == [
        {"Mail": "emails"}
    ]
    assert not selectors.saved_mapping_list(outsider, counter).exists()
    assert [
        d.statuses for d in selectors.status_dictionary_list(marketer, counter)
    ] == [{"Оплачен": "PAID"}]


def test_metrika_client_for_an_account_stamps_successful_calls(account, emu):
    assert account.last_success_at is None
    client = services.account_metrika_client(account=account)
    assert TOKEN not in repr(client)
    client.counters()
    account.refresh_from_db()
    assert account.last_success_at is not None


def test_no_client_for_an_account_that_needs_reauthorisation(make_account):
    account = make_account(status=YandexAccount.Status.NEEDS_REAUTH)
    with pytest.raises(TokenCheckError, match="нужно подключить заново"):
        services.account_metrika_client(account=account)


def test_health_panel_shows_expiry_scopes_and_reachable_counters(
    admin_client, account, counter
):
    response = admin_client.post(
        reverse("counters:account_check", args=[account.pk]), follow=True
    )
    assert messages_of(response) == ["Яндекс ответил: токен работает."]
    text = response.text
    assert "metrika:offline_data" in text
    assert 'data-testid="counters-reachable">3<' in text
    assert account.token_fingerprint in text
    assert TOKEN not in text


def test_disconnect_forgets_the_tokens(admin_client, account):
    response = admin_client.post(
        reverse("counters:account_disconnect", args=[account.pk]), follow=True
    )
    account.refresh_from_db()
    assert account.status == YandexAccount.Status.DISCONNECTED
    assert account.access_token_encrypted == ""
    assert "Доступ к данным" in messages_of(response)[0]


def test_django_admin_lists_accounts_without_tokens(client, account, django_user_model):
    boss = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(boss)
    listing = client.get("/admin/counters/yandexaccount/").text
    change = client.get(f"/admin/counters/yandexaccount/{account.pk}/change/").text
    for page in (listing, change):
        assert account.token_fingerprint in page
        assert TOKEN not in page
        assert account.access_token_encrypted not in page


def test_audit_log_page_lists_events_for_admins(admin_client, counter, marketer):
    services.grant_add(
        counter=counter,
        user=marketer,
        request=admin_client.get(reverse("core:dashboard")).wsgi_request,
    )
    text = admin_client.get(reverse("core:audit_log")).text
    assert "Доступ выдан" in text
    assert "alice-admin" in text
