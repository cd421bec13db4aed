import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from ordersync.core.models import AuditEvent, HealthPing


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


def health_ping_answer(*, ping_id: int, worker: str) -> None:
    """Record that a worker received the ping."""
    HealthPing.objects.filter(pk=ping_id, answered_at__isnull=True).update(
        answered_at=timezone.now(), worker=worker[:255]
    )


def health_check_database() -> CheckResult:
    """Run a trivial query on the default database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return CheckResult(False, type(exc).__name__)
    return CheckResult(True, connection.vendor)


def health_check_broker() -> CheckResult:
    """Open a connection to the Celery broker."""
    from ordersync.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
            transport = conn.transport_cls
    except Exception as exc:
        return CheckResult(False, type(exc).__name__)
    return CheckResult(True, str(transport))


def health_check_worker(*, wait_seconds: float = 8.0) -> CheckResult:
    """Send a real task through the broker and wait for a worker to answer it."""
    from ordersync.core.tasks import health_ping_answer

    HealthPing.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=1)
    ).delete()
    ping = HealthPing.objects.create()
    try:
        health_ping_answer.apply_async(args=[ping.pk], expires=wait_seconds)
    except Exception as exc:
        return CheckResult(False, type(exc).__name__)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        ping.refresh_from_db()
        if ping.answered_at:
            elapsed = (ping.answered_at - ping.created_at).total_seconds()
            return CheckResult(True, f"{ping.worker} ({elapsed:.2f} s)")
        time.sleep(0.1)
    return CheckResult(
        False, _("No worker answered within %(seconds)d s.") % {"seconds": wait_seconds}
    )


SECRET_WORDS = ("token", "secret", "password", "key", "code")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(k): "<redacted>"
            if any(word in str(k).lower() for word in SECRET_WORDS)
            else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def audit_log(
    *,
    action: str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Record a security-relevant action; keys that look secret are redacted."""
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        details=_scrub(details or {}),
        ip=request.META.get("REMOTE_ADDR") or None if request is not None else None,
    )
