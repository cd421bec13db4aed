from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ordersync.core.permissions import user_is_admin
from ordersync.submissions import charts, selectors, services
from ordersync.submissions.forms import HistoryFilterForm, ResendForm
from ordersync.submissions.models import Submission
from ordersync.uploads import selectors as upload_selectors
from ordersync.uploads.models import Upload
from ordersync.uploads.presenters import mapping_rows, problem_types


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    form = HistoryFilterForm(request.GET or None, user=request.user)
    page = selectors.history_page(
        request.user,
        form.filters(),
        before=request.GET.get("before", ""),
        after=request.GET.get("after", ""),
    )
    query = request.GET.copy()
    query.pop("before", None)
    query.pop("after", None)
    return render(
        request,
        "submissions/history.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "drafts": upload_selectors.upload_drafts_for_user(request.user).count(),
        },
    )


def _get(request: HttpRequest, public_id, pk: int | None = None):
    upload = selectors.upload_get_for_user(request.user, public_id)
    try:
        submission = selectors.submission_get_for_user(request.user, upload, pk)
    except Submission.DoesNotExist:
        raise Http404 from None
    return upload, submission


@login_required
@require_GET
def detail(request: HttpRequest, public_id) -> HttpResponse:
    pk = request.GET.get("submission")
    upload, submission = _get(
        request, public_id, int(pk) if pk and pk.isdigit() else None
    )
    is_admin = user_is_admin(request.user)
    return render(
        request,
        "submissions/detail.html",
        {
            "upload": upload,
            "submission": submission,
            "submissions": upload.submissions.select_related("created_by").order_by(
                "-created_at", "-id"
            ),
            "parts": submission.parts.all(),
            "timeline": selectors.timeline(submission),
            "mask": not is_admin,
            "may_act": selectors.user_may_act(request.user, submission),
            "may_download": selectors.user_may_download(request.user, submission),
            "files_retained": services.yandex.upload_files_retained(upload),
            "problem_types": problem_types(upload),
            "mapping": mapping_rows(upload.mapping or {}),
            "may_download_report": _may_download_report(request.user, upload),
            "resend_form": ResendForm(initial={"merge_mode": submission.merge_mode}),
            "may_send_fixes": upload_selectors.upload_may_send_fixes(
                request.user, upload
            ),
            "fixes": upload_selectors.upload_fixes_of(request.user, upload),
            "fixes_of": upload_selectors.upload_fixes_origin(request.user, upload),
            "progress": _progress(submission),
        },
    )


def _may_download_report(user, upload: Upload) -> bool:
    """Whether the uploads app serves this upload's problem report to the user."""
    return (
        bool(upload.problems_csv)
        and upload.status in (Upload.Status.READY, Upload.Status.CONFIRMED)
        and upload_selectors.upload_list_for_wizard(user).filter(pk=upload.pk).exists()
    )


def _progress(submission: Submission) -> dict:
    """Return bytes and parts sent and an estimate of the time left."""
    left = None
    if submission.status == Submission.Status.SENDING and submission.send_started_at:
        elapsed = (timezone.now() - submission.send_started_at).total_seconds()
        if elapsed > 1 and submission.bytes_sent:
            rate = submission.bytes_sent / elapsed
            left = int((submission.bytes_total - submission.bytes_sent) / rate)
    return {"percent": submission.progress_percent, "seconds_left": left}


@login_required
@require_GET
def progress(request: HttpRequest, public_id, pk: int) -> HttpResponse:
    _upload, submission = _get(request, public_id, pk)
    response = render(
        request,
        "submissions/_progress.html",
        {
            "submission": submission,
            "progress": _progress(submission),
            "upload": _upload,
        },
    )
    if not submission.is_active:
        # htmx stops polling on 286; the page reloads to show the final state.
        response.status_code = 286
        response["HX-Refresh"] = "true"
    return response


def _act(request: HttpRequest, public_id, pk: int, action) -> HttpResponse:
    upload, submission = _get(request, public_id, pk)
    if not selectors.user_may_act(request.user, submission):
        raise Http404
    try:
        result = action(submission)
    except services.SubmissionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, result)
    return redirect(reverse("submissions:detail", args=[upload.public_id]))


@login_required
@require_POST
def cancel(request: HttpRequest, public_id, pk: int) -> HttpResponse:
    def action(submission):
        services.submission_cancel(submission=submission, user=request.user)
        return _("The upload was cancelled.")

    return _act(request, public_id, pk, action)


@login_required
@require_POST
def retry(request: HttpRequest, public_id, pk: int) -> HttpResponse:
    def action(submission):
        services.submission_retry(submission=submission, user=request.user)
        return _("The upload was queued again.")

    return _act(request, public_id, pk, action)


@login_required
@require_POST
def force(request: HttpRequest, public_id, pk: int) -> HttpResponse:
    def action(submission):
        services.submission_retry(submission=submission, user=request.user, force=True)
        return _("The parts with an unknown outcome will be sent again.")

    return _act(request, public_id, pk, action)


@login_required
@require_POST
def resend(request: HttpRequest, public_id, pk: int) -> HttpResponse:
    form = ResendForm(request.POST)

    def action(submission):
        if not form.is_valid():
            raise services.SubmissionError(_("Choose a merge mode."))
        services.submission_resend(
            submission=submission,
            user=request.user,
            merge_mode=form.cleaned_data["merge_mode"],
        )
        return _("The upload will be sent again.")

    return _act(request, public_id, pk, action)


def _file_response(request: HttpRequest, public_id, field_file, name: str):
    if not field_file:
        raise Http404
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=name)


@login_required
@require_GET
def download_original(request: HttpRequest, public_id) -> HttpResponse:
    upload, submission = _get(request, public_id)
    if not selectors.user_may_download(request.user, submission):
        raise Http404
    return _file_response(
        request, public_id, upload.original_file, upload.original_name
    )


@login_required
@require_GET
def download_part(request: HttpRequest, public_id, index: int) -> HttpResponse:
    upload, submission = _get(request, public_id)
    if not selectors.user_may_download(request.user, submission):
        raise Http404
    part = upload.parts.filter(index=index).first()
    if part is None:
        raise Http404
    return _file_response(
        request, public_id, part.file, f"metrika-{upload.public_id}-{index + 1}.csv"
    )


def dashboard_context(user) -> dict:
    """Return what the dashboard shows; the page itself lives in core."""
    daily = selectors.dashboard_daily(user)
    names = {c.pk: str(c) for c in daily.counters}
    return {
        "rows_chart": charts.stacked_bars(daily.days, daily.rows, names),
        "uploads_chart": charts.stacked_bars(daily.days, daily.uploads, names),
        "top_problems": selectors.dashboard_top_problems(user),
        "attention": selectors.dashboard_attention(user),
        "accounts": selectors.dashboard_accounts(user),
    }
