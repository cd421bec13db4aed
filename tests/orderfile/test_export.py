import csv
import io

from openpyxl import load_workbook

from ordersync.orderfile import (
    Options,
    open_source,
    process,
    suggest_mapping,
    write_problem_csv,
    write_problem_xlsx,
)
from ordersync.orderfile.export import escape_cell

from .conftest import NOW

PAYLOADS = ["=HYPERLINK(\"http://x\")", "+cmd|'/c calc'!A1", "-1+1", "@SUM(1)",
            "\t=1", "\r=1", "＝1+2", '";=1+2']  # fmt: skip


def test_every_formula_trigger_is_escaped():
    for payload in PAYLOADS[:-1]:
        assert escape_cell(payload) == "'" + payload
    assert escape_cell("ivan@example.ru") == "ivan@example.ru"


def _report(write):
    rows = "".join(f'{i},bad,"{p.replace(chr(34), chr(34) * 2)}"\n'
                   for i, p in enumerate(PAYLOADS))  # fmt: skip
    path = write("id,create_date_time,emails\n" + rows + "ok,10.01.2024,+7@x.ru\n")
    source = open_source(path)
    report = process(source, suggest_mapping(source.columns, []), Options(now=NOW))
    return source, report


def test_problem_csv_has_original_columns_and_no_live_formulas(write):
    source, report = _report(write)
    buffer = io.BytesIO()
    write_problem_csv(source, report, buffer, lang="en")
    rows = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))))
    assert rows[0] == ["Row", "id", "create_date_time", "emails", "Problems"]
    assert len(rows) == 1 + len(PAYLOADS)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "＝"))


def test_problem_xlsx_has_no_formula_cells(write, tmp_path):
    source, report = _report(write)
    write_problem_xlsx(source, report, tmp_path / "p.xlsx")
    sheet = load_workbook(tmp_path / "p.xlsx").active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert sheet["C2"].value == "bad"


def test_metrika_file_keeps_plus_signs(write):
    path = write("id,create_date_time,phones\nA,10.01.2024,+79001234567\n")
    source = open_source(path)
    out = io.BytesIO()
    process(source, suggest_mapping(source.columns, []), Options(now=NOW), output=out)
    assert out.getvalue().decode().splitlines()[1] == "A,2024-01-10,79001234567"
