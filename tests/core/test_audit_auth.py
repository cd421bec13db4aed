"""Sign-ins, refused sign-ins, lockouts and refused pages reach the audit log."""

import pytest
from django.urls import reverse

from ordersync.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def test_a_sign_in_and_a_sign_out_are_recorded_with_who_and_where(client, marketer):
    response = client.post(
        reverse("login"),
        {"username": "bob-marketer", "password": "pw-marketer-123456"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.7")
    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.action for e in events] == ["auth.login", "auth.logout"]
    assert {e.actor_name for e in events} == {"bob-marketer"}
    assert {e.ip for e in events} == {"203.0.113.7"}


def test_a_refused_password_is_recorded_without_the_password(client, marketer):
    client.post(
        reverse("login"), {"username": "bob-marketer", "password": "hunter2-wrong"}
    )
    event = AuditEvent.objects.get()
    assert event.action == "auth.login_failed"
    assert event.actor is None
    assert event.details == {"username": "bob-marketer"}
    assert "hunter2" not in str(list(AuditEvent.objects.values()))


def test_a_lockout_is_recorded_once_the_limit_is_reached(client, marketer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "bob-marketer", "password": "x"})
    assert actions().count("auth.login_failed") == settings.AXES_FAILURE_LIMIT
    assert actions().count("auth.locked_out") == 1


def test_a_refused_page_is_recorded_with_its_path_but_not_its_query(client, marketer):
    client.force_login(marketer)
    response = client.get(reverse("core:audit_log") + "?action=secret-search")
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="access.denied")
    assert event.actor_name == "bob-marketer"
    assert event.details == {"method": "GET", "path": reverse("core:audit_log")}


def test_admins_read_sign_in_events_by_their_names(client, admin_user, marketer):
    client.post(reverse("login"), {"username": "bob-marketer", "password": "wrong"})
    client.force_login(admin_user)
    response = client.get(reverse("core:audit_log"))
    assert "Вход отклонён" in response.text
