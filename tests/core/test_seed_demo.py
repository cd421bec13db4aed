import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from ordersync.counters import selectors, services
from ordersync.counters.models import Counter, YandexAccount
from ordersync.metrika.emulator import DEMO_SEED, RunningEmulator

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_demo_has_an_account_two_counters_and_a_granted_marketer(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "Demo user 'admin', password:" in out
    account = YandexAccount.objects.get()
    assert account.login == "demo-agency"
    assert account.access_token() == "y0_demo-agency-long-lived-token"
    assert sorted(Counter.objects.values_list("metrika_id", flat=True)) == [
        90000001,
        90000002,
    ]
    marketer = get_user_model().objects.get(username="marketer")
    assert [c.metrika_id for c in selectors.counter_list_for_upload(marketer)] == [
        90000001
    ]


def test_running_it_again_restores_the_seed_token_and_keeps_passwords(capsys):
    call_command("seed_demo")
    YandexAccount.objects.update(status=YandexAccount.Status.NEEDS_REAUTH)
    capsys.readouterr()
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "', password:" not in out
    account = YandexAccount.objects.get()
    assert account.status == YandexAccount.Status.ACTIVE
    assert Counter.objects.count() == 2


def test_the_demo_account_works_against_the_demo_emulator(settings):
    call_command("seed_demo")
    with RunningEmulator(port=0, seed=DEMO_SEED) as emulator:
        settings.METRIKA_API_URL = emulator.url
        account = services.account_check(account=YandexAccount.objects.get())
    assert account.counters_reachable == 3
    assert all(c.can_upload for c in Counter.objects.all())
