"""Every URL pattern × every kind of visitor × GET and POST on the victim's objects.

The patterns are read from the URL resolver, so a new URL without an entry in
``urlmap`` fails here. Outsiders get the login page, 404 or 403, never a byte of
the victim's data, and nothing in the database changes.
"""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from tests.hardening import urlmap
from tests.hardening.conftest import (
    CANARY,
    CANARY_REFRESH,
    VICTIM_COUNTER,
    VICTIM_EMAIL,
    VICTIM_FILE,
    VICTIM_MAPPING,
)
from tests.hardening.urlmap import (
    ADMIN,
    ADMIN_LOGIN,
    ANON,
    LOGIN,
    NEIGHBOUR,
    OK,
    OUTSIDERS,
    OWNER,
    UNGRANTED,
)

pytestmark = pytest.mark.django_db
PATTERNS = list(urlmap.walk())
ACTORS = [ANON, NEIGHBOUR, UNGRANTED, ADMIN, OWNER]
VICTIM_DATA = [VICTIM_FILE, VICTIM_COUNTER, VICTIM_EMAIL, VICTIM_MAPPING]
SECRETS = [CANARY, CANARY_REFRESH]
# Sessions and the login log change on every visit; they hold no one's data.
UNTRACKED = {"sessions.session", "axes.accesslog"}
# A refused page and a sign-out write their own audit rows: records, not writes.
EXPECTED_ROWS = {
    "core.auditevent": {"action__in": ["access.denied", "auth.logout", "auth.login"]}
}


def snapshot() -> dict:
    """Return every row of every table the app and Django keep."""
    rows = {}
    for model in apps.get_models():
        if model._meta.label_lower in UNTRACKED:
            continue
        label = model._meta.label_lower
        rows[label] = list(
            model.objects.exclude(**EXPECTED_ROWS.get(label, {"pk": None}))
            .order_by("pk")
            .values_list()
        )
    return rows


def body(response) -> str:
    if getattr(response, "streaming", False):
        data = b"".join(response.streaming_content)
    else:
        data = response.content
    return data.decode("utf-8", "replace")


def user_of(world, actor):
    return {
        NEIGHBOUR: world.neighbour,
        UNGRANTED: world.ungranted,
        ADMIN: world.admin,
        OWNER: world.victim,
    }.get(actor)


def check_status(response, want, url):
    got = response.status_code
    where = response.get("Location", "")
    if want == LOGIN:
        assert got == 302 and where.startswith(reverse(settings.LOGIN_URL)), (
            got,
            where,
        )
    elif want == ADMIN_LOGIN:
        assert got == 302 and where.startswith(reverse("admin:login")), (got, where)
    elif want == OK:
        assert got in (200, 302), got
        if got == 302:
            assert not where.startswith(reverse(settings.LOGIN_URL)), where
            assert not where.startswith(reverse("admin:login")), where
    elif isinstance(want, tuple):
        assert got in want, (got, where)
    else:
        assert got == want, (got, where)


def test_every_url_pattern_has_an_entry():
    missing = [p.route for p in PATTERNS if urlmap.entry_for(p) is None]
    assert not missing, (
        "These URL patterns have no entry in tests/hardening/urlmap.py (say how to "
        f"build their arguments for someone else's object and what each visitor "
        f"gets): {missing}"
    )


class _Undo(Exception):
    """Raised to roll back what one request did before the next visitor comes."""


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.key for p in PATTERNS])
def test_access_matrix(client, world, pattern):
    entry = urlmap.entry_for(pattern)
    if entry is None:
        pytest.fail(f"no entry for the URL pattern {pattern.route!r} in urlmap.py")
    failures = []
    for actor in ACTORS:
        for method in ("get", "post"):
            try:
                with transaction.atomic():
                    problem = visit(client, world, pattern, entry, actor, method)
                    raise _Undo
            except _Undo:
                pass
            client.logout()
            if problem:
                failures.append(f"{actor} {method.upper()}: {problem}")
    assert not failures, "\n".join(failures)


def visit(client, world, pattern, entry, actor, method) -> str:
    """Make one request; return what went wrong, or an empty string."""
    want = getattr(entry, method)[actor]
    user = user_of(world, actor)
    if user is not None:
        client.force_login(user)
    url = urlmap.url_for(pattern, entry, world)
    before = snapshot()
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, entry.data(world))
    if response.status_code == 500:
        return f"{url} answered 500"
    try:
        check_status(response, want, url)
    except AssertionError as exc:
        return f"{url}: expected {want}, got {exc}"
    text = body(response)
    for secret in [*SECRETS, world.account.access_token_encrypted[:24]]:
        if secret in text:
            return f"{url} shows a token"
    if actor in OUTSIDERS:
        for value in VICTIM_DATA:
            if value in text:
                return f"{url} shows the victim's {value!r}"
    may_write = (method == "post" and actor == OWNER) or (
        actor == ADMIN
        and (entry.admin_writes if method == "post" else entry.admin_get_writes)
    )
    if not may_write and snapshot() != before:
        return f"{url} changed the database"
    return ""


def test_outsider_lists_show_only_their_own_things(client, world):
    """The filtered pages an outsider may open still show the neighbour's counter."""
    client.force_login(world.neighbour)
    page = body(client.get(reverse("counters:counter_list")))
    assert "Neighbour" in page
    assert VICTIM_COUNTER not in page


def test_owner_sees_their_own_data_so_the_matrix_can_fail(client, world):
    client.force_login(world.victim)
    assert VICTIM_FILE in body(client.get(reverse("submissions:history")))
    assert VICTIM_EMAIL in body(
        client.get(reverse("uploads:preview", args=[world.draft.public_id]))
    )
