"""Bad files of the reliability corpus that reach the wizard: each gets its message
on its page, with no 500 and no temporary file left behind."""

import io
import tempfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ordersync.uploads.models import Upload
from tests.uploads.conftest import xlsx_bytes

pytestmark = pytest.mark.django_db

ROWS = [["id", "date", "email"], ["1", "05.03.2024", "a@b.ru"]]


def zip_bytes(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def macro_workbook() -> bytes:
    book = zipfile.ZipFile(io.BytesIO(xlsx_bytes(ROWS)))
    parts = {name: book.read(name) for name in book.namelist()}
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 macro"
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"sheet.main+xml", b"sheet.macroEnabled.main+xml"
    )
    return zip_bytes(parts)


def unterminated_quote() -> bytes:
    return b'id,date,email\n1,"05.03.2024,a@b.ru\n' + b"2,05.03.2024,c@d.ru\n" * 50


CORPUS = [
    # name, content, page (step) showing the message, expected words
    ("orders.csv", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "file", "Это не таблица"),
    (
        "orders.csv",
        b"<!DOCTYPE html><html><body>x</body></html>",
        "file",
        "Это не таблица",
    ),
    ("orders.xlsx", xlsx_bytes(ROWS)[:400], "file", "Файл повреждён"),
    ("orders.xlsx", zip_bytes({"a.txt": b"hi"}), "file", "ZIP-архив"),
    ("orders.xlsx", macro_workbook(), "file", "Книга содержит макросы"),
    (
        "orders.xlsx",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 600
        + b"E\0n\0c\0r\0y\0p\0t\0e\0d\0"
        b"P\0a\0c\0k\0a\0g\0e\0",
        "file",
        "Книга защищена паролем",
    ),
    ("orders.csv", unterminated_quote(), "file", "не закрыто"),
]


@pytest.mark.parametrize(("name", "content", "step", "words"), CORPUS)
def test_bad_file_gets_its_message_on_its_page(
    wizard, name, content, step, words, tmp_path, monkeypatch
):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    wizard.start(SimpleUploadedFile(name, content))
    upload = wizard.upload
    if upload.status != Upload.Status.UNREADABLE and step == "file":
        # Read fine at first: the problem shows when every row is read.
        wizard.post(wizard.url("source"), {"action": "next"})
        wizard.columns()
        wizard.options()
    upload = wizard.upload
    assert upload.error_step == step, upload.error_ru
    resume = wizard.client.get(reverse("uploads:resume", args=[upload.public_id]))
    assert resume.url == wizard.url(step)
    page = wizard.client.get(resume.url)
    assert page.status_code == 200
    assert words in page.text.replace("&laquo;", "«").replace("&raquo;", "»")
    assert list(scratch.iterdir()) == []


def test_csv_named_xlsx_is_read_as_what_it_is(wizard):
    wizard.start(
        SimpleUploadedFile("orders.xlsx", b"id,date,email\n1,05.03.2024,a@b\n")
    )
    assert wizard.upload.kind == "csv"
    assert wizard.upload.status == Upload.Status.DRAFT


def test_a_header_only_file_says_there_is_nothing_to_send(wizard):
    wizard.start(SimpleUploadedFile("orders.csv", b"id,date,email\n"))
    wizard.post(wizard.url("source"), {"action": "next"})
    text = wizard.client.get(wizard.url("columns")).text
    assert "В файле только заголовок и нет строк с данными" in text


def test_injection_in_cells_and_headers_is_escaped(wizard):
    content = (
        b'id,"<script>alert(1)</script>",email\n'
        b'1,"""><img src=x onerror=alert(1)>",a@b.ru\n'
    )
    wizard.start(SimpleUploadedFile("orders.csv", content))
    wizard.post(wizard.url("source"), {"action": "next"})
    for step in ("source", "columns"):
        text = wizard.client.get(wizard.url(step)).text
        assert "<script>alert(1)" not in text
        assert "<img src=x" not in text
        assert "&lt;script&gt;" in text


def test_a_workbook_sheet_can_be_chosen(wizard):
    wizard.start(SimpleUploadedFile("book.xlsx", xlsx_bytes(ROWS, sheets=["Другой"])))
    assert wizard.upload.sheets == ["Заказы", "Другой"]
    wizard.post(wizard.url("source"), {"action": "reread", "sheet": "Другой"})
    assert wizard.upload.sheet == "Другой"
    assert wizard.upload.columns == ["x"]
