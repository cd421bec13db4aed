"""Drive a file through the real upload path: the wizard's views and its task."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse


def files_under(*roots) -> set[str]:
    found = set()
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            found.update(os.path.join(folder, n) for n in names)
    return found


def temp_entries() -> set[str]:
    """Files and folders this suite's code may leave in the system temp dir."""
    root = Path(tempfile.gettempdir())
    return {
        p.name
        for p in root.iterdir()
        if p.name.startswith(("ordersync-", "tmp")) and not p.name.startswith("tmp.")
    }


@dataclass
class Run:
    """What one file did on its way through the wizard."""

    statuses: list[int] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)
    upload: object = None
    first: object = None  # the response to the upload itself

    @property
    def upload_status(self) -> str:
        return self.upload.status if self.upload else ""

    @property
    def problem_codes(self) -> set[str]:
        return set((self.upload.counts_by_code or {}) if self.upload else {})


class Wizard:
    def __init__(self, client, capture, counter, *, worker: bool = False):
        self.client = client
        self.capture = capture
        self.counter = counter
        # Jobs run in a real worker: wait for them after each step.
        self.worker = worker

    def _record(self, run: Run, key: str, response) -> None:
        run.statuses.append(response.status_code)
        if not getattr(response, "streaming", False):
            run.pages[key] = response.content.decode("utf-8", "replace")

    def post(self, run: Run, key: str, url: str, data: dict):
        with self.capture(execute=True):
            response = self.client.post(url, data)
        self._record(run, key, response)
        if run.upload is not None:
            run.upload.refresh_from_db()
            self.wait(run)
        return response

    def wait(self, run: Run, timeout: float = 60) -> None:
        """Wait for a job a real worker runs (eager jobs are done already)."""
        if not self.worker:
            return
        deadline = time.monotonic() + timeout
        while run.upload.status == "analysing" and time.monotonic() < deadline:
            time.sleep(0.1)
            run.upload.refresh_from_db()

    def get(self, run: Run, key: str, url: str):
        response = self.client.get(url)
        self._record(run, key, response)
        return response

    def url(self, run: Run, step: str) -> str:
        return reverse(f"uploads:{step}", args=[run.upload.public_id])

    def upload(
        self, data: bytes, name: str, content_type: str, *, through: bool = True
    ) -> Run:
        """Upload a file; if it reads, take it to the preview with the suggested
        mapping. Every page met on the way is kept in ``run.pages``."""
        from ordersync.uploads.models import Upload

        run = Run()
        before = set(Upload.objects.values_list("pk", flat=True))
        file = SimpleUploadedFile(name, data, content_type=content_type)
        run.first = self.post(
            run,
            "new",
            reverse("uploads:new"),
            {"counter": self.counter.pk, "file": file},
        )
        run.upload = Upload.objects.exclude(pk__in=before).first()
        if run.upload is None:
            return run
        self.wait(run)
        self.get(run, "file", self.url(run, "file"))
        self.get(run, "source", self.url(run, "source"))
        if (
            not through
            or run.upload.status != Upload.Status.DRAFT
            or run.upload.error_step
        ):
            return run
        self.post(run, "source-next", self.url(run, "source"), {"action": "next"})
        if run.upload.step != Upload.Step.COLUMNS:
            return run
        self.get(run, "columns", self.url(run, "columns"))
        self.post(run, "columns-next", self.url(run, "columns"), self.columns_data(run))
        if run.upload.status != Upload.Status.DRAFT or run.upload.error_step:
            return run
        self.post(run, "options-next", self.url(run, "options"), self.options_data(run))
        if run.upload.status == Upload.Status.READY:
            self.get(run, "preview", self.url(run, "preview"))
        return run

    @staticmethod
    def columns_data(run: Run) -> dict:
        data = {"action": "next"}
        fields_of = {
            c: f
            for f, cols in run.upload.mapping.get("fields", {}).items()
            for c in cols
        }
        for index, column in enumerate(run.upload.columns):
            data[f"col_{index}"] = fields_of.get(column, "")
        return data

    @staticmethod
    def options_data(run: Run) -> dict:
        data = {
            "merge_mode": "SAVE",
            "duplicates": "keep_all",
            "remember_statuses": "",
        }
        values = (run.upload.status_counts or {}).get("values", [])
        for index, item in enumerate(values):
            data[f"status_{index}"] = item.get("status") or "PAID"
        return data
