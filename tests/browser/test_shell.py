import pytest

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketer_logs_in_through_the_real_login_page(page, live_server, marketer):
    log_in(page, live_server, "bob-marketer", "pw-marketer-123456")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Обзор").is_visible()
    assert page.get_by_text("Добро пожаловать, bob-marketer").is_visible()
    page.screenshot(path=page.shot_dir / "dashboard.png", full_page=True)
    assert page.console_errors == []


def test_wrong_password_is_refused_with_a_message(page, live_server, marketer):
    log_in(page, live_server, "bob-marketer", "wrong-password")
    assert page.get_by_text(
        "Пожалуйста, введите правильные имя пользователя"
    ).is_visible()
    assert page.url.endswith("/login/")


def test_language_switcher_turns_the_page_english(page, live_server, marketer):
    log_in(page, live_server, "bob-marketer", "pw-marketer-123456")
    page.get_by_role("button", name="EN").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    page.screenshot(path=page.shot_dir / "dashboard-en.png", full_page=True)
