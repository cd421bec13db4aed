import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "pw-marketer-123456"


def attempt(client, password: str):
    return client.post(
        reverse("login"), {"username": "bob-marketer", "password": password}
    )


def test_the_last_allowed_wrong_password_still_shows_the_login_form(
    client, marketer, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = attempt(client, "wrong")
        assert response.status_code == 200
    response = attempt(client, PASSWORD)
    assert response.status_code == 302, "one failure short of the limit still logs in"


def test_reaching_the_limit_locks_the_user_out_even_with_the_right_password(
    client, marketer, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong").status_code == 200
    response = attempt(client, "wrong")
    assert response.status_code == 429
    assert "Слишком много неудачных попыток входа" in response.text
    assert "15 минут" in response.text
    assert attempt(client, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_of_one_user_leaves_others_alone(
    client, marketer, admin_user, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "wrong")
    response = client.post(
        reverse("login"), {"username": "alice-admin", "password": "pw-admin-123456"}
    )
    assert response.status_code == 302
