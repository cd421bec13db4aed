"""Submit a generated 1 GB order file through a real Celery worker to the emulator.

Prints the worker's peak RSS while it streams the file (target < 200 MB) and the
history list's server time with 100,000 uploads (target < 200 ms). Needs the
PostgreSQL and Redis of ``make test``; uses its own database ``ordersync_bench``
(dropped and created again) and Redis database 14.

    .venv/bin/python bench/submit_big.py                  # 1 GB, 100,000 uploads
    .venv/bin/python bench/submit_big.py --size-mb 50 --uploads 20000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PG, recreate_database  # noqa: E402
from bench.metrika_upload_stream import (  # noqa: E402
    COUNTER,
    MB,
    TOKEN,
    count_rows,
    generate,
    start_emulator,
)

DB = "ordersync_bench"
MEDIA = ROOT / "var/bench-media"


def setup_django(emulator_url: str) -> dict:
    from cryptography.fernet import Fernet

    env = {
        "DATABASE_URL": f"{PG}/{DB}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "MEDIA_ROOT": str(MEDIA),
        "METRIKA_API_URL": emulator_url,
        "METRIKA_READ_TIMEOUT": "600",
        "ORDERSYNC_TOKEN_KEYS": os.environ.get(
            "ORDERSYNC_TOKEN_KEYS", Fernet.generate_key().decode()
        ),
        "LOG_LEVEL": "WARNING",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def make_objects(data: Path, rows: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from ordersync.counters import crypto
    from ordersync.counters.models import Counter, CounterGrant, YandexAccount
    from ordersync.uploads.models import Upload, UploadPart

    user = get_user_model().objects.create_user("bench-marketer")
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    admin = get_user_model().objects.create_user("bench-admin", is_superuser=True)
    account = YandexAccount.objects.create(
        uid="1", login="demo-agency", source="manual",
        access_token_encrypted=crypto.encrypt(TOKEN), token_fingerprint="bench",  # noqa: S106
    )  # fmt: skip
    counter = Counter.objects.create(
        account=account, metrika_id=COUNTER, name="Demo shop",
        time_zone_name="Europe/Moscow", permission="own",
    )  # fmt: skip
    CounterGrant.objects.create(counter=counter, user=user)
    upload = Upload.objects.create(
        counter=counter, created_by=user, original_name=data.name,
        status=Upload.Status.CONFIRMED, rows_total=rows, rows_valid=rows,
    )  # fmt: skip
    name = f"uploads/{upload.public_id}/part-001.csv"
    target = MEDIA / name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(data, target)  # no 1 GB copy
    UploadPart.objects.create(
        upload=upload, index=0, file=name, size_bytes=data.stat().st_size, rows=rows
    )
    return user, admin, counter, upload


def start_worker(env: dict) -> subprocess.Popen:
    log = (ROOT / "var/bench-worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ordersync", "worker",
         "--loglevel", "WARNING", "--concurrency", "1", "--without-gossip",
         "--without-mingle", "--hostname", "bench@%h"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(4)
    return process


def submit(user, upload, worker: subprocess.Popen) -> None:
    from ordersync.submissions.models import Submission
    from ordersync.submissions.services import submission_create

    main = psutil.Process(worker.pid)
    idle = max(c.memory_info().rss for c in main.children(recursive=True))
    submission = submission_create(upload=upload, user=user, merge_mode="SAVE")
    peak_child = peak_total = 0
    started = time.monotonic()
    while True:
        procs = [main, *main.children(recursive=True)]
        rss = [p.memory_info().rss for p in procs]
        peak_child = max(peak_child, *rss[1:])
        peak_total = max(peak_total, sum(rss))
        submission.refresh_from_db()
        if submission.status in Submission.TERMINAL:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    size = upload.parts.get().size_bytes
    print(f"submission: {submission.status}, {submission.elements_count} rows taken")
    print(
        f"file: {size / MB:.0f} MB in {elapsed:.1f} s ({size / MB / elapsed:.0f} MB/s)"
    )
    print(
        f"worker child RSS: idle {idle / MB:.0f} MB, peak {peak_child / MB:.0f} MB "
        f"(target < 200 MB); whole worker peak {peak_total / MB:.0f} MB"
    )


def fill_history(counter, user, admin, count: int) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from ordersync.counters.models import Counter
    from ordersync.submissions.models import Submission
    from ordersync.uploads.models import Upload

    others = [
        Counter.objects.create(
            account=counter.account, metrika_id=COUNTER + n, name=f"Other {n}",
            time_zone_name="Europe/Moscow", permission="own",
        )
        for n in range(1, 4)
    ]  # fmt: skip
    counters = [counter, *others]
    statuses = [s for s, _ in Submission.Status.choices]
    now = timezone.now()
    batch = 10_000
    for start in range(0, count, batch):
        uploads = Upload.objects.bulk_create(
            Upload(
                counter=counters[n % 4], created_by=user if n % 3 else admin,
                original_name=f"crm-export-{n:06d}.csv", status="confirmed",
                created_at=now - timedelta(minutes=count - n), rows_total=100,
                rows_valid=95, rows_invalid=5, counts_by_code={"email_invalid": 5},
            )
            for n in range(start, min(start + batch, count))
        )  # fmt: skip
        Submission.objects.bulk_create(
            Submission(
                upload=u, counter=u.counter, created_by=u.created_by,
                original_name=u.original_name, created_at=u.created_at,
                merge_mode="SAVE", status=statuses[u.pk % len(statuses)],
                rows_sent=95, elements_count=95, finished_at=u.created_at,
            )
            for u in uploads
        )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def time_history(user, label: str, params: dict, runs: int = 15) -> float:
    from django.db import connection, reset_queries
    from django.test import Client

    client = Client()
    client.force_login(user)
    times = []
    for _ in range(runs):
        reset_queries()
        started = time.perf_counter()
        response = client.get("/history/", params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    median = statistics.median(times)
    queries = len(connection.queries)
    print(f"  {label:<34} median {median:6.1f} ms  (max {max(times):.1f}, {queries} q)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--uploads", type=int, default=100_000)
    args = parser.parse_args()

    data = ROOT / f"bench/data/orders-{args.size_mb}mb.csv"
    if not data.exists() or not (
        args.size_mb * MB - MB < data.stat().st_size <= args.size_mb * MB
    ):
        generate(data, args.size_mb * MB)
    rows = count_rows(data)
    recreate_database(DB)
    import shutil

    shutil.rmtree(MEDIA, ignore_errors=True)
    emulator, url = start_emulator(
        {"validate_rows": False, "store_orders": False, "rps_per_ip": None}
    )
    worker = None
    try:
        env = setup_django(url)
        user, admin, counter, upload = make_objects(data, rows)
        worker = start_worker(env)
        submit(user, upload, worker)
        started = time.monotonic()
        fill_history(counter, user, admin, args.uploads)
        took = time.monotonic() - started
        print(f"history: {args.uploads} uploads made in {took:.0f} s")
        from django.conf import settings

        settings.DEBUG = True  # count queries
        from ordersync.submissions.models import Submission

        older = Submission.objects.order_by("-created_at", "-id")[5000]
        cursor = f"{older.created_at.timestamp():.6f}_{older.pk}"
        worst = 0.0
        for who, person in (("marketer", user), ("admin", admin)):
            print(f" as {who}:")
            for label, params in (
                ("first page", {}),
                ("page 100 (keyset)", {"before": cursor}),
                ("counter + status", {"counter": counter.pk, "status": "accepted"}),
                ("search by file name", {"q": "export-0999"}),
                ("date range", {"date_from": "2020-01-01", "date_to": "2099-01-01"}),
            ):
                worst = max(worst, time_history(person, label, params))
        print(f"history list: worst median {worst:.1f} ms (target < 200 ms)")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        emulator.terminate()
        shutil.rmtree(MEDIA, ignore_errors=True)


if __name__ == "__main__":
    main()
