import pytest

from ordersync.counters.models import Counter, CounterGrant, YandexAccount
from tests.browser.conftest import log_in
from tests.counters.conftest import SEED

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def emulator_seed():
    return SEED


@pytest.fixture
def emulator(emulator, settings):
    settings.YANDEX_OAUTH_REDIRECT_URI = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return emulator


def test_admin_connects_imports_grants_and_the_marketer_sees_one_counter(
    page, live_server, emulator, admin_user, marketer
):
    shots = page.shot_dir
    log_in(page, live_server, "alice-admin", "pw-admin-123456")
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("button", name="Администрирование").click()
    page.get_by_role("link", name="Аккаунты Яндекса").click()
    page.screenshot(path=shots / "accounts-empty.png", full_page=True)
    page.get_by_role("link", name="Подключить аккаунт Яндекса").click()

    # The emulator's Yandex ID consent page.
    page.wait_for_url(f"{emulator.url}/authorize?**")
    page.get_by_label("Account").select_option("agency")
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url("**/counters/accounts/*/import/")
    # The emulator's page has no favicon: its 404 is not ours.
    assert len(page.console_errors) <= 1
    page.console_errors.clear()
    assert page.get_by_text("Аккаунт Яндекса agency подключён").is_visible()
    blog = page.get_by_role("row", name="Blog")
    assert blog.get_by_role("checkbox").is_disabled()
    assert blog.get_by_text("Доступ только на просмотр").is_visible()
    page.screenshot(path=shots / "import.png", full_page=True)
    page.get_by_label("Добавить Shop").check()
    page.get_by_label("Добавить Clinic").check()
    page.get_by_role("button", name="Добавить выбранные счётчики").click()

    page.wait_for_url("**/counters/accounts/*/")
    assert page.get_by_text("Добавлены счётчики: Shop, Clinic.").is_visible()
    page.get_by_role("button", name="Проверить сейчас").click()
    assert page.get_by_text("Яндекс ответил: токен работает.").is_visible()
    panel = page.get_by_test_id("health-panel")
    assert panel.get_by_text("metrika:offline_data").is_visible()
    assert page.get_by_test_id("counters-reachable").inner_text() == "3"
    calls = page.get_by_test_id("account-calls")
    assert calls.get_by_role("row").count() >= 4, "code exchange, info, 2 lists"
    assert calls.get_by_text("POST /token").is_visible()
    page.screenshot(path=shots / "account-health.png", full_page=True)

    page.get_by_role("link", name="Shop").first.click()
    page.get_by_label("Пользователь").select_option(label="bob-marketer")
    page.get_by_role("button", name="Выдать доступ").click()
    assert page.get_by_text("bob-marketer теперь может загружать").is_visible()
    page.screenshot(path=shots / "counter-access.png", full_page=True)

    account = YandexAccount.objects.get()
    assert account.access_token() not in page.content()
    assert set(Counter.objects.values_list("name", flat=True)) == {"Shop", "Clinic"}
    assert CounterGrant.objects.get().user == marketer
    assert page.console_errors == []

    page.context.clear_cookies()
    log_in(page, live_server, "bob-marketer", "pw-marketer-123456")
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="Счётчики").click()
    assert page.get_by_role("link", name="Shop").is_visible()
    assert page.get_by_text("Clinic").count() == 0
    assert page.get_by_role("link", name="Аккаунты Яндекса").count() == 0
    page.screenshot(path=shots / "marketer-counters.png", full_page=True)
    assert page.console_errors == []
