"""Load: simulated marketers upload, check and browse for minutes on 127.0.0.1.

Starts gunicorn (the project's WSGI app), a Celery worker and the Metrika emulator
on PostgreSQL and Redis, seeds marketers granted the demo counters, then runs
locust headless (``bench/locustfile.py``): each marketer logs in, takes a small
generated order file through every step of the wizard (half are sent to Metrika),
browses the history and the dashboard. Prints p50/p95/p99 of pages (GET), of the
file upload POST and of the other form POSTs, requests and errors. Target: 0 errors
and p95 of pages under 500 ms; the exit status is 1 when it is missed.

    .venv/bin/python bench/load.py [--users 50] [--minutes 5] [--web-workers 4]

Needs the PostgreSQL and Redis of ``make test``; uses its own database
``ordersync_load`` (dropped and created again) and Redis database 12, and the
packages of ``bench/requirements.txt`` (locust).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PG, free_port, recreate_database  # noqa: E402
from bench.metrika_upload_stream import start_emulator  # noqa: E402

DB = "ordersync_load"
REDIS = "redis://127.0.0.1:6379/12"
MEDIA = ROOT / "var/load-media"
LOGS = ROOT / "var/load-logs"
PAGE_P95_TARGET_MS = 500
# The throttles a production site keeps, raised so one address playing 50 people
# is not taken for an attack (see the printed note).
UNTHROTTLED = {"UPLOAD_RATE_LIMIT": "1000000", "AXES_FAILURE_LIMIT": "1000000"}


def recreate_stores() -> None:
    """A new database, and the Redis database emptied."""
    recreate_database(DB)
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def environment(emulator_url: str) -> dict:
    from cryptography.fernet import Fernet

    return {
        "DATABASE_URL": f"{PG}/{DB}",
        "CELERY_BROKER_URL": REDIS,
        "MEDIA_ROOT": str(MEDIA),
        "METRIKA_API_URL": emulator_url,
        "YANDEX_OAUTH_URL": emulator_url,
        "YANDEX_LOGIN_URL": emulator_url,
        "ORDERSYNC_TOKEN_KEYS": Fernet.generate_key().decode(),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        **UNTHROTTLED,
    }


def seed(env: dict, users: int, password: str) -> list[str]:
    """Migrate, connect the demo account (``seed_demo``) and add marketers."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from ordersync.core.permissions import MARKETERS_GROUP
    from ordersync.counters.models import Counter, CounterGrant

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())
    hashed = make_password(password)  # hashed once: the same for every marketer
    names = [f"load-marketer-{n:03d}" for n in range(1, users + 1)]
    people = get_user_model().objects.bulk_create(
        get_user_model()(username=name, password=hashed) for name in names
    )
    Group.objects.get(name=MARKETERS_GROUP).user_set.add(*people)
    counters = list(Counter.objects.all())
    CounterGrant.objects.bulk_create(
        CounterGrant(counter=c, user=u) for c in counters for u in people
    )
    return names


def start(name: str, command: list[str], env: dict) -> subprocess.Popen:
    log = (LOGS / f"{name}.log").open("w")
    return subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_for(url: str, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{name} did not start; see {LOGS / name}.log")


def cpu_now(processes: dict[str, subprocess.Popen]) -> dict[str, float]:
    """Return CPU seconds used so far by each started process with its children,
    by the PostgreSQL backends of our database, and by the whole machine."""
    used: dict[str, float] = {}
    for name, process in processes.items():
        try:
            main = psutil.Process(process.pid)
            tree = [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        used[name] = sum(_cpu(p) for p in tree)
    used["PostgreSQL (our open connections)"] = sum(
        _cpu(p)
        for p in psutil.process_iter(["cmdline"])
        if f" {DB} " in " ".join(p.info["cmdline"] or [])
    )
    machine = psutil.cpu_times()
    used["machine busy"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0)
    return used


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def cpu_report(before: dict, after: dict, locust: float, count: int, seconds: float):
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    spent["locust (the simulated marketers)"] = locust
    busy = spent.pop("machine busy")
    ours = sum(spent.values())
    capacity = seconds * (os.cpu_count() or 1)
    parts = ", ".join(f"{name} {value:.0f} s" for name, value in spent.items())
    print(
        f"CPU during the run, of {capacity:.0f} CPU-seconds: {parts}; everything "
        f"else on the machine {max(0.0, busy - ours):.0f} s; idle "
        f"{max(0.0, capacity - busy):.0f} s. Web CPU per request: "
        f"{1000 * spent.get('gunicorn', 0.0) / max(1, count):.0f} ms."
    )


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def line(label: str, times: list[float]) -> str:
    if not times:
        return f"  {label:<26} no requests"
    p50, p95, p99 = (percentile(times, s) for s in (0.5, 0.95, 0.99))
    return (
        f"  {label:<26} {len(times):>6} requests  p50 {p50:6.0f} ms  "
        f"p95 {p95:6.0f} ms  p99 {p99:6.0f} ms  max {max(times):6.0f} ms"
    )


def report(samples: list, args, seconds: float) -> bool:
    upload = [t for kind, name, t, _e in samples if "(file)" in name]
    pages = [t for kind, name, t, _e in samples if kind == "GET"]
    forms = [
        t for kind, name, t, _e in samples if kind == "POST" and "(file)" not in name
    ]
    errors = [(kind, name, e) for kind, name, _t, e in samples if e]
    print(
        f"\n{args.users} marketers for {seconds / 60:.1f} min on 127.0.0.1, gunicorn "
        f"{args.web_workers} workers, 1 Celery worker ({args.worker_concurrency} "
        f"processes), PostgreSQL {DB}, Redis {REDIS}, {os.cpu_count()} CPUs"
    )
    print(
        "Not throttled for the run: UPLOAD_RATE_LIMIT and AXES_FAILURE_LIMIT raised "
        "to 1,000,000 (every login is correct, axes still checks and logs each one)."
    )
    print(line("pages (GET)", pages))
    print(line("upload POST (the file)", upload))
    print(line("other form POSTs", forms))
    print(
        f"  total {len(samples)} requests ({len(samples) / seconds:.1f}/s), "
        f"{len(errors)} errors ({100 * len(errors) / max(1, len(samples)):.2f} %)"
    )
    by_name: dict[str, list[float]] = {}
    for kind, name, t, _e in samples:
        by_name.setdefault(f"{kind} {name}" if kind == "GET" else name, []).append(t)
    print(" slowest by p95:")
    ranked = sorted(by_name.items(), key=lambda kv: -percentile(kv[1], 0.95))
    for name, times in ranked[:6]:
        print(line(name[:26], times))
    distinct: dict[tuple, int] = {}
    for key in errors:
        distinct[key] = distinct.get(key, 0) + 1
    for (kind, name, error), count in list(distinct.items())[:10]:
        print(f"  error x{count}: {kind} {name}: {error[:150]}")
    page_p95 = percentile(pages, 0.95) if pages else float("inf")
    met = not errors and page_p95 < PAGE_P95_TARGET_MS
    print(
        f"target: 0 errors and p95 of pages < {PAGE_P95_TARGET_MS} ms: "
        f"{'met' if met else 'MISSED'} ({len(errors)} errors, p95 {page_p95:.0f} ms)"
    )
    return met


def what_happened() -> None:
    from django.db.models import Count

    from ordersync.submissions.models import Submission
    from ordersync.uploads.models import Upload

    uploads = dict(Upload.objects.values_list("status").annotate(n=Count("pk")))
    sent = dict(Submission.objects.values_list("status").annotate(n=Count("pk")))
    print(f"uploads by status: {uploads}; submissions by status: {sent}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    args = parser.parse_args()

    shutil.rmtree(MEDIA, ignore_errors=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    recreate_stores()
    emulator, url = start_emulator({"rps_per_ip": None})
    processes = [emulator]
    try:
        env = environment(url)
        password = secrets.token_urlsafe(16)
        names = seed(env, args.users, password)
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        web = start(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "ordersync.wsgi", "--bind",
             f"127.0.0.1:{port}", "--workers", str(args.web_workers),
             "--timeout", "60"],
            env,
        )  # fmt: skip
        processes.append(web)
        processes.append(
            start(
                "worker",
                [sys.executable, "-m", "celery", "-A", "ordersync", "worker",
                 "--loglevel", "WARNING", "--concurrency",
                 str(args.worker_concurrency), "--without-gossip",
                 "--without-mingle", "--hostname", "load@%h"],
                env,
            )
        )  # fmt: skip
        wait_for(f"{host}/login/", web, "gunicorn")
        named = dict(zip(("emulator", "gunicorn", "worker"), processes, strict=True))
        cpu_before = cpu_now(named)
        locust_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        samples_path = Path(tempfile.mkstemp(prefix="ordersync-load-")[1])
        seconds = args.minutes * 60
        print(f"running {args.users} marketers for {args.minutes:g} min against {host}")
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "bench/locustfile.py"),
             "--headless", "--users", str(args.users),
             "--spawn-rate", str(max(1, args.users // 10)),
             "--run-time", f"{int(seconds)}s", "--host", host, "--only-summary",
             "--stop-timeout", "30", "--loglevel", "WARNING"],
            cwd=ROOT,
            env={**os.environ, "LOAD_SAMPLES": str(samples_path),
                 "LOAD_USERS": json.dumps(names), "LOAD_PASSWORD": password},
            stdout=(LOGS / "locust.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        cpu_after = cpu_now(named)
        elapsed = time.monotonic() - started
        locust_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        locust_cpu = (locust_after.ru_utime - locust_before.ru_utime) + (
            locust_after.ru_stime - locust_before.ru_stime
        )
        samples = json.loads(samples_path.read_text() or "[]")
        samples_path.unlink()
        if not samples:
            raise SystemExit(f"locust failed ({locust.returncode}); see {LOGS}")
        met = report(samples, args, seconds)
        cpu_report(cpu_before, cpu_after, locust_cpu, len(samples), elapsed)
        what_happened()
        return 0 if met else 1
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(MEDIA, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
