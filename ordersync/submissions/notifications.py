"""E-mail to the person who sent an upload when it ends well or needs them."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from ordersync.submissions.models import Submission

logger = logging.getLogger(__name__)
S = Submission.Status


def submission_notify(submission_id: int) -> bool:
    """Tell the uploader that the submission was accepted, rejected or needs them.

    Return whether a message was sent.
    """
    submission = (
        Submission.objects.select_related("created_by", "counter", "upload")
        .filter(pk=submission_id)
        .first()
    )
    if submission is None or submission.created_by is None:
        return False
    email = submission.created_by.email
    if not email:
        return False
    url = settings.ORDERSYNC_SITE_URL.rstrip("/") + reverse(
        "submissions:detail", args=[submission.upload.public_id]
    )
    params = {
        "name": submission.original_name,
        "counter": str(submission.counter),
        "rows": submission.elements_count or submission.rows_sent,
        "message": submission.error_message,
        "url": url,
    }
    with translation.override(settings.LANGUAGE_CODE):
        if submission.status == S.ACCEPTED:
            subject = _("OrderSync: %(name)s was accepted by Metrika") % params
            body = _(
                "Metrika accepted %(name)s for counter %(counter)s: %(rows)s rows.\n\n"
                "%(url)s\n"
            )
        elif submission.status == S.REJECTED:
            subject = _("OrderSync: Metrika rejected %(name)s") % params
            body = _(
                "Metrika rejected %(name)s for counter %(counter)s:\n%(message)s\n\n"
                "Fix the file and upload it again:\n%(url)s\n"
            )
        elif submission.status in Submission.NEEDS_ATTENTION:
            subject = _("OrderSync: %(name)s needs your attention") % params
            body = _(
                "%(name)s for counter %(counter)s could not be sent (%(status)s). "
                "%(message)s\n\nSee what happened and what to do:\n%(url)s\n"
            )
            params["status"] = submission.get_status_display()
        else:
            return False
        body = body % params
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
    except Exception:
        logger.exception("could not e-mail submission %s", submission.pk)
        return False
    return True
