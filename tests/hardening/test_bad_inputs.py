"""The 57 bad inputs of §1.8, each through the real upload path.

Every file goes through the wizard's views with its task run in the request (as
the web process would with no broker); each case asserts the outcome the table
asks for, the exact message on the page where the user meets it, no answer 500,
and no file left in the temp dirs or in MEDIA_ROOT that no upload owns.
"""

import csv
import io
import socket
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.hardening import corpus
from tests.hardening.wizard import Wizard, files_under, temp_entries

pytestmark = pytest.mark.django_db
FLOW = {54, 55, 56, 57}


@pytest.fixture(autouse=True)
def _private_temp_dir(tmp_path, monkeypatch):
    """Give this test its own temp folder so other processes' files don't count."""
    import tempfile

    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))


def stored_files() -> set[str]:
    from django.conf import settings

    from ordersync.uploads.models import Upload, UploadPart

    names = set()
    for upload in Upload.objects.all():
        names |= {f.name for f in (upload.original_file, upload.problems_csv,
                                   upload.problems_xlsx, upload.error_ids)
                  if f}  # fmt: skip
    names |= {p.file.name for p in UploadPart.objects.all() if p.file}
    return {str(Path(settings.MEDIA_ROOT) / n) for n in names}


def shown(run, key: str, text: str) -> bool:
    return escape(text) in run.pages.get(key, "")


def form_error(run, message: str, status: int = 400):
    assert run.upload is None, "a refused file must not create an upload"
    assert run.first.status_code == status
    assert shown(run, "new", message), message


def unreadable(run, code: str, message: str = ""):
    assert run.upload_status == "unreadable", (run.upload_status, run.upload.error_code)
    assert run.upload.error_code == code
    assert run.upload.error_step == "file"
    # The user meets the message on the file step, in the interface's language.
    assert shown(run, "file", run.upload.error_ru)
    if message:
        assert message in run.upload.error_en


def ready(run, *, rows: int, valid: int, codes=()):
    assert run.upload_status == "ready", (
        run.upload_status,
        run.upload.error_code,
        run.upload.error_en,
    )
    assert (run.upload.rows_total, run.upload.rows_valid) == (rows, valid)
    assert set(codes) <= run.problem_codes, run.problem_codes
    assert "preview" in run.pages


def sent_text(run) -> str:
    part = run.upload.parts.get(index=0)
    return part.file.open("rb").read().decode("utf-8")


def problems_csv(run) -> list[list[str]]:
    data = run.upload.problems_csv.open("rb").read().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(data, newline="")))


CHECKS = {
    1: lambda run: ready(run, rows=2, valid=2) or _kind(run, "csv"),
    2: lambda run: ready(run, rows=2, valid=2) or _kind(run, "xlsx"),
    3: lambda run: unreadable(run, "file_damaged"),
    4: lambda run: form_error(
        run,
        "«orders.xlsb» — не таблица. Загрузите файл .csv, .txt, .tsv, .xlsx, .xls или "
        ".ods.",
    ),
    5: lambda run: unreadable(run, "file_macro_enabled", "contains macros"),
    6: lambda run: unreadable(run, "file_macro_enabled", "contains macros"),
    7: lambda run: unreadable(run, "file_encrypted", "Remove the password"),
    8: lambda run: unreadable(run, "file_damaged", "broken ZIP structure"),
    9: lambda run: unreadable(run, "file_damaged"),
    10: lambda run: form_error(run, "Файл «orders.csv» пустой."),
    11: lambda run: unreadable(run, "file_not_table", "(PNG image)"),
    12: lambda run: _polyglot(run),
    13: lambda run: form_error(
        run,
        "Файл больше 256,0\xa0КБ. Разделите его на файлы поменьше или сохраните как "
        "CSV — он намного меньше, чем Excel.",
        status=413,
    ),
    14: lambda run: unreadable(run, "file_too_big_unpacked", "more than 800 MB"),
    15: lambda run: unreadable(run, "file_too_many_parts", "10006 internal parts"),
    16: lambda run: ready(run, rows=2, valid=2),
    17: lambda run: unreadable(run, "file_damaged"),
    18: lambda run: _xxe(run),
    19: lambda run: unreadable(run, "file_damaged"),
    20: lambda run: unreadable(run, "file_shared_strings_bomb"),
    # The table asks for row errors, but no reader can get to the rows without
    # copying the string into every cell (24 GB here): the pre-check refuses the
    # file, as no spreadsheet program can write a cell that long.
    21: lambda run: unreadable(run, "file_shared_strings_bomb"),
    22: lambda run: ready(run, rows=2, valid=2),
    23: lambda run: unreadable(run, "too_many_columns", "16384 columns"),
    24: lambda run: unreadable(run, "too_many_rows", "more than 1000 data rows"),
    25: lambda run: ready(run, rows=3, valid=2, codes={"value_too_long"}),
    26: lambda run: unreadable(
        run, "csv_unterminated_quote", "starts on line 2 is never closed"
    ),
    27: lambda run: _source_error(run, "no_header"),
    29: lambda run: ready(run, rows=2, valid=2) or _columns_are(run, "id"),
    30: lambda run: _cp1251(run),
    31: lambda run: ready(run, rows=2, valid=2) or _delimiter(run, "\t"),
    32: lambda run: unreadable(run, "encoding_mixed", "Line 3 is in a different"),
    33: lambda run: _nul(run),
    34: lambda run: ready(run, rows=3, valid=3),
    35: lambda run: ready(run, rows=2, valid=2) or _delimiter(run, ";"),
    36: lambda run: _header_only(run),
    37: lambda run: _normalised(run),
    38: lambda run: _control_chars(run),
    39: lambda run: ready(run, rows=1, valid=0, codes={"formula_without_value"}),
    40: lambda run: _injection(run),
    41: lambda run: ready(run, rows=2, valid=2) or _phones_kept(run),
    42: lambda run: ready(run, rows=4, valid=4, codes={"id_duplicate"}),
    43: lambda run: (
        ready(run, rows=2, valid=2, codes={"id_missing"}) or _without_id(run)
    ),
    44: lambda run: ready(
        run, rows=6, valid=4, codes={"date_impossible", "date_in_future"}
    ),
    45: lambda run: ready(
        run, rows=5, valid=1, codes={"money_invalid", "money_negative"}
    ),
    46: lambda run: ready(run, rows=1, valid=1) or _not_sent(run, "79995550011"),
    47: lambda run: _scripts_escaped(run),
    48: lambda run: _named(run, {"passwd.csv", "win.ini.csv"}),
    49: lambda run: _php(run),
    50: lambda run: _long_name(run),
    51: lambda run: _named(run, {"CON.csv", "b.xlsx"}),
    52: lambda run: _named(run, {"ordersxcod.csv"}),
    53: lambda run: _html_name(run),
}


def _kind(run, kind):
    assert run.upload.kind == kind


def _delimiter(run, delimiter):
    assert run.upload.delimiter == delimiter


def _columns_are(run, first):
    assert run.upload.columns[0] == first
    assert "\ufeff" not in sent_text(run)


def _polyglot(run):
    ready(run, rows=1, valid=1)
    for page in ("source", "columns"):
        assert "<script>alert(1)</script>" not in run.pages[page]
    assert escape("<script>alert(1)</script>") in run.pages["source"]


def _xxe(run):
    unreadable(run, "file_damaged")
    assert "root:" not in run.pages["file"]


def _source_error(run, code):
    assert run.upload_status == "draft"
    assert (run.upload.error_step, run.upload.error_code) == ("source", code)
    assert shown(run, "source", run.upload.error_ru)


def _cp1251(run):
    ready(run, rows=1, valid=1)
    assert run.upload.encoding == "cp1251"
    assert "cp1251" in run.pages["source"]
    assert shown(run, "source", "Оплачен")


def _nul(run):
    ready(run, rows=2, valid=2, codes={"value_repaired"})
    assert "\x00" not in sent_text(run)


def _header_only(run):
    assert run.upload.rows_total == 0
    # Duplicates are numbered, an empty name gets one, a trailing empty is dropped.
    assert run.upload.columns == ["id", "id (2)", "Column 3", "emails"]
    # The columns step refuses the mapping and says which field is missing.
    assert run.upload.step == "columns"
    assert "Метрика требует это поле" in run.pages["columns-next"]


def _normalised(run):
    ready(run, rows=1, valid=1, codes={"value_repaired"})
    text = sent_text(run)
    assert "\u200b" not in text and "\u202e" not in text
    assert "79001234567" in text and "ivan@example.com" in text


def _control_chars(run):
    ready(run, rows=1, valid=0, codes={"email_invalid"})
    from openpyxl import load_workbook

    book = load_workbook(run.upload.problems_xlsx.open("rb"), read_only=True)
    assert sum(1 for _ in book.active.iter_rows()) >= 2


def _injection(run):
    values = corpus.injection_values()
    ready(run, rows=len(values), valid=0, codes={"email_invalid"})
    from tests.hardening.test_exports import assert_no_live_formulas

    assert_no_live_formulas(run.upload)


def _phones_kept(run):
    # Phones are normalised to Metrika's digits; never prefixed with an apostrophe.
    text = sent_text(run)
    assert "79001234567" in text and "'" not in text


def _without_id(run):
    assert run.upload.rows_without_id == 2


def _not_sent(run, value):
    assert value not in sent_text(run)
    assert "comment" not in sent_text(run).splitlines()[0]


def _scripts_escaped(run):
    ready(run, rows=1, valid=1)
    for key in ("source", "columns", "preview"):
        page = run.pages[key]
        assert "<script>alert(" not in page, key
        assert "<img src=x onerror" not in page, key
    assert escape("<script>alert(1)</script>") in run.pages["columns"]


def _named(run, names):
    ready(run, rows=2, valid=2)
    assert run.upload.original_name in names
    stored = run.upload.original_file.name
    assert stored.endswith(f"/{run.upload.public_id}/source"), stored


def _php(run):
    if run.upload is None:
        assert run.first.status_code == 400
        assert "не таблица" in run.pages["new"]
    else:
        _named(run, {"orders.php.xlsx"})


def _long_name(run):
    ready(run, rows=2, valid=2)
    assert len(run.upload.original_name) <= 255
    assert run.upload.original_name.endswith(".csv")


def _html_name(run):
    _named(run, {"<img src=x onerror=alert(1)>.csv"})
    for page in run.pages.values():
        assert "<img src=x onerror=alert(1)>" not in page
    assert escape("<img src=x onerror=alert(1)>") in run.pages["source"]


FILE_CASES = [c for c in corpus.CASES if c.number not in FLOW | {28}]


@pytest.fixture
def no_outbound_connections(monkeypatch):
    """Fail the test on any connection to anywhere but this machine."""
    real = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith(
            "/"
        ):
            raise AssertionError(f"outbound connection to {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.mark.parametrize(
    "case",
    FILE_CASES,
    ids=[c.id for c in FILE_CASES],
)
def test_bad_input_through_the_wizard(
    client,
    world,
    eager,
    settings,
    django_capture_on_commit_callbacks,
    no_outbound_connections,
    case,
):
    if case.number == 24:
        settings.UPLOAD_MAX_ROWS = 1000
    if case.number == 13:
        settings.UPLOAD_MAX_BYTES = 256 * 1024
    client.force_login(world.victim)
    wizard = Wizard(client, django_capture_on_commit_callbacks, world.counter)
    temp_before = temp_entries()
    run = wizard.upload(case.make(), case.name, case.content_type)
    assert 500 not in run.statuses
    CHECKS[case.number](run)
    assert temp_entries() == temp_before, "a temp file was left behind"
    assert not files_under(settings.FILE_UPLOAD_TEMP_DIR), "an upload spool was left"
    orphans = files_under(settings.MEDIA_ROOT) - stored_files()
    assert not orphans, f"files no upload owns: {orphans}"


def test_28_many_uploads_in_a_short_time_are_refused_with_429(
    client, world, settings, django_capture_on_commit_callbacks
):
    from ordersync.uploads.models import Upload

    settings.UPLOAD_RATE_LIMIT = 30
    client.force_login(world.victim)
    wizard = Wizard(client, django_capture_on_commit_callbacks, world.counter)
    before = Upload.objects.filter(created_by=world.victim).count()
    codes = []
    for _ in range(100):
        run = wizard.upload(corpus.GOOD_CSV.encode(), "orders.csv", "text/csv",
                            through=False)  # fmt: skip
        codes.append(run.first.status_code)
    assert codes.count(302) + before == 30
    assert codes.count(429) == 100 - (30 - before)
    assert Upload.objects.filter(created_by=world.victim).count() == 30
    assert "Слишком много загрузок" in run.pages["new"]


def test_28_one_file_per_request(client, world, settings):
    """The upload form takes one file; extra files in the request are not stored."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ordersync.uploads.models import Upload

    client.force_login(world.victim)
    files = [
        SimpleUploadedFile(f"o{i}.csv", corpus.GOOD_CSV.encode()) for i in range(3)
    ]
    before = Upload.objects.count()
    response = client.post(
        reverse("uploads:new"), {"counter": world.counter.pk, "file": files}
    )
    assert response.status_code in (302, 400)
    assert Upload.objects.count() - before <= 1


def test_54_upload_without_csrf_token_is_refused(world):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from ordersync.uploads.models import Upload

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.victim)
    before = Upload.objects.count()
    file = SimpleUploadedFile("orders.csv", corpus.GOOD_CSV.encode())
    response = client.post(
        reverse("uploads:new"), {"counter": world.counter.pk, "file": file}
    )
    assert response.status_code == 403
    assert Upload.objects.count() == before


def test_55_counter_of_another_account_is_404_and_nothing_is_queued(
    client, world, eager, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ordersync.uploads.models import Upload

    client.force_login(world.neighbour)
    before = Upload.objects.count()
    file = SimpleUploadedFile("orders.csv", corpus.GOOD_CSV.encode())
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(
            reverse("uploads:new"), {"counter": world.counter.pk, "file": file}
        )
    assert response.status_code == 404
    assert Upload.objects.count() == before
    assert queued == []


def test_56_confirm_pressed_twice_sends_once(
    client, world, eager, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from ordersync.submissions import services as submissions
    from ordersync.submissions.models import Submission

    dispatched = []
    monkeypatch.setattr(
        submissions, "_dispatch", lambda pk, delay=0.0: dispatched.append(pk)
    )
    client.force_login(world.victim)
    wizard = Wizard(client, django_capture_on_commit_callbacks, world.counter)
    run = wizard.upload(corpus.GOOD_CSV.encode(), "orders.csv", "text/csv")
    wizard.post(run, "to-confirm", wizard.url(run, "preview"), {})
    for tab in ("first", "second"):
        response = wizard.post(run, tab, wizard.url(run, "confirm"), {})
        assert response.status_code == 302
    assert Submission.objects.filter(upload=run.upload).count() == 1
    assert len(dispatched) == 1


def test_57_abandoned_wizard_file_is_deleted_by_the_retention_job(
    client, world, eager, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from ordersync.submissions.services import upload_files_purge
    from ordersync.uploads.models import Upload

    client.force_login(world.victim)
    wizard = Wizard(client, django_capture_on_commit_callbacks, world.counter)
    run = wizard.upload(corpus.GOOD_CSV.encode(), "orders.csv", "text/csv",
                        through=False)  # fmt: skip
    path = Path(run.upload.original_file.path)
    assert path.exists()
    assert upload_files_purge() == 0 or path.exists()
    later = timezone.now() + timedelta(days=settings.UPLOAD_RETENTION_DAYS, hours=1)
    Upload.objects.filter(pk=run.upload.pk).update(created_at=timezone.now())
    upload_files_purge(now=later)
    assert not path.exists()
    run.upload.refresh_from_db()
    assert not run.upload.original_file


def test_every_case_of_the_table_is_here():
    numbers = {c.number for c in corpus.CASES}
    assert numbers == set(range(1, 58))
    assert set(CHECKS) | FLOW | {28} == set(range(1, 58))


def test_the_zip_bomb_really_inflates_to_a_gibibyte():
    data = corpus.zip_bomb(8)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        size = archive.getinfo("xl/worksheets/sheet1.xml").file_size
    assert size > 8 << 20
