"""Sign-ins, refused sign-ins, lockouts and refused pages go to the audit log."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.dispatch import receiver
from django.http import HttpRequest

from ordersync.core.services import audit_log

# A refused password may be a password typed into the user-name box: keep the
# attempted name short and only as a hint.
NAME_LIMIT = 150


def _attempted_name(credentials: dict[str, Any]) -> str:
    return str(credentials.get("username") or "")[:NAME_LIMIT]


@receiver(user_logged_in, dispatch_uid="ordersync.audit.login")
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any):
    audit_log(action="auth.login", actor=user, request=request)


@receiver(user_logged_out, dispatch_uid="ordersync.audit.logout")
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any):
    if user is not None:
        audit_log(action="auth.logout", actor=user, request=request)


@receiver(user_login_failed, dispatch_uid="ordersync.audit.login_failed")
def _login_failed(
    sender: Any,
    credentials: dict[str, Any],
    request: HttpRequest | None = None,
    **kwargs: Any,
):
    audit_log(
        action="auth.login_failed",
        request=request,
        details={"username": _attempted_name(credentials)},
    )


@receiver(user_locked_out, dispatch_uid="ordersync.audit.locked_out")
def _locked_out(
    sender: Any, request: HttpRequest | None, username: str | None, **kwargs: Any
):
    audit_log(
        action="auth.locked_out",
        request=request,
        details={"username": str(username or "")[:NAME_LIMIT]},
    )
