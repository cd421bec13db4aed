"""Crash drill: send uploads while the worker is killed, Redis restarts and
Metrika fails at random; then count what became of every upload.

A real Celery worker (a subprocess, killed with ``kill -9`` and started again),
a Redis of its own (``redis-server --save '' --appendonly no`` on ``--redis-port``,
so a restart loses every queued message), PostgreSQL (database
``ordersync_drill``, dropped and created again) and the Metrika emulator with
random faults. This process confirms the uploads through the wizard's services
and runs the sweeper as beat would. Prints the figures and exits 1 when a target
is missed: every upload in exactly one terminal state, 0 stuck, 0 accepted twice
at the emulator, 0 personal-data rows lost.

    .venv/bin/python bench/drill.py                       # 50 uploads, 6 kills
    .venv/bin/python bench/drill.py --submissions 10 --kills 2 --seed 7

The short form runs in CI: ``tests/hardening/test_drill.py``.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import PG, Worker, recreate_database  # noqa: E402

DB = "ordersync_drill"
TOKEN = "y0_DRILL_TOKEN_5c1e"  # noqa: S105 - the emulator's
REFRESH = "1:DRILL_REFRESH_8a2f"
CLIENT_ID = "ordersync-drill"
CLIENT_SECRET = "drill-client-secret"  # noqa: S105
LOGIN = "drill-agency"
COUNTER_ID = 5150
HEADER = "id,create_date_time,emails,phones,order_status,revenue\n"

SEED = {
    "settings": {"parallel_limit": 3, "rps_per_ip": None},
    "oauth_clients": [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "name": "OrderSync drill",
            "redirect_uris": [],
            "scopes": ["metrika:read", "metrika:offline_data"],
            "token_ttl": 31536000,
        }
    ],
    "accounts": [{"login": LOGIN, "uid": "9150"}],
    "tokens": [
        {
            "access_token": TOKEN,
            "login": LOGIN,
            "client_id": CLIENT_ID,
            "scopes": ["metrika:read", "metrika:offline_data"],
            "refresh_token": REFRESH,
        }
    ],
    "counters": [
        {
            "id": COUNTER_ID,
            "name": "Drill shop",
            "site": "drill.example",
            "time_zone_name": "Europe/Moscow",
            "owner_login": LOGIN,
        }
    ],
}

# Seconds instead of minutes, so that recovery happens within the drill. The
# worker and this process (which sweeps) must agree on them.
SETTINGS: dict[str, Any] = {
    "SUBMISSION_RETRY_BASE_SECONDS": 0.5,
    "SUBMISSION_RETRY_MAX_SECONDS": 3,
    "SUBMISSION_MAX_FAILURES": 8,
    "SUBMISSION_RATE_LIMIT_SECONDS": 0.5,
    "SUBMISSION_PARALLEL_PER_ACCOUNT": 2,
    "SUBMISSION_PARALLEL_WAIT_SECONDS": 0.5,
    "SUBMISSION_RECONCILE_GRACE_SECONDS": 1,
    "SUBMISSION_CONFIRM_INTERVAL_SECONDS": 1,
    "SUBMISSION_HEARTBEAT_SECONDS": 1,
    "SUBMISSION_STALE_SECONDS": 6,
    "SUBMISSION_LOST_AFTER_SECONDS": 8,
    "METRIKA_CONNECT_TIMEOUT": 2,
    "METRIKA_READ_TIMEOUT": 3,
}
SWEEP_SECONDS = 1.0

# (weight, endpoint, rule): what Metrika does wrong, once each time it is drawn.
FAULTS: list[tuple[int, str, dict[str, Any]]] = [
    (4, "upload", {"kind": "status", "status": 503}),
    (2, "upload", {"kind": "status", "status": 500}),
    (3, "upload", {"kind": "status", "status": 504}),
    (3, "upload", {"kind": "status", "status": 429, "retry_after": 1}),
    (
        2,
        "upload",
        {"kind": "status", "status": 420, "error_type": "quota_parallel_requests"},
    ),
    (3, "upload", {"kind": "drop_before_body"}),
    (4, "upload", {"kind": "drop_after_body"}),
    # Stored, then answered after the read timeout: the outcome is unknown.
    (3, "upload", {"kind": "slow", "delay": 4}),
    (1, "upload", {"kind": "failed"}),
    (1, "upload", {"kind": "invalid_token"}),
    (2, "last_uploadings", {"kind": "status", "status": 503}),
    (1, "last_uploadings", {"kind": "drop_after_body"}),
    (1, "last_uploadings", {"kind": "slow", "delay": 4}),
]


@dataclass
class Config:
    submissions: int = 50
    seed: int = 0
    kills: int = 6
    redis_restarts: int = 2
    # Seconds of chaos: uploads are confirmed, killed and failed within it.
    chaos: float = 40.0
    # Seconds from the start after which unsettled uploads count as stuck.
    deadline: float = 300.0
    fault_rate: float = 1.0  # faults added per second of chaos
    min_rows: int = 5
    max_rows: int = 300


@dataclass
class Figures:
    seed: int
    total: int = 0
    one_terminal: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    stuck: int = 0
    duplicates: int = 0
    rows_lost_accepted: int = 0
    rows_lost_unreported: int = 0
    rows_reported: int = 0
    posts: int = 0
    faults: int = 0
    kills: int = 0
    redis_restarts: int = 0
    worker_exits: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def outcome_unknown(self) -> int:
        return self.by_status.get("outcome_unknown", 0)

    @property
    def rows_lost(self) -> int:
        return self.rows_lost_accepted + self.rows_lost_unreported

    def missed(self) -> list[str]:
        """Return the targets this run missed (empty: all met)."""
        missed = []
        if self.one_terminal != self.total:
            missed.append(
                f"{self.total - self.one_terminal} uploads not in exactly one "
                "terminal state"
            )
        if self.stuck:
            missed.append(f"{self.stuck} uploads stuck")
        if self.duplicates:
            missed.append(f"{self.duplicates} uploads accepted twice")
        if self.rows_lost:
            missed.append(f"{self.rows_lost} personal-data rows lost")
        return missed

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items()))
        return [
            f"seed {self.seed}: {self.kills} worker kills (-9), {self.redis_restarts} "
            f"Redis restarts, {self.faults} emulator faults, {self.posts} POSTs, "
            f"{self.worker_exits} worker exits on its own, {self.seconds:.0f} s",
            f"uploads total:                     {self.total}",
            f"in exactly one terminal state:     {self.one_terminal}   ({statuses})",
            f"  of which outcome unknown:        {self.outcome_unknown}   "
            "(terminal, for a person to decide)",
            f"stuck (not terminal):              {self.stuck}",
            f"accepted twice at the emulator:    {self.duplicates}",
            f"personal-data rows lost:           {self.rows_lost}   "
            f"({self.rows_lost_accepted} of accepted uploads missing at Metrika, "
            f"{self.rows_lost_unreported} neither accepted nor reported; "
            f"{self.rows_reported} rows reported to a person)",
            *(f"  ! {p}" for p in self.problems[:20]),
            "targets: " + ("met" if not self.missed() else "; ".join(self.missed())),
        ]


# --- processes -------------------------------------------------------------------


class RedisServer:
    """A throwaway redis-server that keeps nothing on disk, so a restart after
    ``kill -9`` comes back empty: every queued and unacked message is gone."""

    def __init__(self, port: int, log_path: Path):
        self.port, self.log_path = port, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=self.log_path.open("a"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def worker_env(
    *, database_url: str, broker_url: str, emulator_url: str, media_root: Path,
    token_keys: str,
) -> dict[str, str]:  # fmt: skip
    """Return the environment a drill worker needs."""
    return {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "ORDERSYNC_TOKEN_KEYS": token_keys,
        "METRIKA_API_URL": emulator_url,
        "YANDEX_OAUTH_URL": emulator_url,
        "YANDEX_LOGIN_URL": emulator_url,
        "YANDEX_OAUTH_CLIENT_ID": CLIENT_ID,
        "YANDEX_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "MEDIA_ROOT": str(media_root),
        "PYTHONUNBUFFERED": "1",
        **{key: str(value) for key, value in SETTINGS.items()},
    }


class ContentLog:
    """Remember which drill upload each upload stored at the emulator came from.

    Wraps the in-process emulator's ``add_upload``: the order ids a file carries
    name the drill upload they belong to (``d<upload>-<row>``).
    """

    def __init__(self, emulator: Any):
        self.stored: list[tuple[str, str, frozenset[str]]] = []
        self.state = emulator.state
        original = self.state.add_upload

        def add_upload(record, rows):
            ids = frozenset((r.get("id") or "").split("-")[0] for r in rows or [])
            self.stored.append((record.uploading_id, record.api_validation_status, ids))
            return original(record, rows)

        self.state.add_upload = add_upload

    def close(self) -> None:
        del self.state.add_upload


# --- the drill --------------------------------------------------------------------


def make_world() -> tuple[Any, Any]:
    """Create the marketer, the Yandex account and the counter; return user, counter."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from ordersync.counters import crypto
    from ordersync.counters.models import Counter, CounterGrant, YandexAccount
    from ordersync.metrika.types import token_fingerprint

    user = get_user_model().objects.create_user("drill-marketer")
    user.groups.add(Group.objects.get_or_create(name="Marketers")[0])
    account = YandexAccount.objects.create(
        uid="9150",
        login=LOGIN,
        source=YandexAccount.Source.OAUTH,
        access_token_encrypted=crypto.encrypt(TOKEN),
        refresh_token_encrypted=crypto.encrypt(REFRESH),
        token_fingerprint=token_fingerprint(TOKEN),
        scopes=["metrika:read", "metrika:offline_data"],
        expires_at=timezone.now() + timezone.timedelta(days=300),
    )
    counter = Counter.objects.create(
        account=account, metrika_id=COUNTER_ID, name="Drill shop",
        site="drill.example", time_zone_name="Europe/Moscow", permission="own",
    )  # fmt: skip
    CounterGrant.objects.create(counter=counter, user=user)
    return user, counter


def order_file(number: int, rows: int) -> bytes:
    """Return a valid order file whose ids all start with ``d<number>-``."""
    lines = [
        f"d{number}-{i},2024-02-{i % 28 + 1:02d} 10:{i % 60:02d}:00,"
        f"buyer{number}.{i}@example.com,+7900{number:03d}{i:04d},PAID,{i + 1}.50\n"
        for i in range(rows)
    ]
    return (HEADER + "".join(lines)).encode()


def prepare_uploads(user, counter, config: Config, rng: random.Random) -> list:
    """Take each generated file through the wizard's services up to the confirm
    step, reading and checking it in this process; return the uploads."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ordersync import orderfile
    from ordersync.celery import app
    from ordersync.uploads import services as uploads
    from ordersync.uploads.models import Upload

    app.conf.task_always_eager = True
    prepared = []
    try:
        for number in range(config.submissions):
            rows = rng.randint(config.min_rows, config.max_rows)
            file = SimpleUploadedFile(f"drill-{number}.csv", order_file(number, rows))
            upload = uploads.upload_create(
                user=user, counter=counter, file=file, language="en"
            )
            upload.refresh_from_db()
            uploads.upload_accept_source(upload=upload)
            mapping = orderfile.Mapping.from_dict(upload.mapping)
            uploads.upload_set_mapping(upload=upload, mapping=mapping)
            upload.refresh_from_db()
            uploads.upload_set_options(
                upload=upload, user=user, statuses=upload.statuses or {},
                merge_mode="SAVE", hash_pii=False, duplicates=upload.duplicates,
                remember_statuses=False, language="en",
            )  # fmt: skip
            upload.refresh_from_db()
            if upload.status != Upload.Status.READY or upload.rows_valid != rows:
                raise RuntimeError(
                    f"drill-{number}.csv: {upload.status}, {upload.rows_valid} of "
                    f"{rows} rows valid, {upload.counts_by_code}"
                )
            uploads.upload_go_to_confirm(upload=upload)
            prepared.append((upload, number, rows))
    finally:
        app.conf.task_always_eager = False
    return prepared


class Drill:
    """One run: confirm, break, recover, count."""

    def __init__(
        self,
        config: Config,
        *,
        emulator: Any,
        worker: Worker,
        redis: RedisServer,
        say: Callable[[str], None] = print,
    ):
        from ordersync.metrika.emulator import EmulatorAdmin

        self.config = config
        self.rng = random.Random(config.seed)
        self.emulator = emulator
        self.admin = EmulatorAdmin(emulator.url)
        self.worker = worker
        self.redis = redis
        self.say = say
        self.figures = Figures(seed=config.seed)

    def run(self) -> Figures:
        config, rng, figures = self.config, self.rng, self.figures
        user, counter = make_world()
        prepared = prepare_uploads(user, counter, config, rng)
        self.say(f"seed {config.seed}: {len(prepared)} uploads ready to confirm")
        self.admin.clear_requests()
        started = time.monotonic()
        self.content = ContentLog(self.emulator)
        try:
            self.worker.start()
            self.loop(prepared, user, started)
        finally:
            self.content.close()
            self.admin.clear_faults()
        figures.seconds = time.monotonic() - started
        self.count(prepared)
        return figures

    def loop(self, prepared, user, started: float) -> None:
        from ordersync.submissions import services
        from ordersync.uploads.services import upload_confirm

        config, rng, figures = self.config, self.rng, self.figures
        confirm_at = sorted(
            (rng.uniform(0, config.chaos * 0.7), i) for i in range(len(prepared))
        )
        kill_at = sorted(rng.uniform(1, config.chaos) for _ in range(config.kills))
        redis_at = sorted(
            rng.uniform(2, config.chaos) for _ in range(config.redis_restarts)
        )
        last_sweep = 0.0
        while True:
            now = time.monotonic() - started
            while confirm_at and confirm_at[0][0] <= now:
                upload, _number, _rows = prepared[confirm_at.pop(0)[1]]
                upload_confirm(upload=upload, user=user)
            if kill_at and kill_at[0] <= now:
                kill_at.pop(0)
                self.kill_worker()
            if redis_at and redis_at[0] <= now:
                redis_at.pop(0)
                self.restart_redis()
            self.inject_faults(min(now, config.chaos) * config.fault_rate)
            if not self.worker.alive:
                figures.worker_exits += 1
                self.say(f"{now:5.1f} s  the worker exited on its own; starting it")
                self.worker.start()
            if time.monotonic() - started - last_sweep >= SWEEP_SECONDS:
                last_sweep = time.monotonic() - started
                services.submission_sweep()
            if now >= config.chaos and not confirm_at and self.settled(prepared):
                break
            if now > config.deadline:
                self.say(f"{now:5.1f} s  deadline: stopping")
                break
            time.sleep(0.05)

    def settled(self, prepared) -> bool:
        from ordersync.submissions.models import Submission

        ids = [upload.pk for upload, _number, _rows in prepared]
        return not Submission.objects.filter(
            upload_id__in=ids, status__in=Submission.ACTIVE
        ).exists() and Submission.objects.filter(upload_id__in=ids).count() == len(ids)

    def kill_worker(self) -> None:
        """Kill -9 the whole worker: every other time while it sends something."""
        from ordersync.submissions.models import Submission

        sending = Submission.objects.filter(status=Submission.Status.SENDING)
        if self.figures.kills % 2 == 0:
            deadline = time.monotonic() + 5
            while not sending.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(self.rng.uniform(0, 0.05))
        busy = sending.count()
        self.worker.kill()
        self.figures.kills += 1
        self.say(f"kill -9 of the worker ({busy} uploads sending)")
        time.sleep(self.rng.uniform(0.2, 2.0))
        self.worker.start()

    def restart_redis(self) -> None:
        """Kill -9 Redis with tasks queued and running, and start it again empty."""
        from ordersync.submissions.models import Submission

        S = Submission.Status
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            statuses = set(
                Submission.objects.filter(status__in=[S.QUEUED, S.SENDING])
                .values_list("status", flat=True)
                .distinct()
            )
            if statuses == {S.QUEUED, S.SENDING}:
                break
            time.sleep(0.02)
        queued = Submission.objects.filter(status=S.QUEUED).count()
        sending = Submission.objects.filter(status=S.SENDING).count()
        self.redis.kill()
        self.figures.redis_restarts += 1
        self.say(f"kill -9 of Redis ({queued} uploads queued, {sending} sending)")
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.redis.start()

    def inject_faults(self, due: float) -> None:
        """Add random fault rules until ``due`` have been added in all; each
        applies once, to the next matching request."""
        weights = [w for w, _e, _r in FAULTS]
        while self.figures.faults < due:
            _w, endpoint, rule = self.rng.choices(FAULTS, weights)[0]
            self.admin.add_fault(endpoint=endpoint, counter_id=COUNTER_ID, **rule)
            self.figures.faults += 1

    def count(self, prepared) -> None:
        from ordersync.submissions.models import Submission

        figures = self.figures
        S = Submission.Status
        figures.total = len(prepared)
        figures.posts = self.admin.requests()["by_endpoint"].get("upload", 0)
        stored_orders = set(self.admin.orders(COUNTER_ID)["orders"])
        passed = Tally(
            tag
            for _uid, status, tags in self.content.stored
            if status == "PASSED"
            for tag in tags
        )
        statuses: Tally[str] = Tally()
        for upload, number, rows in prepared:
            tag = f"d{number}"
            submissions = list(upload.submissions.all())
            if len(submissions) != 1:
                figures.stuck += 1
                figures.rows_lost_unreported += rows
                figures.problems.append(f"{tag}: {len(submissions)} submissions")
                continue
            submission = submissions[0]
            statuses[submission.status] += 1
            terminal_events = submission.events.filter(
                to_status__in=Submission.TERMINAL
            ).count()
            if submission.status in Submission.TERMINAL and terminal_events == 1:
                figures.one_terminal += 1
            elif submission.status in Submission.TERMINAL:
                figures.problems.append(
                    f"{tag}: {terminal_events} terminal transitions"
                )
            if passed[tag] > 1:
                figures.duplicates += 1
                figures.problems.append(f"{tag}: stored {passed[tag]} times")
            ids = {f"{tag}-{i}" for i in range(rows)}
            if submission.status == S.ACCEPTED:
                missing = len(ids - stored_orders)
                figures.rows_lost_accepted += missing
                if missing:
                    figures.problems.append(f"{tag}: {missing} rows not at Metrika")
            elif submission.status in Submission.TERMINAL:
                figures.rows_reported += rows
            else:
                figures.stuck += 1
                figures.rows_lost_unreported += rows
                figures.problems.append(f"{tag}: stuck in {submission.status}")
        figures.by_status = dict(statuses)


# --- the command ------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=Config.submissions)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--kills", type=int, default=Config.kills)
    parser.add_argument("--redis-restarts", type=int, default=Config.redis_restarts)
    parser.add_argument("--chaos", type=float, default=None, help="seconds")
    parser.add_argument(
        "--deadline", type=float, default=Config.deadline, help="seconds"
    )
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument(
        "--rows", default="5-300", help="rows per file, MIN-MAX (few: same sizes)"
    )
    args = parser.parse_args()
    seed = (
        args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    )
    config = Config(
        submissions=args.submissions,
        seed=seed,
        kills=args.kills,
        redis_restarts=args.redis_restarts,
        chaos=args.chaos or max(20.0, args.submissions * 0.8),
        deadline=args.deadline,
        min_rows=int(args.rows.split("-")[0]),
        max_rows=int(args.rows.split("-")[-1]),
    )
    print(f"seed {seed}")
    import shutil

    from cryptography.fernet import Fernet

    var = ROOT / "var"
    media = var / "drill-media"
    shutil.rmtree(media, ignore_errors=True)
    var.mkdir(exist_ok=True)
    broker_url = f"redis://127.0.0.1:{args.redis_port}/9"
    token_keys = Fernet.generate_key().decode()
    recreate_database(DB)
    os.environ.update(
        {
            "DATABASE_URL": f"{PG}/{DB}",
            "CELERY_BROKER_URL": broker_url,
            "ORDERSYNC_TOKEN_KEYS": token_keys,
            "MEDIA_ROOT": str(media),
            "LOG_LEVEL": "ERROR",
            **{key: str(value) for key, value in SETTINGS.items()},
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from ordersync.metrika.emulator import RunningEmulator

    call_command("migrate", verbosity=0)
    redis = RedisServer(args.redis_port, var / "drill-redis.log").start()
    worker = None
    try:
        with RunningEmulator(port=0, seed=SEED) as emulator:
            from django.conf import settings

            for name in ("METRIKA_API_URL", "YANDEX_OAUTH_URL", "YANDEX_LOGIN_URL"):
                setattr(settings, name, emulator.url)
            settings.YANDEX_OAUTH_CLIENT_ID = CLIENT_ID
            settings.YANDEX_OAUTH_CLIENT_SECRET = CLIENT_SECRET
            env = worker_env(
                database_url=f"{PG}/{DB}", broker_url=broker_url,
                emulator_url=emulator.url, media_root=media, token_keys=token_keys,
            )  # fmt: skip
            log = var / "drill-worker.log"
            log.write_text("")
            worker = Worker(env, log)
            figures = Drill(config, emulator=emulator, worker=worker, redis=redis).run()
    finally:
        if worker is not None:
            worker.stop()
        redis.kill()
        shutil.rmtree(media, ignore_errors=True)
    print("\n".join(figures.lines()))
    sys.exit(1 if figures.missed() else 0)


if __name__ == "__main__":
    main()
