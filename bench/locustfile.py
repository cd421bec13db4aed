"""Simulated marketers for ``bench/load.py``: log in, upload, check, browse.

Each user logs in through the login form, then keeps choosing between taking a
generated order file through the whole wizard (half of them are sent to Metrika),
browsing the history and opening the dashboard. Forms are read from the pages and
posted back with their CSRF token, as a browser would. Every request is kept
(kind, name, milliseconds, error) and written to ``LOAD_SAMPLES`` at the end.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from datetime import date, timedelta
from html.parser import HTMLParser

from locust import HttpUser, between, events, task

SAMPLES: list[tuple[str, str, float, str]] = []
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DETAIL_LINK = re.compile(rf'href="(/history/{UUID}/)"')
COUNTER_OPTION = re.compile(r'<option value="(\d+)"')
STATUSES = ("Оплачен", "В работе", "Отменён", "Оплачен")


@events.request.add_listener
def _record(request_type, name, response_time, exception, **_kw):
    SAMPLES.append((request_type, name, response_time, str(exception or "")))


@events.user_error.add_listener
def _record_crash(user_instance, exception, tb, **_kw):
    SAMPLES.append(("TASK", type(exception).__name__, 0.0, str(exception) or "crash"))


@events.quitting.add_listener
def _dump(**_kw):
    with open(os.environ["LOAD_SAMPLES"], "w") as out:
        json.dump(SAMPLES, out)


class _Forms(HTMLParser):
    """Collect each POST form's fields with the values a browser would send."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if (a.get("method") or "get").lower() != "post":
                return
            self._form = {"id": a.get("id"), "action": a.get("action"), "fields": {}}
            self.forms.append(self._form)
        if self._form is None:
            return
        fields = self._form["fields"]
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "file", "button"):
                fields[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self._select, self._first_option = a.get("name"), None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
                fields.setdefault(self._select, value)
            if "selected" in a:
                fields[self._select] = value

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def form_on(page, form_id: str | None = None) -> dict:
    """Return the fields of the page's own POST form, or of the form ``form_id``."""
    parser = _Forms()
    parser.feed(page.text)
    path = page.url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
    for form in parser.forms:
        if form_id and form["id"] == form_id:
            return dict(form["fields"])
        if not form_id and form["action"] in (None, "", f"/{path}"):
            return dict(form["fields"])
    raise LookupError(f"no form {form_id or 'posting to itself'} on {page.url}")


def order_file(rows: int) -> bytes:
    """Return a small CRM export in Russian, with a few rows Metrika would refuse."""
    today = date.today()
    lines = ["Номер заказа;Дата заказа;E-mail;Телефон;Статус;Сумма"]
    for n in range(rows):
        email = "not-an-email" if n % 17 == 5 else f"client{n}@example.com"
        day = today - timedelta(days=n % 60 + 1)
        lines.append(
            f"LT-{random.randrange(10**9)}-{n};{day:%d.%m.%Y} 12:{n % 60:02d};{email};"
            f"+7 912 {n % 1000:03d}-{n % 100:02d}-{n % 89:02d};"
            f"{STATUSES[n % len(STATUSES)]};{1000 + n * 7},50"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


class Marketer(HttpUser):
    wait_time = between(1, 3)

    def on_start(self):
        users = json.loads(os.environ["LOAD_USERS"])
        self.username = users[next(_user_number) % len(users)]
        page = self._get("/login/", "/login/")
        data = {**form_on(page), "username": self.username}
        data["password"] = os.environ["LOAD_PASSWORD"]
        self._post("/login/", "/login/", data)

    # --- helpers: names group URLs by their pattern

    def _get(self, url: str, name: str, ok=(200,)):
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code not in ok:
                response.failure(f"{response.status_code} on GET {name}")
            return response

    def _post(self, url: str, name: str, data: dict, files=None):
        """POST a form; success is the redirect a valid form gets (not followed)."""
        with self.client.post(
            url, data=data, files=files, name=name, allow_redirects=False,
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 302:
                response.failure(f"{response.status_code} on POST {name}")
            return response

    def _think(self):
        time.sleep(random.uniform(0.5, 2))

    def _open_step(self, url: str, name: str):
        """Open a wizard page, polling the job progress every second as htmx does."""
        page = self._get(url, name)
        progress = url.rsplit("/", 2)[0] + "/progress/"
        deadline = time.monotonic() + 120
        while 'id="job-progress"' in page.text and time.monotonic() < deadline:
            time.sleep(1)
            poll = self._get(progress, "/uploads/[id]/progress/", ok=(200, 204))
            if poll.status_code == 204:
                page = self._get(url, name)
        return page

    # --- what marketers do

    @task(3)
    def upload_and_check(self):
        new = self._get("/uploads/new/", "/uploads/new/")
        data = form_on(new)
        data["counter"] = random.choice(COUNTER_OPTION.findall(new.text))
        files = {"file": ("crm-export.csv", order_file(random.randint(20, 200)))}
        sent = self._post("/uploads/new/", "/uploads/new/ (file)", data, files)
        if sent.status_code != 302:
            return
        base = sent.headers["Location"].rsplit("/", 2)[0]
        self._think()
        for step in ("source", "columns"):
            name = f"/uploads/[id]/{step}/"
            page = self._open_step(f"{base}/{step}/", name)
            fields = form_on(page, "columns-form" if step == "columns" else None)
            self._post(f"{base}/{step}/", name, {**fields, "action": "next"})
            self._think()
        page = self._open_step(f"{base}/options/", "/uploads/[id]/options/")
        self._post(f"{base}/options/", "/uploads/[id]/options/", form_on(page))
        page = self._open_step(f"{base}/preview/", "/uploads/[id]/preview/")
        self._think()
        if random.random() < 0.5:
            return  # left as a draft, as people do
        self._post(f"{base}/preview/", "/uploads/[id]/preview/", form_on(page))
        page = self._get(f"{base}/confirm/", "/uploads/[id]/confirm/")
        done = self._post(f"{base}/confirm/", "/uploads/[id]/confirm/", form_on(page))
        if done.status_code == 302:
            self._get(done.headers["Location"], "/history/[id]/")

    @task(3)
    def browse_history(self):
        listing = self._get("/history/", "/history/")
        links = DETAIL_LINK.findall(listing.text)
        for link in random.sample(links, min(2, len(links))):
            self._think()
            self._get(link, "/history/[id]/")

    @task(2)
    def dashboard(self):
        self._get("/", "/")

    @task(1)
    def drafts(self):
        self._get("/uploads/", "/uploads/")


_user_number = iter(range(10**9))
