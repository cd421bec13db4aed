"""A per-Yandex-account semaphore in the database, shared by every worker.

Works the same on PostgreSQL and SQLite: each slot is a row, taken by a
conditional UPDATE that succeeds for one holder only; a holder that dies stops
renewing and its lease expires.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from ordersync.submissions.models import AccountSlot, Submission

logger = logging.getLogger(__name__)
METRIKA_PARALLEL_LIMIT = 3


def parallel_limit() -> int:
    """Return the configured slots per account, within Metrika's 1..3."""
    return max(1, min(settings.SUBMISSION_PARALLEL_PER_ACCOUNT, METRIKA_PARALLEL_LIMIT))


def lease_seconds() -> float:
    return settings.SUBMISSION_HEARTBEAT_SECONDS * 3


def slot_acquire(*, account_id: int, holder: uuid.UUID) -> bool:
    """Take a free (or expired) slot of the account for ``holder``; return success."""
    limit = parallel_limit()
    AccountSlot.objects.bulk_create(
        [AccountSlot(account_id=account_id, slot=n) for n in range(limit)],
        ignore_conflicts=True,
    )
    now = timezone.now()
    expires = now + timedelta(seconds=lease_seconds())
    free = Q(holder__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder)
    for n in range(limit):
        taken = (
            AccountSlot.objects.filter(account_id=account_id, slot=n)
            .filter(free)
            .update(holder=holder, expires_at=expires)
        )
        if taken:
            return True
    return False


def slot_release(*, holder: uuid.UUID) -> None:
    """Give back every slot held by ``holder``."""
    AccountSlot.objects.filter(holder=holder).update(holder=None, expires_at=None)


class Heartbeat:
    """Renew a submission's heartbeat and its slot lease from a background thread.

    The worker is silent for minutes while Metrika reads a big body or thinks; the
    sweeper must still tell a slow worker from a dead one.
    """

    def __init__(self, *, submission_id: int | None, holder: uuid.UUID):
        self.submission_id = submission_id
        self.holder = holder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = settings.SUBMISSION_HEARTBEAT_SECONDS
        try:
            while not self._stop.wait(interval):
                self.beat()
        finally:
            connection.close()

    def beat(self) -> None:
        now = timezone.now()
        try:
            if self.submission_id is not None:
                Submission.objects.filter(
                    pk=self.submission_id, claim_token=self.holder
                ).update(heartbeat_at=now)
            AccountSlot.objects.filter(holder=self.holder).update(
                expires_at=now + timedelta(seconds=lease_seconds())
            )
        except Exception:
            # A missed beat only makes the lease look older; the next one may work.
            logger.exception("heartbeat of submission %s failed", self.submission_id)
