"""Every URL of the counters area, tried by every kind of visitor.

Anonymous visitors go to the login page; marketers get 404 for counters not
granted to them and 403 for admin pages; nothing changes on a refused POST.
"""

import pytest
from django.urls import reverse

from ordersync.core.models import AuditEvent
from ordersync.counters.models import Counter, CounterGrant, YandexAccount

pytestmark = pytest.mark.django_db

ANON, OUTSIDER, GRANTED, ADMIN = "anonymous", "outsider", "granted", "admin"


def snapshot() -> list:
    return [
        list(YandexAccount.objects.order_by("pk").values()),
        list(Counter.objects.order_by("pk").values()),
        list(CounterGrant.objects.order_by("pk").values()),
        # A refused page records itself; any other audit row would be a write.
        AuditEvent.objects.exclude(action="access.denied").count(),
    ]


# (url name, args, method, data, {visitor: status}); LOGIN means a login redirect.
LOGIN = "login"
COUNTER_READ = {ANON: LOGIN, OUTSIDER: 404, GRANTED: 200, ADMIN: 200}
COUNTER_WRITE = {ANON: LOGIN, OUTSIDER: 404, GRANTED: 403, ADMIN: 302}
ADMIN_PAGE = {ANON: LOGIN, OUTSIDER: 403, GRANTED: 403, ADMIN: 200}
ADMIN_POST = {ANON: LOGIN, OUTSIDER: 403, GRANTED: 403, ADMIN: 302}
CASES = [
    ("counters:counter_list", "", "get", None, {**COUNTER_READ, OUTSIDER: 200}),
    ("counters:counter_detail", "counter", "get", None, COUNTER_READ),
    (
        "counters:counter_settings",
        "counter",
        "post",
        {
            "default_merge_mode": "APPEND",
            "hash_personal_data": "",
            "default_phone_region": "KZ",
        },
        COUNTER_WRITE,
    ),
    ("counters:counter_remove", "counter", "post", {}, COUNTER_WRITE),
    ("counters:grant_create", "counter", "post", {"user": "outsider"}, COUNTER_WRITE),
    ("counters:grant_delete", "grant", "post", {}, COUNTER_WRITE),
    ("counters:account_list", "", "get", None, ADMIN_PAGE),
    ("counters:account_connect", "", "get", None, {**ADMIN_PAGE, ADMIN: 302}),
    ("counters:oauth_callback", "", "get", None, {**ADMIN_PAGE, ADMIN: 302}),
    ("counters:account_paste", "", "get", None, ADMIN_PAGE),
    (
        "counters:account_paste",
        "",
        "post",
        {"access_token": "y0_whatever"},
        {**ADMIN_POST, ADMIN: 200},
    ),
    ("counters:account_detail", "account", "get", None, ADMIN_PAGE),
    ("counters:account_check", "account", "post", {}, ADMIN_POST),
    ("counters:account_import", "account", "get", None, ADMIN_PAGE),
    (
        "counters:account_import",
        "account",
        "post",
        {"metrika_ids": ["202"]},
        ADMIN_POST,
    ),
    ("counters:account_sync", "account", "post", {}, ADMIN_POST),
    ("counters:account_disconnect", "account", "post", {}, ADMIN_POST),
    ("core:audit_log", "", "get", None, ADMIN_PAGE),
]
WRITES_BY_ADMIN = {
    "counters:counter_settings",
    "counters:counter_remove",
    "counters:grant_create",
    "counters:grant_delete",
    "counters:account_import",
    "counters:account_sync",
    "counters:account_disconnect",
    "counters:account_check",
}


@pytest.fixture
def world(counter, other_counter, granted, outsider, admin_user, emulator):
    grant = CounterGrant.objects.get(counter=counter, user=granted)
    # Removed earlier, so an admin can import it again.
    other_counter.enabled = False
    other_counter.save()
    return {
        "counter": counter,
        "account": counter.account,
        "grant": grant,
        "users": {OUTSIDER: outsider, GRANTED: granted, ADMIN: admin_user},
    }


def url_for(name: str, target: str, world) -> str:
    if target == "":
        return reverse(name)
    if target == "grant":
        return reverse(name, args=[world["counter"].pk, world["grant"].pk])
    return reverse(name, args=[world[target].pk])


@pytest.mark.parametrize("visitor", [ANON, OUTSIDER, GRANTED, ADMIN])
@pytest.mark.parametrize(
    ("name", "target", "method", "data", "expected"),
    CASES,
    ids=[f"{c[2]}-{c[0].split(':')[1]}" for c in CASES],
)
def test_access_matrix(client, world, visitor, name, target, method, data, expected):
    if visitor != ANON:
        client.force_login(world["users"][visitor])
    if data and data.get("user") == "outsider":
        data = {"user": world["users"][OUTSIDER].pk}
    url = url_for(name, target, world)
    before = snapshot()
    response = (
        getattr(client, method)(url, data)
        if data is not None
        else (getattr(client, method)(url))
    )
    want = expected[visitor]
    if want == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == want
    refused = want in (LOGIN, 403, 404)
    if refused or method == "get" or name not in WRITES_BY_ADMIN:
        after = snapshot()
        if refused:
            assert after == before
    else:
        assert snapshot() != before
    for value in ("y0_", "1:AGENCY", world["account"].access_token_encrypted[:20]):
        assert value not in response.content.decode()


def test_outsider_sees_no_counter_in_the_list(client, world):
    client.force_login(world["users"][OUTSIDER])
    page = client.get(reverse("counters:counter_list")).text
    assert "Shop" not in page
    assert "Clinic" not in page
    assert "Вам пока не открыт ни один счётчик" in page


def test_granted_marketer_sees_only_the_granted_counter(client, world):
    client.force_login(world["users"][GRANTED])
    page = client.get(reverse("counters:counter_list")).text
    assert "Shop" in page
    assert "Clinic" not in page
    other = Counter.objects.get(name="Clinic")
    response = client.get(reverse("counters:counter_detail", args=[other.pk]))
    assert response.status_code == 404


def test_grant_to_a_group_reaches_its_members(client, world, counter):
    from django.contrib.auth.models import Group

    outsider = world["users"][OUTSIDER]
    CounterGrant.objects.create(
        counter=counter, group=Group.objects.get(name="Marketers")
    )
    client.force_login(outsider)
    response = client.get(reverse("counters:counter_detail", args=[counter.pk]))
    assert response.status_code == 200


def test_admin_gets_404_for_objects_that_do_not_exist(client, world):
    client.force_login(world["users"][ADMIN])
    assert client.get(reverse("counters:counter_detail", args=[999])).status_code == (
        404
    )
    assert client.get(reverse("counters:account_detail", args=[999])).status_code == (
        404
    )
    response = client.post(
        reverse("counters:grant_delete", args=[world["counter"].pk, 999])
    )
    assert response.status_code == 404


def test_a_grant_of_another_counter_cannot_be_removed_through_this_one(
    client, world, other_counter
):
    client.force_login(world["users"][ADMIN])
    response = client.post(
        reverse("counters:grant_delete", args=[other_counter.pk, world["grant"].pk])
    )
    assert response.status_code == 404
    assert CounterGrant.objects.filter(pk=world["grant"].pk).exists()


def test_get_on_post_only_urls_is_refused(client, world):
    client.force_login(world["users"][ADMIN])
    url = reverse("counters:account_disconnect", args=[world["account"].pk])
    assert client.get(url).status_code == 405
    assert YandexAccount.objects.get().status == YandexAccount.Status.ACTIVE
