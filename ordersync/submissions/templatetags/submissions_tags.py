from django import template
from django.utils.translation import gettext as _

from ordersync.submissions.models import Submission
from ordersync.submissions.selectors import mask_personal_data

register = template.Library()

S = Submission.Status
BADGES = {
    S.QUEUED: "text-bg-secondary",
    S.SENDING: "text-bg-primary",
    S.SENT: "text-bg-info",
    S.ACCEPTED: "text-bg-success",
    S.REJECTED: "text-bg-danger",
    S.FAILED: "text-bg-danger",
    S.NEEDS_REAUTH: "text-bg-warning",
    S.OUTCOME_UNKNOWN: "text-bg-warning",
    S.CANCELLED: "text-bg-light",
}
LEVELS = {
    "info": "secondary",
    "success": "success",
    "warning": "warning",
    "error": "danger",
}


@register.filter
def status_badge(status: str) -> str:
    """Return the Bootstrap badge class of a submission status."""
    return BADGES.get(status, "text-bg-secondary")


@register.filter
def status_label(status: str) -> str:
    """Return the translated name of a submission status."""
    try:
        return Submission.Status(status).label
    except ValueError:
        return status


@register.filter
def level_color(level: str) -> str:
    return LEVELS.get(level, "secondary")


@register.filter
def masked(text: str, mask: bool) -> str:
    """Mask e-mails and phones for people who are not admins."""
    return mask_personal_data(text) if mask else text


@register.filter
def seconds_human(value) -> str:
    if value is None:
        return ""
    value = int(value)
    if value < 60:
        return _("%(s)d s") % {"s": value}
    if value < 3600:
        return _("%(m)d min %(s)d s") % {"m": value // 60, "s": value % 60}
    return _("%(h)d h %(m)d min") % {"h": value // 3600, "m": value % 3600 // 60}
