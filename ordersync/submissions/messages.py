"""Timeline texts: events store a code and parameters, rendered in the reader's
language when the page is shown."""

from django.utils.translation import gettext_lazy as _

EVENT_MESSAGES = {
    "created": _("Queued for sending with merge mode %(merge_mode)s."),
    "resend": _("A new send of this upload with merge mode %(merge_mode)s."),
    "claimed": _("A worker started sending."),
    "part_sending": _("Sending part %(part)s of %(parts)s (%(rows)s rows)."),
    "part_sent": _(
        "Metrika took part %(part)s: uploading %(uploading_id)s, %(rows)s rows."
    ),
    "rate_limited": _(
        "Metrika's request quota was reached (%(quota)s); waiting %(seconds)s s. "
        "This does not count as a failure."
    ),
    "daily_quota": _(
        "Metrika's daily request quota of this Yandex account is used up; waiting "
        "until %(until)s (00:00 GMT)."
    ),
    "parallel_wait": _(
        "Other uploads of this Yandex account are being sent; waiting for a free slot."
    ),
    "retry": _(
        "Attempt failed (%(error)s); retry %(failures)s of %(max)s in %(seconds)s s."
    ),
    "outcome_unknown": _(
        "Metrika may have received part %(part)s (%(error)s); its recent uploads "
        "will be checked before anything is sent again."
    ),
    "reconcile_found": _(
        "Part %(part)s was found among Metrika's recent uploads (%(uploading_id)s); "
        "it is not sent again."
    ),
    "reconcile_resend": _(
        "Part %(part)s is not among Metrika's recent uploads; every row has an id, "
        "so it is sent again."
    ),
    "reconcile_stop": _(
        "Part %(part)s is not among Metrika's recent uploads, but %(rows)s rows "
        "have no id and could be counted twice if sent again. Decide below."
    ),
    "reconcile_ambiguous": _(
        "%(count)s recent uploads in Metrika could be part %(part)s; it is not "
        "sent again. Decide below."
    ),
    "reconcile_rival": _(
        "One recent upload in Metrika could be part %(part)s or one of %(count)s "
        "other uploads of ours of %(rows)s rows whose outcome is unknown too; it is "
        "not sent again. Decide below."
    ),
    "reconcile_rival_wait": _(
        "Another upload of ours of %(rows)s rows is being sent: Metrika's list "
        "cannot tell it from part %(part)s yet; checking again in %(seconds)s s."
    ),
    "reconcile_wait": _(
        "Metrika does not list part %(part)s yet; checking again in %(seconds)s s."
    ),
    "token_refreshed": _(
        "Metrika refused the token; it was refreshed and the request repeated."
    ),
    "needs_reauth": _(
        "Metrika refused the token of Yandex account %(login)s: an administrator "
        "must connect the account again, then retry."
    ),
    "account_inactive": _(
        "Yandex account %(login)s needs re-authorisation; nothing was sent."
    ),
    "rejected": _("Metrika rejected the file: %(message)s"),
    "failed": _("Sending failed: %(message)s"),
    "gave_up": _("Gave up after %(failures)s failed attempts: %(message)s"),
    "loop_guard": _("Stopped after %(claims)s task runs that did not finish."),
    "file_missing": _(
        "The prepared file is no longer stored (retention); it cannot be sent."
    ),
    "sent": _("Every part was sent; waiting for Metrika to list the upload."),
    "accepted": _(
        "Metrika lists the upload: %(elements)s rows taken of %(rows)s sent."
    ),
    "count_mismatch": _("Metrika took %(elements)s rows, but %(rows)s were sent."),
    "confirm_pending": _("Metrika does not list the upload yet; checking later."),
    "confirm_timeout": _(
        "Metrika has not listed the upload %(hours)s hours after it was sent."
    ),
    "confirm_error": _("The confirmation check failed (%(error)s); trying later."),
    "worker_lost": _(
        "The worker stopped while sending; Metrika's recent uploads will be checked."
    ),
    "requeued": _("The queued task was lost; it was queued again."),
    "cancelled": _("Cancelled by %(user)s."),
    "retried": _("Queued again by %(user)s."),
    "forced": _("%(user)s chose to send the parts with an unknown outcome again."),
}


def event_text(code: str, params: dict) -> str:
    """Return the translated timeline text of an event."""
    template = EVENT_MESSAGES.get(code)
    if template is None:
        return code
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return str(template)
