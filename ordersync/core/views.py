from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ordersync.core import selectors, services
from ordersync.core.audit import ACTION_LABELS
from ordersync.core.permissions import user_is_admin


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    from ordersync.submissions.views import dashboard_context

    return render(request, "core/dashboard.html", dashboard_context(request.user))


@login_required
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    if not user_is_admin(request.user):
        raise PermissionDenied
    checks = {
        "database": services.health_check_database(),
        "broker": services.health_check_broker(),
        "worker": services.health_check_worker(),
    }
    status = 200 if all(c.ok for c in checks.values()) else 503
    return render(request, "core/health.html", {"checks": checks}, status=status)


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    if not user_is_admin(request.user):
        raise PermissionDenied
    events = selectors.audit_event_list(request.user)
    action = request.GET.get("action", "")
    if action:
        events = events.filter(action=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "core/audit_log.html",
        {"page": page, "action": action, "actions": ACTION_LABELS},
    )


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Only the path: object ids, never query strings (they may carry search terms).
    services.audit_log(
        action="access.denied",
        request=request,
        details={"method": request.method, "path": request.path[:200]},
    )
    return render(request, "errors/403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the failure may come from them or from the database.
    from django.template import loader

    return HttpResponse(loader.get_template("errors/500.html").render(), status=500)
