"""Every GET page of the project, opened in Chromium as an admin and as a marketer,
satisfies the Content-Security-Policy and logs no error to the console.

The pages come from the URL resolver through ``tests/hardening/urlmap.py`` (a new
page is opened here as soon as it has its entry there), on the objects of the
hardening suite's world: a checked draft, a sent upload, a counter, an account.
Downloads and htmx fragments are not pages and are left out.
"""

import pytest

from tests.browser.conftest import log_in
from tests.hardening import conftest as hardening
from tests.hardening import urlmap
from tests.hardening.urlmap import ADMIN, OK, OWNER

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

world = hardening.world
emulator_seed = hardening.emulator_seed
_isolated_files = hardening._isolated_files

# Chromium reports a violation through this event as well as on the console.
RECORD_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportViolation(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
    `(${e.sourceFile || "page"}:${e.lineNumber}) ${e.sample || ""}`
  );
});
"""
PASSWORDS = {ADMIN: "pw-admin-123456", OWNER: "pw-victim-marketer-123456"}


def pages_for(actor: str, w) -> list[tuple[str, str, tuple[int, ...]]]:
    """Return (name, url, statuses) of every GET page ``actor`` may open."""
    found = []
    for pattern in urlmap.walk():
        entry = urlmap.entry_for(pattern)
        want = entry.get[actor]
        if want in (OK, 200) or (isinstance(want, tuple) and 200 in want):
            statuses = want if isinstance(want, tuple) else (200,)
            found.append((pattern.key, urlmap.url_for(pattern, entry, w), statuses))
    return found


@pytest.mark.parametrize("actor", [ADMIN, OWNER], ids=["admin", "marketer"])
def test_every_page_satisfies_the_csp_without_console_errors(
    page, live_server, world, actor
):
    violations, sources = [], []
    page.context.expose_function("reportViolation", lambda v: violations.append(v))
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))

    def source_of(message):
        if message.type == "error":
            sources.append(message.location.get("url", ""))

    page.on("console", source_of)
    user = world.admin if actor == ADMIN else world.victim
    log_in(page, live_server, user.username, PASSWORDS[actor])
    page.wait_for_url(f"{live_server.url}/")

    opened, failures = [], []
    for name, url, statuses in pages_for(actor, world):
        probe = page.request.get(live_server.url + url)
        if "text/html" not in probe.headers.get("content-type", ""):
            continue  # a download or a script, not a page
        violations.clear()
        page.console_errors.clear()
        sources.clear()
        response = page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        if not page.url.startswith(live_server.url):
            continue  # sent on to Yandex (the emulator): not our page
        if response.status not in statuses:
            failures.append(f"{name} {url}: status {response.status}")
        errors = [
            e
            for e in page.console_errors
            # The health page answers 503 while no worker runs, as here.
            if not (response.status == 503 and f"status of {response.status}" in e)
        ]
        failures += [f"{name} {url}: CSP {v}" for v in violations]
        where = ", ".join(sources)
        failures += [f"{name} {url}: console {e} ({where})" for e in errors]
        opened.append(name)
        shot = f"{actor}-{name.replace(':', '-').replace('/', '_')[:60]}.png"
        page.screenshot(path=page.shot_dir / shot, full_page=True)
    print(f"{actor}: {len(opened)} pages opened: {', '.join(opened)}")
    assert len(opened) >= (20 if actor == ADMIN else 12)
    assert not failures, "\n".join(failures)
