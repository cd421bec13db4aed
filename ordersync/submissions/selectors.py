"""Reads for the history and the dashboard, always limited to what the user may see."""

from __future__ import annotations

import re
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone

from ordersync.core.permissions import user_is_admin
from ordersync.counters.models import Counter, YandexAccount
from ordersync.counters.selectors import counter_list_for_upload, counter_list_for_user
from ordersync.submissions.models import Submission
from ordersync.uploads.presenters import PROBLEM_LABELS

User = AbstractBaseUser | AnonymousUser
PAGE_SIZE = 50
HISTORY_FIELDS = (
    "original_name",
    "created_at",
    "status",
    "rows_sent",
    "elements_count",
    "counter__name",
    "counter__metrika_id",
    "created_by__username",
    "upload__public_id",
    "upload__rows_valid",
    "upload__rows_invalid",
)


def submission_list_for_user(user: User) -> QuerySet[Submission]:
    """Return every submission the user may see: all for admins, else those to
    the counters granted to the user."""
    submissions = Submission.objects.all()
    if user_is_admin(user):
        return submissions
    if not user.is_authenticated or not user.is_active:
        return submissions.none()
    counter_ids = list(counter_list_for_user(user).values_list("pk", flat=True))
    return submissions.filter(counter_id__in=counter_ids)


def upload_get_for_user(user: User, public_id: Any) -> Any:
    """Return an upload that has been submitted and the user may see; else 404."""
    from ordersync.uploads.models import Upload

    visible = submission_list_for_user(user).values("upload_id")
    return get_object_or_404(
        Upload.objects.select_related("counter", "created_by").filter(pk__in=visible),
        public_id=public_id,
    )


def submission_get_for_user(user: User, upload: Any, pk: int | None) -> Submission:
    """Return a submission of ``upload`` (the newest when ``pk`` is None)."""
    submissions = submission_list_for_user(user).filter(upload=upload)
    if pk is None:
        submission = submissions.order_by("-created_at", "-id").first()
        if submission is None:
            raise Submission.DoesNotExist
        return submission
    return get_object_or_404(submissions, pk=pk)


def user_may_act(user: User, submission: Submission) -> bool:
    """Return whether the user may retry, resend or cancel this submission."""
    if user_is_admin(user):
        return True
    if submission.created_by_id == user.pk:
        return True
    return counter_list_for_upload(user).filter(pk=submission.counter_id).exists()


def user_may_download(user: User, submission: Submission) -> bool:
    """Files hold personal data: only their uploader and admins get them."""
    return user_is_admin(user) or submission.created_by_id == user.pk


@dataclass
class HistoryFilters:
    counter: int | None = None
    user: int | None = None
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""


@dataclass
class HistoryPage:
    rows: list[Submission]
    next_cursor: str = ""
    prev_cursor: str = ""


def history_page(
    user: User,
    filters: HistoryFilters,
    *,
    before: str = "",
    after: str = "",
    page_size: int = PAGE_SIZE,
) -> HistoryPage:
    """Return one page of the history, newest first, by keyset on (created, id).

    Keyset pagination reads ``page_size + 1`` rows from an index whatever the page
    number, so it stays fast with any number of uploads.
    """
    rows = submission_list_for_user(user).filter(is_latest=True)
    if filters.counter:
        rows = rows.filter(counter_id=filters.counter)
    if filters.user:
        rows = rows.filter(created_by_id=filters.user)
    if filters.status:
        rows = rows.filter(status=filters.status)
    tz = timezone.get_current_timezone()
    if filters.date_from:
        start = datetime.combine(filters.date_from, datetime.min.time(), tz)
        rows = rows.filter(created_at__gte=start)
    if filters.date_to:
        end = datetime.combine(
            filters.date_to + timedelta(days=1), datetime.min.time(), tz
        )
        rows = rows.filter(created_at__lt=end)
    if filters.q:
        rows = rows.filter(original_name__icontains=filters.q)
    # Only the columns the list shows: an upload row also holds the file's preview,
    # mapping and counts as JSON, which would be read and decoded for every row.
    rows = rows.select_related("counter", "created_by", "upload").only(*HISTORY_FIELDS)
    cursor = _parse_cursor(after)
    if cursor:
        # Going back: the rows just newer than the cursor, oldest first.
        when, pk = cursor
        page = list(
            rows.filter(
                Q(created_at__gt=when) | Q(created_at=when, id__gt=pk)
            ).order_by("created_at", "id")[: page_size + 1]
        )
        more = len(page) > page_size
        page = list(reversed(page[:page_size]))
        return HistoryPage(
            page,
            next_cursor=_cursor(page[-1]) if page else "",
            prev_cursor=_cursor(page[0]) if more and page else "",
        )
    cursor = _parse_cursor(before)
    if cursor:
        when, pk = cursor
        rows = rows.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=pk))
    page = list(rows.order_by("-created_at", "-id")[: page_size + 1])
    more = len(page) > page_size
    page = page[:page_size]
    return HistoryPage(
        page,
        next_cursor=_cursor(page[-1]) if more else "",
        prev_cursor=_cursor(page[0]) if cursor and page else "",
    )


def _cursor(submission: Submission) -> str:
    return f"{submission.created_at.timestamp():.6f}_{submission.pk}"


def _parse_cursor(value: str) -> tuple[datetime, int] | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)_(\d+)", value or "")
    if not match:
        return None
    when = datetime.fromtimestamp(float(match[1]), tz=timezone.get_current_timezone())
    return when, int(match[2])


def history_counters(user: User) -> QuerySet[Counter]:
    """Return the counters offered in the history filter."""
    return counter_list_for_user(user).order_by("name")


def history_users(user: User) -> QuerySet:
    """Return the people offered in the history filter."""
    users = get_user_model().objects.order_by("username")
    if user_is_admin(user):
        return users.filter(is_active=True)
    counter_ids = list(counter_list_for_user(user).values_list("pk", flat=True))
    return users.filter(
        Q(pk=user.pk)
        | Q(counter_grants__counter_id__in=counter_ids)
        | Q(groups__counter_grants__counter_id__in=counter_ids)
    ).distinct()


def timeline(submission: Submission) -> list[dict[str, Any]]:
    """Return events and HTTP attempts of a submission, in time order."""
    items: list[dict[str, Any]] = [
        {"kind": "event", "at": event.created_at, "event": event}
        for event in submission.events.select_related("actor")
    ]
    items += [
        {"kind": "attempt", "at": attempt.started_at, "attempt": attempt}
        for attempt in submission.attempts.select_related("part")
    ]
    items.sort(key=lambda item: item["at"])
    return items


EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
PHONE = re.compile(r"(\+?\d)[\d\s()\-]{5,}(\d{2})")


def mask_personal_data(text: str) -> str:
    """Return ``text`` with e-mail addresses and phone numbers masked."""
    text = EMAIL.sub(lambda m: f"{m[1]}***@{m[2]}", text or "")
    return PHONE.sub(lambda m: f"{m[1]}***{m[2]}", text)


# --- the dashboard ----------------------------------------------------------------


@dataclass
class DayCounterSeries:
    days: list[date]
    counters: list[Counter]
    # counter id -> day -> value
    uploads: dict[int, dict[date, int]] = field(default_factory=dict)
    rows: dict[int, dict[date, int]] = field(default_factory=dict)


def dashboard_daily(user: User, *, days: int = 30) -> DayCounterSeries:
    """Return accepted uploads and rows per day per counter, for the last ``days``."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(
        first, datetime.min.time(), timezone.get_current_timezone()
    )
    data = (
        submission_list_for_user(user)
        .filter(status=Submission.Status.ACCEPTED, finished_at__gte=start)
        .annotate(day=TruncDate("finished_at", tzinfo=timezone.get_current_timezone()))
        .values("counter_id", "day")
        .annotate(uploads=Count("id"), rows=Sum("elements_count"))
        .order_by()
    )
    series = DayCounterSeries(
        days=[first + timedelta(days=n) for n in range(days)], counters=[]
    )
    for item in data:
        series.uploads.setdefault(item["counter_id"], {})[item["day"]] = item["uploads"]
        series.rows.setdefault(item["counter_id"], {})[item["day"]] = item["rows"] or 0
    series.counters = list(
        Counter.objects.filter(pk__in=series.uploads).order_by("name", "pk")
    )
    return series


def dashboard_top_problems(user: User, *, days: int = 30, limit: int = 8):
    """Return the most frequent problem codes of the last ``days`` as
    ``(code, title, rows)``."""
    since = timezone.now() - timedelta(days=days)
    tally: Tally[str] = Tally()
    uploads = (
        submission_list_for_user(user)
        .filter(is_latest=True, created_at__gte=since)
        .values_list("upload__counts_by_code", flat=True)
    )
    for counts in uploads.iterator(chunk_size=2000):
        for code, count in (counts or {}).items():
            tally[code] += int(count or 0)
    return [
        (code, PROBLEM_LABELS.get(code, code), count)
        for code, count in tally.most_common(limit)
    ]


def dashboard_attention(user: User, *, limit: int = 10) -> list[Submission]:
    """Return the newest uploads that need a person: failed, rejected, unknown
    outcome, re-authorisation, or not confirmed in time."""
    stuck = Q(status=Submission.Status.SENT, next_attempt_at__isnull=True)
    return list(
        submission_list_for_user(user)
        .filter(Q(status__in=Submission.NEEDS_ATTENTION) | stuck, is_latest=True)
        .select_related("counter", "upload", "created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def dashboard_accounts(user: User) -> list[YandexAccount]:
    """Return Yandex accounts whose tokens need action and that the user's
    counters use (all of them for admins)."""
    soon = timezone.now() + timedelta(days=14)
    expiring = Q(
        status=YandexAccount.Status.ACTIVE,
        expires_at__lt=soon,
        refresh_token_encrypted="",
    )
    accounts = YandexAccount.objects.filter(
        Q(status=YandexAccount.Status.NEEDS_REAUTH) | expiring
    )
    if not user_is_admin(user):
        counter_ids = counter_list_for_user(user).values("account_id")
        accounts = accounts.filter(pk__in=counter_ids)
    return list(accounts.order_by("login"))
