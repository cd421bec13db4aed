"""Files people open carry no live formula; the file for Metrika is untouched.

The problem reports are downloaded through the wizard's download view and read
back with ``csv`` and openpyxl: for all 7 trigger characters at the start of a
value, after a separator and after a quote, no cell starts with a trigger unless
it is escaped with an apostrophe, and no XLSX cell is a formula.
"""

import csv
import io

import pytest
from django.urls import reverse

from tests.hardening import corpus
from tests.hardening.wizard import Wizard

pytestmark = pytest.mark.django_db
TRIGGERS = tuple(corpus.TRIGGERS)


def _cells_csv(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _cells_xlsx(data: bytes) -> list:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return [cell for row in book.active.iter_rows() for cell in row]


def _lines(text: str) -> str:
    # XML and csv readers turn a lone CR into LF; compare values the same way.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def assert_no_live_formulas(upload, csv_data: bytes = b"", xlsx_data: bytes = b""):
    """Check both problem reports of ``upload`` (or the bytes given)."""
    csv_data = csv_data or upload.problems_csv.open("rb").read()
    xlsx_data = xlsx_data or upload.problems_xlsx.open("rb").read()
    cells = _cells_csv(csv_data)
    live = [c for c in cells if c.startswith(TRIGGERS)]
    assert not live, f"live formulas in the CSV report: {live[:5]}"
    payloads = [_lines(v) for v in corpus.injection_values() if v.startswith(TRIGGERS)]
    cells = [_lines(c) for c in cells]
    for value in payloads:
        assert "'" + value in cells, f"{value!r} is not in the report, escaped"
    xlsx_cells = _cells_xlsx(xlsx_data)
    formulas = [c.coordinate for c in xlsx_cells if c.data_type == "f"]
    assert not formulas, f"formula cells in the XLSX report: {formulas[:5]}"
    texts = [_lines(str(c.value)) for c in xlsx_cells if c.value is not None]
    assert not [t for t in texts if t.startswith(TRIGGERS)]
    for value in payloads:
        assert "'" + value in texts


@pytest.fixture
def wizard(client, world, eager, django_capture_on_commit_callbacks):
    client.force_login(world.victim)
    return Wizard(client, django_capture_on_commit_callbacks, world.counter)


def download(client, upload, what: str) -> bytes:
    response = client.get(reverse("uploads:download", args=[upload.public_id, what]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    return b"".join(response.streaming_content)


def test_problem_reports_downloaded_have_no_live_formula(client, wizard):
    run = wizard.upload(corpus.injection_xlsx(), "orders.xlsx", corpus.XLSX_TYPE)
    assert run.upload.status == "ready"
    assert run.upload.rows_total == len(corpus.injection_values())
    assert_no_live_formulas(
        run.upload,
        download(client, run.upload, "problems.csv"),
        download(client, run.upload, "problems.xlsx"),
    )


def test_the_file_for_metrika_keeps_every_value_as_it_was(client, wizard):
    rows = [["id", "create_date_time", "phones", "order_status", "revenue"]]
    ids = [f"{char}o-{i}" for i, char in enumerate("=+-@")]
    for i, order_id in enumerate(ids):
        rows.append([order_id, "2024-01-05 10:00:00", f"+7900123456{i}", "PAID",
                     "10"])  # fmt: skip
    book = corpus.openpyxl_book([])
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(book))
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = workbook.active.cell(r, c)
            cell.value = value
            cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    run = wizard.upload(buffer.getvalue(), "orders.xlsx", corpus.XLSX_TYPE)
    assert run.upload.status == "ready", run.upload.error_en
    sent = list(csv.reader(io.StringIO(download(client, run.upload, "0").decode())))
    header, body = sent[0], sent[1:]
    assert [r[header.index("id")] for r in body] == ids
    # Phones are normalised to digits, the ids keep their leading = + - @.
    phones = [r[header.index("phones")] for r in body]
    assert phones == [f"7900123456{i}" for i in range(len(ids))]
    assert not any(cell.startswith("'") for row in body for cell in row)
