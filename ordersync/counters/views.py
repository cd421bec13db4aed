from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ordersync.core.permissions import user_is_admin
from ordersync.counters import selectors, services
from ordersync.counters.errors import CountersError
from ordersync.counters.forms import (
    CounterSettingsForm,
    GrantForm,
    ImportCountersForm,
    PasteTokenForm,
)

ACCOUNT_CALLS_SHOWN = 20


def admin_required(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not user_is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


# Counters


@login_required
@require_GET
def counter_list(request: HttpRequest) -> HttpResponse:
    counters = selectors.counter_list_for_user(request.user).order_by(
        "-enabled", "name"
    )
    return render(request, "counters/counter_list.html", {"counters": counters})


@login_required
@require_GET
def counter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    counter = selectors.counter_get_for_user(request.user, pk)
    return render(
        request,
        "counters/counter_detail.html",
        {
            "counter": counter,
            "form": CounterSettingsForm(instance=counter),
            "grants": selectors.grant_list_for_counter(request.user, counter),
            "grant_form": GrantForm(),
            "saved_mappings": selectors.saved_mapping_list(request.user, counter),
            "can_manage": selectors.user_can_manage_counters(request.user),
        },
    )


def _counter_for_admin(request: HttpRequest, pk: int):
    counter = selectors.counter_get_for_user(request.user, pk)
    if not selectors.user_can_manage_counters(request.user):
        raise PermissionDenied
    return counter


@login_required
@require_POST
def counter_settings(request: HttpRequest, pk: int) -> HttpResponse:
    counter = _counter_for_admin(request, pk)
    form = CounterSettingsForm(request.POST, instance=counter)
    if not form.is_valid():
        counter.refresh_from_db()
        messages.error(request, _("The settings were not saved; check the form."))
        return render(
            request,
            "counters/counter_detail.html",
            {
                "counter": counter,
                "form": form,
                "grants": selectors.grant_list_for_counter(request.user, counter),
                "grant_form": GrantForm(),
                "can_manage": True,
            },
            status=400,
        )
    services.counter_update_settings(
        counter=counter,
        default_merge_mode=form.cleaned_data["default_merge_mode"],
        hash_personal_data=form.cleaned_data["hash_personal_data"],
        default_phone_region=form.cleaned_data["default_phone_region"],
        request=request,
    )
    messages.success(request, _("Counter settings saved."))
    return redirect("counters:counter_detail", pk=counter.pk)


@login_required
@require_POST
def grant_create(request: HttpRequest, pk: int) -> HttpResponse:
    counter = _counter_for_admin(request, pk)
    form = GrantForm(request.POST)
    if form.is_valid():
        grant = services.grant_add(
            counter=counter,
            user=form.cleaned_data["user"],
            group=form.cleaned_data["group"],
            request=request,
        )
        messages.success(
            request,
            _("%(grantee)s may now upload to this counter.")
            % {"grantee": grant.grantee},
        )
    else:
        messages.error(request, " ".join(form.errors.get("__all__", [])) or _("Error."))
    return redirect("counters:counter_detail", pk=counter.pk)


@login_required
@require_POST
def grant_delete(request: HttpRequest, pk: int, grant_pk: int) -> HttpResponse:
    counter = _counter_for_admin(request, pk)
    grant = selectors.grant_get_for_user(request.user, counter, grant_pk)
    services.grant_remove(grant=grant, request=request)
    messages.success(
        request, _("Access for %(grantee)s removed.") % {"grantee": grant.grantee}
    )
    return redirect("counters:counter_detail", pk=counter.pk)


@login_required
@require_POST
def counter_remove(request: HttpRequest, pk: int) -> HttpResponse:
    counter = _counter_for_admin(request, pk)
    services.counter_remove(counter=counter, request=request)
    messages.success(
        request,
        _("Counter %(name)s is no longer offered for uploads.")
        % {"name": counter.name},
    )
    return redirect("counters:counter_list")


# Yandex accounts


@admin_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = selectors.account_list_for_user(request.user)
    return render(request, "counters/account_list.html", {"accounts": accounts})


@admin_required
@require_GET
def account_connect(request: HttpRequest) -> HttpResponse:
    try:
        url = services.account_oauth_start(request=request)
    except CountersError as exc:
        messages.error(request, str(exc))
        return redirect("counters:account_list")
    return redirect(url)


@admin_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    try:
        account = services.account_oauth_finish(
            request=request, params=request.GET.dict()
        )
    except CountersError as exc:
        messages.error(request, str(exc))
        return redirect("counters:account_list")
    messages.success(
        request,
        _("Yandex account %(login)s is connected. Choose the counters to add.")
        % {"login": account.login},
    )
    return redirect("counters:account_import", pk=account.pk)


@sensitive_post_parameters("access_token")
@admin_required
@require_http_methods(["GET", "POST"])
def account_paste(request: HttpRequest) -> HttpResponse:
    form = PasteTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_connect_pasted(
                access_token=form.cleaned_data["access_token"], request=request
            )
        except CountersError as exc:
            form.add_error("access_token", str(exc))
        else:
            messages.success(
                request,
                _("Yandex account %(login)s is connected. Choose the counters to add.")
                % {"login": account.login},
            )
            return redirect("counters:account_import", pk=account.pk)
    return render(request, "counters/account_paste.html", {"form": form})


@admin_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_get_for_user(request.user, pk)
    return render(
        request,
        "counters/account_detail.html",
        {
            "account": account,
            "counters": account.counters.order_by("-enabled", "name"),
            "calls": account.calls.all()[:ACCOUNT_CALLS_SHOWN],
        },
    )


@admin_required
@require_POST
def account_check(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_get_for_user(request.user, pk)
    try:
        services.account_check(account=account)
    except CountersError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Yandex answered: the token works."))
    return redirect("counters:account_detail", pk=account.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def account_import(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_get_for_user(request.user, pk)
    try:
        rows = services.account_fetch_counters(account=account)
    except CountersError as exc:
        messages.error(request, str(exc))
        return redirect("counters:account_detail", pk=account.pk)
    if request.method == "POST":
        form = ImportCountersForm(
            request.POST, choices=[r.counter.id for r in rows if not r.added]
        )
        if form.is_valid():
            try:
                added = services.counter_import(
                    account=account,
                    metrika_ids=form.cleaned_data["metrika_ids"],
                    request=request,
                )
            except CountersError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    _("Counters added: %(names)s.")
                    % {"names": ", ".join(c.name for c in added)},
                )
                return redirect("counters:account_detail", pk=account.pk)
        else:
            messages.error(
                request,
                _("Choose counters from the list; view-only counters cannot be added."),
            )
    return render(
        request, "counters/account_import.html", {"account": account, "rows": rows}
    )


@admin_required
@require_POST
def account_sync(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_get_for_user(request.user, pk)
    try:
        changed = services.account_sync_counters(account=account, request=request)
    except CountersError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Counters synchronised with Yandex; %(count)d changed.")
            % {"count": changed},
        )
    return redirect("counters:account_detail", pk=account.pk)


@admin_required
@require_POST
def account_disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_get_for_user(request.user, pk)
    services.account_disconnect(account=account, request=request)
    messages.success(
        request,
        _(
            "The tokens of %(login)s were deleted from OrderSync. Yandex still "
            "lists the access: withdraw it on the Yandex ID data-access page."
        )
        % {"login": account.login},
    )
    return redirect("counters:account_detail", pk=account.pk)
