"""On SQLite, a write from a second thread waits for the first writer's commit
instead of failing: the web process, the worker and the browser tests' live server
all rely on it."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the busy wait is SQLite's own"
)
def test_a_second_writer_waits_for_the_first_instead_of_failing(django_user_model):
    user = django_user_model.objects.create_user(username="carol", password="x")
    outcome = {}

    def second_writer():
        try:
            django_user_model.objects.filter(pk=user.pk).update(first_name="second")
            outcome["ok"] = True
        except Exception as exc:
            outcome["error"] = repr(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        django_user_model.objects.filter(pk=user.pk).update(first_name="first")
        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), outcome
    thread.join(timeout=30)

    assert outcome == {"ok": True}
    user.refresh_from_db()
    assert user.first_name == "second"
