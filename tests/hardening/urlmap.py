"""Every URL pattern of the project, read from the resolver, with a way to build
its arguments for the victim's objects (see ``conftest.World``).

A pattern added to the project without an entry here fails the access-matrix and
CSRF tests with a message naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver, reverse

ANON, NEIGHBOUR, UNGRANTED, ADMIN, OWNER = (
    "anonymous",
    "marketer-of-another-counter",
    "marketer-without-grant",
    "admin",
    "owner",
)
OUTSIDERS = (ANON, NEIGHBOUR, UNGRANTED)
LOGIN = "login"  # a redirect to the login page
ADMIN_LOGIN = "admin-login"  # a redirect to the Django admin's login page
OK = "ok"  # 200, or a redirect to a page of the app other than a login page


@dataclass(frozen=True)
class Pattern:
    key: str  # "namespace:name", or the route for unnamed patterns
    route: str
    converters: tuple[str, ...]


@dataclass
class Entry:
    """How to reach a pattern on the victim's objects and what each actor gets."""

    kwargs: Callable[..., dict] = lambda w: {}
    get: dict[str, object] = field(default_factory=dict)
    post: dict[str, object] = field(default_factory=dict)
    data: Callable[..., dict] = lambda w: {}
    # The admin may change something with this POST (they manage everything).
    admin_writes: bool = False
    # ... or even with a GET (a failed OAuth callback is audited, the import page
    # records a successful call to Yandex).
    admin_get_writes: bool = False
    # An outsider's 200 shows a list filtered to their own things.
    filtered: bool = False


def walk(resolver=None, prefix: str = "", namespace: str = "") -> Iterator[Pattern]:
    """Yield every URL pattern of the project, included ones too."""
    resolver = resolver or get_resolver()
    for item in resolver.url_patterns:
        if isinstance(item, URLResolver):
            ns = namespace
            if item.namespace:
                ns = f"{namespace}:{item.namespace}" if namespace else item.namespace
            yield from walk(item, prefix + str(item.pattern), ns)
        elif isinstance(item, URLPattern):
            route = prefix + str(item.pattern)
            name = item.name and (
                f"{namespace}:{item.name}" if namespace else item.name
            )
            yield Pattern(
                key=name or route,
                route=route,
                converters=tuple(item.pattern.converters)
                + tuple(item.pattern.regex.groupindex),
            )


def _obj(ok: object = OK, owner: object = OK) -> dict:
    """The victim's object: outsiders get 404, anonymous visitors the login page."""
    return {ANON: LOGIN, NEIGHBOUR: 404, UNGRANTED: 404, ADMIN: ok, OWNER: owner}


def _admin_only(ok: object = OK) -> dict:
    return {ANON: LOGIN, NEIGHBOUR: 403, UNGRANTED: 403, ADMIN: ok, OWNER: 403}


def _wrong_method() -> dict:
    """A login-only view asked with a method it does not take: 405 before lookup."""
    return {ANON: LOGIN, NEIGHBOUR: 405, UNGRANTED: 405, ADMIN: 405, OWNER: 405}


def _listing(ok: object = 200) -> dict:
    return {ANON: LOGIN, NEIGHBOUR: ok, UNGRANTED: ok, ADMIN: ok, OWNER: ok}


def _login_then(status: object) -> dict:
    return {ANON: LOGIN, NEIGHBOUR: status, UNGRANTED: status, ADMIN: status,
            OWNER: status}  # fmt: skip


def _public(status: object) -> dict:
    return dict.fromkeys((ANON, NEIGHBOUR, UNGRANTED, ADMIN, OWNER), status)


def _upload(w, step: str = "") -> dict:
    return {"public_id": w.draft.public_id}


def _submission(w) -> dict:
    return {"public_id": w.sent.public_id, "pk": w.submission.pk}


def _csv_file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(
        "forged.csv",
        b"id,create_date_time,client_ids,order_status\n1,2024-01-01,5,PAID\n",
        content_type="text/csv",
    )


NOT_ALLOWED = 405
COUNTER_WRITE = {**_obj(ok=OK, owner=403)}

ENTRIES: dict[str, Entry] = {
    # --- core
    "core:dashboard": Entry(get=_listing(), post=_login_then(405), filtered=True),
    # The health page answers 503 while the worker is down, as in most tests.
    # Each visit sends a ping through a worker and keeps it.
    "core:health": Entry(
        get=_admin_only((200, 503)), post=_wrong_method(), admin_get_writes=True
    ),
    "core:audit_log": Entry(get=_admin_only(), post=_wrong_method()),
    # --- counters
    "counters:counter_list": Entry(
        get=_listing(), post=_login_then(405), filtered=True
    ),
    "counters:counter_detail": Entry(
        kwargs=lambda w: {"pk": w.counter.pk},
        get=_obj(),
        post={**_wrong_method()},
    ),
    "counters:counter_settings": Entry(
        kwargs=lambda w: {"pk": w.counter.pk},
        get={**_wrong_method()},
        post=COUNTER_WRITE,
        data=lambda w: {
            "default_merge_mode": "APPEND",
            "hash_personal_data": "",
            "default_phone_region": "KZ",
        },
        admin_writes=True,
    ),
    "counters:counter_remove": Entry(
        kwargs=lambda w: {"pk": w.counter.pk},
        get={**_wrong_method()},
        post=COUNTER_WRITE,
        admin_writes=True,
    ),
    "counters:grant_create": Entry(
        kwargs=lambda w: {"pk": w.counter.pk},
        get={**_wrong_method()},
        post=COUNTER_WRITE,
        data=lambda w: {"user": w.ungranted.pk},
        admin_writes=True,
    ),
    "counters:grant_delete": Entry(
        kwargs=lambda w: {"pk": w.counter.pk, "grant_pk": w.grant.pk},
        get={**_wrong_method()},
        post=COUNTER_WRITE,
        admin_writes=True,
    ),
    "counters:account_list": Entry(get=_admin_only(), post=_admin_only(405)),
    "counters:account_connect": Entry(get=_admin_only(), post=_admin_only(405)),
    "counters:oauth_callback": Entry(
        get=_admin_only(), post=_admin_only(405), admin_get_writes=True
    ),
    "counters:account_paste": Entry(
        get=_admin_only(),
        post=_admin_only(),
        data=lambda w: {"access_token": "y0_forged_token_value"},
        admin_writes=True,
    ),
    "counters:account_detail": Entry(
        kwargs=lambda w: {"pk": w.account.pk},
        get=_admin_only(),
        post=_admin_only(405),
    ),
    "counters:account_check": Entry(
        kwargs=lambda w: {"pk": w.account.pk},
        get=_admin_only(405),
        post=_admin_only(),
        admin_writes=True,
    ),
    "counters:account_import": Entry(
        kwargs=lambda w: {"pk": w.account.pk},
        get=_admin_only(),
        post=_admin_only(),
        data=lambda w: {"metrika_ids": ["412"]},
        admin_writes=True,
        admin_get_writes=True,
    ),
    "counters:account_sync": Entry(
        kwargs=lambda w: {"pk": w.account.pk},
        get=_admin_only(405),
        post=_admin_only(),
        admin_writes=True,
    ),
    "counters:account_disconnect": Entry(
        kwargs=lambda w: {"pk": w.account.pk},
        get=_admin_only(405),
        post=_admin_only(),
        admin_writes=True,
    ),
    # --- history
    "submissions:history": Entry(get=_listing(), post=_login_then(405), filtered=True),
    "submissions:detail": Entry(
        kwargs=lambda w: {"public_id": w.sent.public_id},
        get=_obj(),
        post=_wrong_method(),
    ),
    "submissions:original": Entry(
        kwargs=lambda w: {"public_id": w.sent.public_id},
        get=_obj(),
        post=_wrong_method(),
    ),
    "submissions:part": Entry(
        kwargs=lambda w: {"public_id": w.sent.public_id, "index": 0},
        get=_obj(),
        post=_wrong_method(),
    ),
    # 286 tells htmx to stop polling: the submission has finished.
    "submissions:progress": Entry(
        kwargs=_submission, get=_obj(286, 286), post=_wrong_method()
    ),
    "submissions:cancel": Entry(
        kwargs=_submission, get=_wrong_method(), post=_obj(), admin_writes=True
    ),
    "submissions:retry": Entry(
        kwargs=_submission, get=_wrong_method(), post=_obj(), admin_writes=True
    ),
    "submissions:force": Entry(
        kwargs=_submission, get=_wrong_method(), post=_obj(), admin_writes=True
    ),
    "submissions:resend": Entry(
        kwargs=_submission,
        get=_wrong_method(),
        post=_obj(),
        data=lambda w: {"merge_mode": "SAVE"},
        admin_writes=True,
    ),
    # --- the wizard
    "uploads:list": Entry(get=_listing(), post=_login_then(405), filtered=True),
    "uploads:new": Entry(
        get=_listing(),
        # A forged counter id of the victim: 404, nothing stored.
        post={**_listing(404), ADMIN: OK, OWNER: OK},
        data=lambda w: {"counter": w.counter.pk, "file": _csv_file()},
        admin_writes=True,
        filtered=True,
    ),
    "uploads:resume": Entry(kwargs=_upload, get=_obj(), post=_wrong_method()),
    "uploads:file": Entry(
        kwargs=_upload,
        get=_obj(),
        post=_obj(),
        data=lambda w: {"file": _csv_file()},
        admin_writes=True,
    ),
    "uploads:source": Entry(
        kwargs=_upload,
        get=_obj(),
        post=_obj(),
        data=lambda w: {"action": "reread", "encoding": "cp1251"},
        admin_writes=True,
    ),
    "uploads:columns": Entry(
        kwargs=_upload,
        get=_obj(),
        post=_obj(),
        data=lambda w: {"action": "save", "name": "forged"},
        admin_writes=True,
    ),
    "uploads:options": Entry(
        kwargs=_upload,
        get=_obj(),
        post=_obj(),
        data=lambda w: {"merge_mode": "APPEND", "duplicates": "keep_all"},
        admin_writes=True,
    ),
    "uploads:preview": Entry(
        kwargs=_upload, get=_obj(), post=_obj(), admin_writes=True
    ),
    "uploads:confirm": Entry(
        kwargs=_upload, get=_obj(), post=_obj(), admin_writes=True
    ),
    # 204 + HX-Refresh: the job has finished, the page reloads.
    "uploads:progress": Entry(kwargs=_upload, get=_obj(204, 204), post=_wrong_method()),
    "uploads:abandon": Entry(
        kwargs=_upload, get=_wrong_method(), post=_obj(), admin_writes=True
    ),
    # Resend only rows fixed since: for whoever may see the sent upload and upload
    # to its counter. The victim's sent upload kept no ids, so nothing is created.
    "uploads:fixes": Entry(
        kwargs=lambda w: {"public_id": w.sent.public_id},
        get=_obj(),
        post=_obj(),
        data=lambda w: {"file": _csv_file(), "merge_mode": "SAVE"},
        admin_writes=True,
    ),
    "uploads:download": Entry(
        kwargs=lambda w: {"public_id": w.draft.public_id, "what": "problems.csv"},
        get=_obj(),
        post=_wrong_method(),
    ),
    # --- authentication and language
    "login": Entry(get=_public(200), post=_public(200)),
    "logout": Entry(get=_public(405), post=_public(LOGIN)),
    "set_language": Entry(
        get=_public(OK), post=_public(OK), data=lambda w: {"language": "en"}
    ),
}

# The Django admin: staff only. Marketers are not staff and get its login page;
# the "Admins" group has no Django-admin model permissions (403), only
# superusers work there.
STAFF_ONLY = {ANON: ADMIN_LOGIN, NEIGHBOUR: ADMIN_LOGIN, UNGRANTED: ADMIN_LOGIN,
              OWNER: ADMIN_LOGIN}  # fmt: skip
ADMIN_OBJECTS: dict[str, Callable] = {
    "auth_group": lambda w: w.admins_group.pk,
    "auth_user": lambda w: w.victim.pk,
    "axes_accessattempt": lambda w: w.access_attempt.pk,
    "axes_accesslog": lambda w: w.access_log.pk,
    "axes_accessfailurelog": lambda w: w.access_failure.pk,
    "core_healthping": lambda w: w.ping.pk,
    "core_auditevent": lambda w: w.audit.pk,
    "counters_yandexaccount": lambda w: w.account.pk,
    "counters_counter": lambda w: w.counter.pk,
    "counters_savedmapping": lambda w: w.saved_mapping.pk,
    "counters_statusdictionary": lambda w: w.status_dictionary.pk,
}
ADMIN_SITE = {
    "admin:index": Entry(
        get={**STAFF_ONLY, ADMIN: 200}, post={**STAFF_ONLY, ADMIN: 200}
    ),
    "admin:login": Entry(
        get={**_public(200), ADMIN: OK}, post={**_public(200), ADMIN: OK}
    ),
    # Logging out is not the admin's page: anyone is sent back to it (or, once
    # logged out, to the login page).
    "admin:logout": Entry(
        get={ANON: 302, NEIGHBOUR: 302, UNGRANTED: 302, OWNER: 302, ADMIN: 405},
        post={ANON: 302, NEIGHBOUR: 302, UNGRANTED: 302, OWNER: 302, ADMIN: LOGIN},
    ),
    "admin:password_change": Entry(
        get={**STAFF_ONLY, ADMIN: 200}, post={**STAFF_ONLY, ADMIN: 200}
    ),
    "admin:password_change_done": Entry(
        get={**STAFF_ONLY, ADMIN: 200}, post={**STAFF_ONLY, ADMIN: 405}
    ),
    "admin:autocomplete": Entry(
        get={**STAFF_ONLY, ADMIN: 403}, post={**STAFF_ONLY, ADMIN: 405}
    ),
    "admin:jsi18n": Entry(
        get={**STAFF_ONLY, ADMIN: 200}, post={**STAFF_ONLY, ADMIN: 405}
    ),
    "admin:view_on_site": Entry(
        kwargs=lambda w: {"content_type_id": _ct(w.counter), "object_id": w.counter.pk},
        get={**STAFF_ONLY, ADMIN: 404},
        post={**STAFF_ONLY, ADMIN: 404},
    ),
    "admin:app_list": Entry(
        kwargs=lambda w: {"app_label": "counters"},
        get={**STAFF_ONLY, ADMIN: 404},
        post={**STAFF_ONLY, ADMIN: 404},
    ),
    "admin/(?P<url>.*)$": Entry(
        kwargs=lambda w: {"url": "counters/nothing/"},
        get={**STAFF_ONLY, ADMIN: 404},
        post={**STAFF_ONLY, ADMIN: 404},
    ),
}


def _ct(obj) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(obj).pk


def _admin_model_entry(pattern: Pattern) -> Entry | None:
    """Entries for the pages Django's admin makes for each registered model."""
    parts = pattern.route.split("/")
    if len(parts) < 3 or parts[0] != "admin":
        return None
    model = f"{parts[1]}_{parts[2]}"
    if model not in ADMIN_OBJECTS:
        return None
    pk_of = ADMIN_OBJECTS[model]

    def kwargs(w):
        found = {}
        if "object_id" in pattern.converters:
            found["object_id"] = pk_of(w)
        if "id" in pattern.converters:
            found["id"] = pk_of(w)
        return found

    # The bare "<object_id>/" URL only redirects to the change page, which is 403.
    denied = {**STAFF_ONLY, ADMIN: 302 if pattern.key == pattern.route else 403}
    return Entry(kwargs=kwargs, get=denied, post=denied)


def entry_for(pattern: Pattern) -> Entry | None:
    return (
        ENTRIES.get(pattern.key)
        or ADMIN_SITE.get(pattern.key)
        or _admin_model_entry(pattern)
    )


def url_for(pattern: Pattern, entry: Entry, world) -> str:
    kwargs = entry.kwargs(world)
    if pattern.key in ENTRIES or (":" in pattern.key and "?" not in pattern.key):
        try:
            return reverse(pattern.key, kwargs=kwargs)
        except Exception:  # noqa: S110 - unnamed admin redirects fall through
            pass
    # Unnamed patterns (the admin's "<object_id>/" redirect, its catch-all).
    route = pattern.route.replace("^", "").replace("$", "")
    for name, value in kwargs.items():
        for placeholder in (f"<path:{name}>", f"<int:{name}>", f"<{name}>"):
            route = route.replace(placeholder, str(value))
        route = route.replace(f"(?P<{name}>.*)", str(value))
    return "/" + route
