"""What several benches (and the tests that run them) share: the local PostgreSQL
they make their databases on, free ports on 127.0.0.1, and a real Celery worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"


def recreate_database(name: str) -> None:
    """Drop the bench's database ``name`` (its connections too) and create it."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Worker:
    """A Celery worker in its own process group, so ``kill -9`` takes all of it."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2):
        self.env, self.log_path, self.concurrency = env, log_path, concurrency
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        """Start the worker and wait for its "ready."; raise RuntimeError with the
        log's tail when it does not come up."""
        before = self.log_path.read_text() if self.log_path.exists() else ""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ordersync", "worker",
             "--loglevel", "INFO", "--concurrency", str(self.concurrency),
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", f"bench-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env={**os.environ, **self.env},
            stdout=self.log_path.open("a"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while self.log_path.read_text().count("ready.") <= before.count("ready."):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"the worker did not start:\n{tail}")
            time.sleep(0.1)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
