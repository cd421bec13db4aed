"""Server time of the wizard's pages for a validated 1,000,000-row upload.

Builds the database state such an upload has (counts, the first 10,000 problems,
the preview of sent rows, parts) in a throw-away test database, then times the
preview page, pages of the problem table and the progress endpoint through
Django's test client, in process. Targets: preview and each problem page < 300 ms,
progress < 50 ms.

    .venv/bin/python bench/wizard_pages.py [--rows 1000000] [--repeat 20]

It uses the configured database engine (DATABASE_URL), e.g. PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")

import django  # noqa: E402

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

CODES = [
    ("email_invalid", "error", "E-mail"),
    ("phone_invalid", "error", "Телефон"),
    ("date_invalid", "error", "Дата"),
    ("money_invalid", "error", "Сумма"),
    ("status_unmapped", "error", "Статус"),
    ("id_duplicate", "warning", "Номер заказа"),
    ("value_repaired", "warning", "Телефон"),
    ("date_older_than_90_days", "warning", "Дата"),
]


def build(rows: int):
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from ordersync.counters import crypto
    from ordersync.counters.models import Counter, CounterGrant, YandexAccount
    from ordersync.metrika.types import token_fingerprint
    from ordersync.uploads.models import Upload, UploadPart, UploadProblem

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    user = get_user_model().objects.create_user(username="bench")
    account = YandexAccount.objects.create(
        uid="1",
        login="bench",
        source=YandexAccount.Source.MANUAL,
        access_token_encrypted=crypto.encrypt("y0_bench"),
        token_fingerprint=token_fingerprint("y0_bench"),
    )
    counter = Counter.objects.create(
        account=account,
        metrika_id=1,
        name="Bench",
        time_zone_name="Europe/Moscow",
        permission="own",
    )
    CounterGrant.objects.create(counter=counter, user=user)
    counts = {code: rows // 50 for code, _s, _c in CODES}
    columns = ["id", "create_date_time", "emails_md5", "phones_md5", "revenue"]
    upload = Upload.objects.create(
        counter=counter,
        created_by=user,
        original_name="big.csv",
        status=Upload.Status.READY,
        step=Upload.Step.CONFIRM,
        rows_total=rows,
        rows_valid=rows - rows // 10,
        rows_invalid=rows // 10,
        warnings_count=3 * rows // 50,
        counts_by_code=counts,
        problems_kept=settings.UPLOAD_MAX_PROBLEMS,
        output_columns=columns,
        output_preview=[
            {
                "row": n + 2,
                "values": [f"o{n}", "2024-03-05 10:00:00", "a" * 32, "b" * 32, "1500"],
                "repaired": {"phones_md5": "8 912 345-67-89"} if n % 5 == 0 else {},
            }
            for n in range(50)
        ],
        columns=["Номер заказа", "Дата", "E-mail", "Телефон", "Статус", "Сумма"],
    )
    upload.original_file.save("source", ContentFile(b"x"), save=True)
    part = UploadPart(upload=upload, index=0, size_bytes=123_456_789, rows=900_000)
    part.file.save("part.csv", ContentFile(b"id\n"), save=True)
    UploadProblem.objects.bulk_create(
        (
            UploadProblem(
                upload=upload,
                row=2 + i * (rows // settings.UPLOAD_MAX_PROBLEMS),
                code=CODES[i % len(CODES)][0],
                severity=CODES[i % len(CODES)][1],
                column=CODES[i % len(CODES)][2],
                field="emails",
                value=f"value-{i}",
                params={"other_row": "2", "count": "7", "repaired": "x", "how_ru": "y"},
            )
            for i in range(settings.UPLOAD_MAX_PROBLEMS)
        ),
        batch_size=2000,
    )
    analysing = Upload.objects.create(
        counter=counter,
        created_by=user,
        original_name="running.csv",
        status=Upload.Status.ANALYSING,
        job=Upload.Job.VALIDATE,
        progress_rows=rows // 2,
        progress_fraction=0.5,
    )
    from django.utils import timezone

    Upload.objects.filter(pk=analysing.pk).update(job_started_at=timezone.now())
    return user, upload, analysing


def timed(client: Client, url: str, repeat: int) -> tuple[float, float, int]:
    client.get(url)  # warm caches and template loading
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), max(times), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        user, upload, analysing = build(args.rows)
        client = Client()
        client.force_login(user)
        preview = reverse("uploads:preview", args=[upload.public_id])
        pages = [
            ("preview page", preview, 300),
            ("problems page 2", f"{preview}?page=2", 300),
            ("problems page 100", f"{preview}?page=100", 300),
            ("problems page 200 (last)", f"{preview}?page=200", 300),
            ("problems by code, page 1", f"{preview}?code=phone_invalid", 300),
            ("problems by code, page 25", f"{preview}?code=phone_invalid&page=25", 300),
            ("confirm page", reverse("uploads:confirm", args=[upload.public_id]), 300),
            (
                "progress endpoint",
                reverse("uploads:progress", args=[analysing.public_id]),
                50,
            ),
        ]
        from django.db import connection as conn

        print(
            f"Upload of {args.rows:,} rows, {upload.problems_kept:,} problems kept, "
            f"database {conn.vendor}; median and max of {args.repeat} requests"
        )
        for label, url, target in pages:
            median, worst, size = timed(client, url, args.repeat)
            verdict = "ok" if median < target else "SLOW"
            print(
                f"  {label:28} median {median:7.1f} ms  max {worst:7.1f} ms  "
                f"target < {target} ms  {verdict}  ({size / 1024:.0f} KB)"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
