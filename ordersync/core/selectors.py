from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from ordersync.core.models import AuditEvent
from ordersync.core.permissions import user_is_admin


def audit_event_list(user: AbstractBaseUser | AnonymousUser) -> QuerySet[AuditEvent]:
    """Return the audit log, newest first, for admins; raise Http404 for others."""
    if not user_is_admin(user):
        raise Http404
    return AuditEvent.objects.select_related("actor")
