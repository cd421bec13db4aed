"""CSRF is enforced on every URL that takes a POST, for a user who may use it."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.hardening import urlmap
from tests.hardening.test_access_matrix import PATTERNS, body, user_of
from tests.hardening.urlmap import ADMIN, ANON, OWNER

pytestmark = pytest.mark.django_db


def poster(entry) -> str:
    """Return the visitor whose POST this URL would otherwise act on."""
    for actor in (OWNER, ADMIN):
        if entry.post[actor] not in (403, 404, 405, urlmap.ADMIN_LOGIN):
            return actor
    return ADMIN


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.key for p in PATTERNS])
def test_post_without_a_csrf_token_is_refused(world, pattern):
    entry = urlmap.entry_for(pattern)
    assert entry is not None, f"no entry for {pattern.route!r} in urlmap.py"
    client = Client(enforce_csrf_checks=True)
    actor = poster(entry)
    if actor != ANON:
        client.force_login(user_of(world, actor))
    response = client.post(urlmap.url_for(pattern, entry, world), entry.data(world))
    assert response.status_code == 403, (actor, response.status_code)


def test_upload_with_a_token_but_a_foreign_origin_is_refused(world, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.victim)
    client.get(reverse("uploads:new"))
    token = client.cookies["csrftoken"].value
    entry = urlmap.ENTRIES["uploads:new"]
    data = {**entry.data(world), "csrfmiddlewaretoken": token}
    response = client.post(
        reverse("uploads:new"), data, HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403
    assert world.draft.counter.uploads.count() == 2
    # The same request from our own origin goes through, so the refusal above is
    # the Origin check and not a broken form.
    data = {**entry.data(world), "csrfmiddlewaretoken": token}
    response = client.post(
        reverse("uploads:new"), data, HTTP_ORIGIN="http://testserver"
    )
    assert response.status_code == 302, body(response)[:500]
    assert world.draft.counter.uploads.count() == 3
