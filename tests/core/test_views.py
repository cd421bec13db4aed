import pytest
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_dashboard_sends_anonymous_visitors_to_login(client):
    response = client.get(reverse("core:dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_dashboard_greets_a_logged_in_marketer_in_russian(client, marketer):
    client.force_login(marketer)
    response = client.get(reverse("core:dashboard"))
    assert response.status_code == 200
    assert "Добро пожаловать, bob-marketer" in response.text
    assert response.headers["Content-Language"] == "ru"


def test_language_switch_turns_the_interface_english(client, marketer):
    client.force_login(marketer)
    response = client.post(
        reverse("set_language"), {"language": "en", "next": "/"}, follow=True
    )
    assert "Welcome, bob-marketer" in response.text
    assert "Добро пожаловать" not in response.text


def test_health_page_is_forbidden_to_marketers(client, marketer):
    client.force_login(marketer)
    response = client.get(reverse("core:health"))
    assert response.status_code == 403
    assert "Доступ запрещён" in response.text


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_health_page_shows_every_check_to_admins(client, admin_user, settings):
    from ordersync.celery import app

    app.conf.task_always_eager = True
    try:
        client.force_login(admin_user)
        response = client.get(reverse("core:health"))
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 200
    assert response.text.count("badge text-bg-success") == 3


def test_unknown_page_gets_the_friendly_404(client, marketer):
    client.force_login(marketer)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Страница не найдена" in response.text


def test_server_error_page_shows_no_details(rf):
    from ordersync.core.views import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Traceback" not in response.content.decode()


def test_every_page_carries_a_content_security_policy(client):
    response = client.get(reverse("login"))
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
