"""A canary token's life, then a search for it everywhere it must not be.

The canary is connected through the counters services, used for an upload sent by
a real worker through Redis to the emulator, refreshed, and forced into the submit
task's error paths (a 503 and a dropped connection). Afterwards no token (old or
new, access or refresh) appears in the worker's log, the web process's log,
any rendered page (Django admin included), any Redis key or value (broker
messages and their task arguments), any e-mail, or any database column other
than the two ciphertext columns.
"""

import logging
import time

import pytest
from django.apps import apps
from django.core import mail
from django.db import models
from django.test import RequestFactory
from django.urls import reverse

from tests.conftest import database_url_for_subprocess
from tests.hardening import corpus
from tests.hardening.conftest import CANARY, CANARY_REFRESH, CLIENT_ID, CLIENT_SECRET
from tests.hardening.wizard import Wizard

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CIPHERTEXT = {("counters.yandexaccount", "access_token_encrypted"),
              ("counters.yandexaccount", "refresh_token_encrypted")}  # fmt: skip


@pytest.fixture
def worker_env(emulator, settings, monkeypatch):
    """Environment for the worker the celery_worker_process fixture starts."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("integration tests run against Redis")
    database_url_for_subprocess()
    fast = {
        "METRIKA_API_URL": emulator.url,
        "YANDEX_OAUTH_URL": emulator.url,
        "YANDEX_LOGIN_URL": emulator.url,
        "YANDEX_OAUTH_CLIENT_ID": CLIENT_ID,
        "YANDEX_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "METRIKA_CONNECT_TIMEOUT": "2",
        "METRIKA_READ_TIMEOUT": "5",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LOG_LEVEL": "DEBUG",
        "SUBMISSION_RETRY_BASE_SECONDS": "0.2",
        "SUBMISSION_RETRY_MAX_SECONDS": "1",
        "SUBMISSION_RECONCILE_GRACE_SECONDS": "0",
        "SUBMISSION_CONFIRM_INTERVAL_SECONDS": "0.5",
        "SUBMISSION_RATE_LIMIT_SECONDS": "0.2",
    }
    for key, value in fast.items():
        monkeypatch.setenv(key, value)
        if key.startswith("SUBMISSION_"):
            setattr(settings, key, float(value))
    return fast


def redis_dump(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    out = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            value = client.get(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            value = ""
        out.append(f"{key!r} {kind} {value!r}")
    return "\n".join(out)


def database_dump() -> tuple[str, int]:
    """Return every text and JSON value of every table but the ciphertexts."""
    texts = (models.CharField, models.TextField, models.JSONField, models.UUIDField,
             models.BinaryField, models.FileField)  # fmt: skip
    out, count = [], 0
    for model in apps.get_models():
        label = model._meta.label_lower
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, texts) and (label, f.attname) not in CIPHERTEXT
        ]
        if not columns:
            continue
        for row in model.objects.values_list(*columns):
            count += 1
            out.append(f"{label} {row!r}")
    return "\n".join(out), count


def test_canary_token_appears_nowhere_but_its_ciphertext(
    canary_marketer,
    worker_env,
    celery_worker_process,
    emulator_admin,
    client,
    caplog,
    settings,
    django_user_model,
):
    from ordersync.counters import crypto, services
    from ordersync.counters.models import Counter, CounterGrant
    from ordersync.submissions.models import Submission

    caplog.set_level(logging.DEBUG)
    admin = django_user_model.objects.create_superuser("root-admin", password="x" * 12)
    request = RequestFactory().post("/")
    request.user = admin
    request.session = {}
    account = services.account_connect_pasted(access_token=CANARY, request=request)
    # The pasted token comes without a refresh token; the OAuth flow would store one.
    account.refresh_token_encrypted = crypto.encrypt(CANARY_REFRESH)
    account.save()
    counter = Counter.objects.create(
        account=account, metrika_id=411, name="Canary shop",
        time_zone_name="Europe/Moscow", permission="own",
    )  # fmt: skip
    CounterGrant.objects.create(counter=counter, user=canary_marketer)

    # Send an upload through the worker, with a 503 and a dropped connection first.
    emulator_admin.add_fault("status", endpoint="upload", status=503, times=1)
    emulator_admin.add_fault("drop_before_body", endpoint="upload", times=1)
    client.force_login(canary_marketer)
    wizard = Wizard(client, _run_on_commit, counter, worker=True)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    run = wizard.upload(corpus.GOOD_CSV.encode(), "orders.csv", "text/csv")
    assert run.upload.status == "ready", run.upload.error_en
    wizard.post(run, "to-confirm", wizard.url(run, "preview"), {})
    wizard.post(run, "confirm", wizard.url(run, "confirm"), {})
    submission = Submission.objects.get(upload=run.upload)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        submission.refresh_from_db()
        if submission.status in Submission.TERMINAL:
            break
        time.sleep(0.2)
    assert submission.status == Submission.Status.ACCEPTED, submission.status
    assert submission.attempts.count() >= 3

    # Refresh: Yandex answers with a new pair; both pairs must stay hidden.
    services.account_refresh_token(account_id=account.pk, force=True)
    account.refresh_from_db()
    new_access = crypto.decrypt(account.access_token_encrypted)
    new_refresh = crypto.decrypt(account.refresh_token_encrypted)
    assert new_access != CANARY
    secrets = {CANARY, CANARY_REFRESH, new_access, new_refresh}

    pages = {}
    client.force_login(admin)
    for name, args in [
        ("admin:counters_yandexaccount_changelist", []),
        ("admin:counters_yandexaccount_change", [account.pk]),
        ("admin:counters_yandexaccount_history", [account.pk]),
        ("admin:counters_counter_change", [counter.pk]),
        ("admin:core_auditevent_changelist", []),
        ("counters:account_detail", [account.pk]),
        ("counters:account_list", []),
        ("submissions:detail", [run.upload.public_id]),
        ("submissions:history", []),
        ("core:dashboard", []),
        ("core:audit_log", []),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        pages[name] = response.content.decode()

    celery_worker_process.terminate()
    celery_worker_process.wait(timeout=15)
    worker_log = celery_worker_process.log_path.read_text()
    assert "submissions.process" in worker_log  # the log is the real one
    places = {
        "worker log": worker_log,
        "web log": caplog.text,
        "broker (Redis keys and values)": redis_dump(settings.CELERY_BROKER_URL),
        "e-mails": "\n".join(m.message().as_string() for m in mail.outbox),
        **{f"page {name}": text for name, text in pages.items()},
    }
    dump, rows = database_dump()
    places["database"] = dump
    assert rows > 20
    found = {
        place: [s[:12] for s in secrets if s in text]
        for place, text in places.items()
        if any(s in text for s in secrets)
    }
    assert not found, f"tokens found in: {found}"
    # The ciphertext is where it should be, and only there.
    assert crypto.decrypt(account.access_token_encrypted) == new_access


def _run_on_commit(execute=True):
    """Transactional tests commit for real: callbacks run by themselves."""
    from contextlib import nullcontext

    return nullcontext([])


@pytest.fixture
def canary_marketer(db, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="canary-marketer")
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    return user
