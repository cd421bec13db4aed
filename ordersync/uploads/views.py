from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ordersync import orderfile
from ordersync.counters.selectors import counter_list_for_upload
from ordersync.counters.services import saved_mapping_save
from ordersync.uploads import selectors, services
from ordersync.uploads.errors import UploadError
from ordersync.uploads.forms import (
    ColumnsForm,
    FileForm,
    FixesForm,
    OptionsForm,
    ReplaceFileForm,
    SaveMappingForm,
    SourceForm,
    engine_lang,
)
from ordersync.uploads.handlers import MaxBytesUploadHandler
from ordersync.uploads.models import Upload
from ordersync.uploads.presenters import (
    JOB_PAGE,
    column_rows,
    output_rows,
    problem_rows,
    problem_types,
    progress_context,
    step_nav,
)

S = Upload.Status
Step = Upload.Step
PROBLEMS_PER_PAGE = 50


def step_url(upload: Upload, step: str) -> str:
    return reverse(f"uploads:{step}", args=[upload.public_id])


def current_url(upload: Upload) -> str:
    """Return the page a user resuming this upload should see."""
    if upload.status == S.ANALYSING:
        return step_url(upload, JOB_PAGE[upload.job])
    if upload.status == S.UNREADABLE:
        return step_url(upload, Step.FILE)
    if upload.status == S.CONFIRMED:
        return sent_url(upload)
    if upload.status == S.ABANDONED:
        return reverse("uploads:new")
    if upload.error_step:
        return step_url(upload, upload.error_step)
    return step_url(upload, upload.step)


def sent_url(upload: Upload) -> str:
    try:
        return reverse("submissions:detail", args=[upload.public_id])
    except NoReverseMatch:
        return step_url(upload, Step.CONFIRM)


def _guard(upload: Upload, step: str):
    """Return a redirect when the upload cannot show ``step`` now, else None."""
    steps = services.STEPS
    if upload.status in (S.CONFIRMED, S.ABANDONED) and step != Step.CONFIRM:
        return redirect(current_url(upload))
    if upload.status == S.ANALYSING and JOB_PAGE[upload.job] != step:
        return redirect(current_url(upload))
    allowed = steps.index(upload.step)
    if upload.status == S.ANALYSING:
        allowed = max(allowed, steps.index(JOB_PAGE[upload.job]))
    if steps.index(step) > allowed:
        return redirect(current_url(upload))
    return None


def _page(request, upload: Upload, step: str, template: str, **context):
    context.update(
        upload=upload,
        step=step,
        steps=step_nav(upload, step),
        error=_error_for(upload, step),
        analysing=upload.status == S.ANALYSING,
        progress=progress_context(upload.__dict__)
        if upload.status == S.ANALYSING
        else None,
        max_mb=settings.UPLOAD_MAX_BYTES // (1024 * 1024),
    )
    return render(request, template, context)


def _error_for(upload: Upload, step: str) -> str:
    if upload.error_step != step or upload.status == S.ANALYSING:
        return ""
    return upload.error_en if engine_lang() == "en" else upload.error_ru


@login_required
@require_GET
def upload_list(request):
    return render(
        request,
        "uploads/upload_list.html",
        {"drafts": selectors.upload_drafts_for_user(request.user)[:50]},
    )


def _too_many_uploads(request):
    """Return a 429 page if the user started too many uploads lately, else None.

    Counted from the database, so every web process sees the same numbers; the
    body of a refused request is never read.
    """
    window = settings.UPLOAD_RATE_WINDOW_SECONDS
    since = timezone.now() - timedelta(seconds=window)
    recent = Upload.objects.filter(created_by=request.user, created_at__gte=since)
    if recent.count() < settings.UPLOAD_RATE_LIMIT:
        return None
    response = render(
        request, "errors/429.html", {"minutes": max(1, round(window / 60))}, status=429
    )
    response["Retry-After"] = str(int(window))
    return response


def _size_capped(request, *, counted: bool):
    """Put the size cap in front of Django's upload handlers, before the body is
    read (so the views check CSRF inside, after this); with ``counted``, refuse a
    POST over the upload rate limit first. Return (limiter, refusal or None)."""
    limiter = MaxBytesUploadHandler(request, settings.UPLOAD_MAX_BYTES)
    if request.method != "POST":
        return limiter, None
    if counted and (refused := _too_many_uploads(request)):
        return limiter, refused
    request.upload_handlers.insert(0, limiter)
    return limiter, None


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def upload_new(request):
    limiter, refused = _size_capped(request, counted=True)
    return refused or _upload_new(request, limiter)


@csrf_protect
def _upload_new(request, limiter):
    counters = counter_list_for_upload(request.user)
    if request.method == "POST":
        posted = request.POST.get("counter", "")
        if posted and not counters.filter(pk=posted if posted.isdigit() else 0):
            raise Http404
        form = FileForm(request.POST, request.FILES, counters=counters)
        if form.is_valid():
            try:
                if limiter.too_big:
                    raise UploadError(services.too_big_message())
                upload = services.upload_create(
                    user=request.user,
                    counter=form.cleaned_data["counter"],
                    file=form.cleaned_data["file"],
                    language=engine_lang(),
                )
            except UploadError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect(step_url(upload, Step.SOURCE))
        status = 413 if limiter.too_big else 400
    else:
        initial = {}
        counter_id = request.GET.get("counter", "")
        if counter_id.isdigit() and counters.filter(pk=counter_id).exists():
            initial["counter"] = int(counter_id)
        elif counters.count() == 1:
            initial["counter"] = counters.first()
        form = FileForm(counters=counters, initial=initial)
        status = 200
    return render(
        request,
        "uploads/step_file.html",
        {
            "form": form,
            "steps": step_nav(None, Step.FILE),
            "step": Step.FILE,
            "has_counters": counters.exists(),
            "drafts": selectors.upload_drafts_for_user(request.user)[:5],
            "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
            "max_bytes": settings.UPLOAD_MAX_BYTES,
        },
        status=status,
    )


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def upload_fixes(request, public_id):
    original = selectors.upload_get_for_fixes(request.user, public_id)
    limiter, refused = _size_capped(request, counted=True)
    return refused or _upload_fixes(request, original, limiter)


@csrf_protect
def _upload_fixes(request, original: Upload, limiter):
    possible = selectors.upload_fixes_possible(original)
    if request.method == "POST" and not possible:
        messages.error(request, _("This upload has no rows with errors to fix."))
        return redirect(sent_url(original))
    status = 200
    if request.method == "POST":
        form = FixesForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                if limiter.too_big:
                    raise UploadError(services.too_big_message())
                upload = services.upload_fixes_create(
                    user=request.user,
                    original=original,
                    file=form.cleaned_data["file"],
                    merge_mode=form.cleaned_data["merge_mode"],
                    language=engine_lang(),
                )
            except UploadError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect(step_url(upload, Step.PREVIEW))
        status = 413 if limiter.too_big else 400
    else:
        form = FixesForm(
            initial={"merge_mode": selectors.upload_fixes_merge_mode(original)}
        )
    return render(
        request,
        "uploads/fixes.html",
        {
            "original": original,
            "possible": possible,
            "form": form,
            "max_bytes": settings.UPLOAD_MAX_BYTES,
        },
        status=status,
    )


@login_required
@require_GET
def upload_resume(request, public_id):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    return redirect(current_url(upload))


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def upload_file(request, public_id):
    limiter, _refused = _size_capped(request, counted=False)
    return _upload_file(request, public_id, limiter)


@csrf_protect
def _upload_file(request, public_id, limiter):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    if upload.status in (S.CONFIRMED, S.ABANDONED):
        return redirect(current_url(upload))
    form = ReplaceFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            if limiter.too_big:
                raise UploadError(services.too_big_message())
            services.upload_replace_file(upload=upload, file=form.cleaned_data["file"])
        except UploadError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect(step_url(upload, Step.SOURCE))
    return _page(
        request,
        upload,
        Step.FILE,
        "uploads/step_file_existing.html",
        form=form,
        max_bytes=settings.UPLOAD_MAX_BYTES,
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_source(request, public_id):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    if response := _guard(upload, Step.SOURCE):
        return response
    form = SourceForm(request.POST or None, upload=upload)
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("action") == "reread" or form.options() != {
                k: v for k, v in upload.source_options.items() if v not in ("", None)
            }:
                services.upload_set_source(upload=upload, options=form.options())
                return redirect(step_url(upload, Step.SOURCE))
            services.upload_accept_source(upload=upload)
        except UploadError as exc:
            messages.error(request, str(exc))
            return redirect(current_url(upload))
        return redirect(step_url(upload, Step.COLUMNS))
    return _page(request, upload, Step.SOURCE, "uploads/step_source.html", form=form)


@login_required
@require_http_methods(["GET", "POST"])
def upload_columns(request, public_id):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    if response := _guard(upload, Step.COLUMNS):
        return response
    action = request.POST.get("action", "next")
    if request.method == "POST" and action == "apply":
        return _apply_mapping(request, upload)
    form = ColumnsForm(
        request.POST if request.method == "POST" else None,
        upload=upload,
        mapping=upload.mapping,
    )
    save_form = SaveMappingForm(request.POST if action == "save" else None)
    if request.method == "POST" and form.is_valid():
        mapping = form.cleaned_data["mapping"]
        try:
            if action == "save":
                if save_form.is_valid():
                    saved_mapping_save(
                        counter=upload.counter,
                        name=save_form.cleaned_data["name"],
                        mapping={**mapping.to_dict(), "confidence": {}},
                        user=request.user,
                    )
                    services.upload_apply_mapping(
                        upload=upload,
                        data=mapping.to_dict(),
                        origin=save_form.cleaned_data["name"],
                    )
                    messages.success(
                        request,
                        _("The mapping «%(name)s» is saved for this counter.")
                        % {"name": save_form.cleaned_data["name"]},
                    )
                    return redirect(step_url(upload, Step.COLUMNS))
            else:
                services.upload_set_mapping(upload=upload, mapping=mapping)
                return redirect(step_url(upload, Step.OPTIONS))
        except orderfile.MappingError as exc:
            form.add_error(None, exc.message(engine_lang()))
        except UploadError as exc:
            messages.error(request, str(exc))
            return redirect(current_url(upload))
    return _page(
        request,
        upload,
        Step.COLUMNS,
        "uploads/step_columns.html",
        form=form,
        save_form=save_form,
        rows=column_rows(upload, form),
        saved=selectors.saved_mappings(upload.counter_id),
        last=selectors.last_mapping_for_counter(upload.counter_id, exclude=upload.pk),
        no_data=not upload.source_preview,
    )


def _apply_mapping(request, upload: Upload):
    choice = request.POST.get("mapping", "")
    if choice == "last":
        data = selectors.last_mapping_for_counter(upload.counter_id, exclude=upload.pk)
        origin = "last"
    elif choice == "suggested":
        sample = [values for _n, values in upload.source_preview]
        data = orderfile.suggest_mapping(upload.columns, sample).to_dict()
        origin = "suggested"
    else:
        saved = (
            selectors.saved_mappings(upload.counter_id).filter(pk=choice or 0).first()
        )
        if saved is None:
            raise Http404
        data, origin = saved.mapping, saved.name
    try:
        missing = services.upload_apply_mapping(upload=upload, data=data, origin=origin)
    except (UploadError, orderfile.MappingError) as exc:
        messages.error(request, str(exc))
    else:
        if missing:
            messages.warning(
                request,
                _("These columns of the mapping are not in this file: %(columns)s.")
                % {"columns": ", ".join(f"«{c}»" for c in missing)},
            )
    return redirect(step_url(upload, Step.COLUMNS))


@login_required
@require_http_methods(["GET", "POST"])
def upload_options(request, public_id):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    if response := _guard(upload, Step.OPTIONS):
        return response
    known = selectors.counter_statuses(upload.counter_id)
    form = OptionsForm(request.POST or None, upload=upload, known=known)
    if request.method == "POST" and form.is_valid():
        try:
            services.upload_set_options(
                upload=upload,
                user=request.user,
                statuses=form.statuses(),
                merge_mode=form.cleaned_data["merge_mode"],
                hash_pii=form.cleaned_data["hash_pii"],
                duplicates=form.cleaned_data["duplicates"],
                remember_statuses=form.cleaned_data["remember_statuses"],
                language=engine_lang(),
            )
        except UploadError as exc:
            messages.error(request, str(exc))
            return redirect(current_url(upload))
        return redirect(step_url(upload, Step.PREVIEW))
    return _page(request, upload, Step.OPTIONS, "uploads/step_options.html", form=form)


@login_required
@require_http_methods(["GET", "POST"])
def upload_preview(request, public_id):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    if response := _guard(upload, Step.PREVIEW):
        return response
    if request.method == "POST":
        try:
            services.upload_go_to_confirm(upload=upload)
        except UploadError as exc:
            messages.error(request, str(exc))
            return redirect(step_url(upload, Step.PREVIEW))
        return redirect(step_url(upload, Step.CONFIRM))
    if upload.status == S.ANALYSING:
        return _page(request, upload, Step.PREVIEW, "uploads/step_preview.html")
    code = request.GET.get("code", "")
    types = problem_types(upload)
    if code and code not in {t["code"] for t in types}:
        code = ""
    page = Paginator(
        selectors.upload_problems(upload, code), PROBLEMS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return _page(
        request,
        upload,
        Step.PREVIEW,
        "uploads/step_preview.html",
        types=types,
        code=code,
        page=page,
        problems=problem_rows(page.object_list),
        sent_rows=output_rows(upload),
        total_problems=sum(upload.counts_by_code.values()),
        parts=list(upload.parts.all()),
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_confirm(request, public_id):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    if response := _guard(upload, Step.CONFIRM):
        return response
    if request.method == "POST":
        try:
            services.upload_confirm(upload=upload, user=request.user)
        except UploadError as exc:
            messages.error(request, str(exc))
            return redirect(step_url(upload, Step.CONFIRM))
        return redirect(sent_url(upload))
    return _page(request, upload, Step.CONFIRM, "uploads/step_confirm.html")


@login_required
@require_POST
def upload_abandon(request, public_id):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    try:
        services.upload_abandon(upload=upload)
    except UploadError as exc:
        messages.error(request, str(exc))
        return redirect(current_url(upload))
    messages.info(request, _("The upload «%(name)s» is deleted.") % {"name": upload})
    return redirect("uploads:new")


@login_required
@require_GET
def upload_progress(request, public_id):
    row = selectors.upload_progress_for_wizard(request.user, public_id)
    if row["status"] != S.ANALYSING:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(
        request,
        "uploads/_progress.html",
        {"progress": progress_context(row), "public_id": public_id},
    )


@login_required
@require_GET
def upload_download(request, public_id, what):
    upload = selectors.upload_get_for_wizard(request.user, public_id)
    if upload.status not in (S.READY, S.CONFIRMED):
        raise Http404
    stem = upload.original_name.rsplit(".", 1)[0] or "orders"
    if what in ("problems.csv", "problems.xlsx"):
        field = upload.problems_csv if what.endswith("csv") else upload.problems_xlsx
        content_type = (
            "text/csv; charset=utf-8"
            if what.endswith("csv")
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        name = f"{stem}-{_('problems')}.{what.rsplit('.', 1)[1]}"
    else:
        index = int(what) if what.isdigit() else -1
        part = upload.parts.filter(index=index).first()
        if part is None:
            raise Http404
        field, content_type = part.file, "text/csv; charset=utf-8"
        suffix = f"-{index + 1}" if upload.parts.count() > 1 else ""
        name = f"{stem}-metrika{suffix}.csv"
    if not field:
        raise Http404
    response = FileResponse(
        field.open("rb"), as_attachment=True, filename=name, content_type=content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response
