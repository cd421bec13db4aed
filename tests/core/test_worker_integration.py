import pytest
from django.urls import reverse

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_health_page_round_trips_a_task_through_a_real_worker(
    client, admin_user, celery_worker_process
):
    client.force_login(admin_user)
    response = client.get(reverse("core:health"))
    assert response.status_code == 200, response.text
    assert response.text.count("badge text-bg-success") == 3
    assert "postgresql" in response.text
    assert "health_ping_answer" in celery_worker_process.log_path.read_text()


def test_health_page_reports_a_missing_worker(client, admin_user, settings):
    from ordersync.core import services

    client.force_login(admin_user)
    result = services.health_check_worker(wait_seconds=1)
    assert not result.ok
    assert result.detail == "Ни один обработчик не ответил за 1 с."
