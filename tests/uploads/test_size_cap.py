"""A file over UPLOAD_MAX_BYTES is stopped while it streams in, never stored whole.

Django's own temporary-file handler is replaced by one that counts what it writes,
and files always go to disk (no in-memory uploads), so the tests see every byte
that reached the temporary file.
"""

import re
from pathlib import Path

import pytest
import requests
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse

from ordersync.uploads.handlers import FORM_ROOM_BYTES
from ordersync.uploads.models import Upload
from tests.uploads.conftest import csv_file

CAP = 64 * 1024
MESSAGE = "Файл больше 64,0\xa0КБ. Разделите его на файлы поменьше"


class CountingTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for files on disk, keeping what it wrote and where."""

    written: list[int] = []
    paths: list[str] = []

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.paths.append(self.file.temporary_file_path())
        self.written.append(0)

    def receive_data_chunk(self, raw_data, start):
        self.written[-1] += len(raw_data)
        return super().receive_data_chunk(raw_data, start)


@pytest.fixture
def spool(settings, tmp_path):
    """Send every uploaded file through the counting handler to its own folder."""
    settings.UPLOAD_MAX_BYTES = CAP
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}.CountingTemporaryFileUploadHandler"]
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    CountingTemporaryFileUploadHandler.written.clear()
    CountingTemporaryFileUploadHandler.paths.clear()
    return Path(settings.FILE_UPLOAD_TEMP_DIR)


def orders(size: int) -> str:
    row = "1,2024-01-01,a@b.ru\n"
    return "id,date,email\n" + row * (size // len(row))


@pytest.mark.django_db
def test_a_file_three_times_the_cap_is_stopped_before_a_byte_is_stored(
    client, marketer, counter, spool
):
    client.force_login(marketer)
    response = client.post(
        reverse("uploads:new"),
        {"counter": counter.pk, "file": csv_file(orders(3 * CAP))},
    )
    assert response.status_code == 413
    assert MESSAGE in response.text
    # The declared length already says "too big": no temporary file is opened.
    assert CountingTemporaryFileUploadHandler.written == []
    assert list(spool.iterdir()) == []
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_a_file_just_over_the_cap_is_stopped_at_the_cap_and_its_temp_file_deleted(
    client, marketer, counter, spool
):
    client.force_login(marketer)
    data = orders(CAP + FORM_ROOM_BYTES // 2)
    response = client.post(
        reverse("uploads:new"), {"counter": counter.pk, "file": csv_file(data)}
    )
    assert response.status_code == 413
    assert MESSAGE in response.text
    [written] = CountingTemporaryFileUploadHandler.written
    assert 0 < written <= CAP < len(data)
    [path] = CountingTemporaryFileUploadHandler.paths
    assert not Path(path).exists()
    assert list(spool.iterdir()) == []
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_a_file_at_the_cap_is_taken(client, marketer, counter, spool):
    client.force_login(marketer)
    data = orders(CAP)
    response = client.post(
        reverse("uploads:new"), {"counter": counter.pk, "file": csv_file(data)}
    )
    assert response.status_code == 302
    assert CountingTemporaryFileUploadHandler.written == [len(data)]
    assert Upload.objects.get().size_bytes == len(data)


@pytest.mark.django_db(transaction=True)
def test_over_real_http_the_browser_gets_the_message_not_a_reset(
    client, live_server, marketer, counter, spool
):
    client.force_login(marketer)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    url = live_server.url + reverse("uploads:new")
    form = session.get(url, timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    response = session.post(
        url,
        data={"csrfmiddlewaretoken": token, "counter": counter.pk},
        files={"file": ("orders.csv", orders(3 * CAP).encode())},
        timeout=30,
    )
    assert response.status_code == 413
    assert MESSAGE in response.text
    assert CountingTemporaryFileUploadHandler.written == []
    assert list(spool.iterdir()) == []
