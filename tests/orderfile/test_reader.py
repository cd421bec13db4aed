import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from ordersync.orderfile import LimitExceededError, SourceError, open_source
from ordersync.orderfile import reader as reader_module
from ordersync.orderfile.sniff import Limits

from .conftest import EXAMPLE

HEADER = "Номер заказа;Дата создания;Телефон;Статус\n"


def test_semicolon_cp1251_export_from_excel_is_read(write):
    text = "Выгрузка заказов\n\n" + HEADER + "A-1;10.01.2024;8 912 345-67-89;Оплачен\n"
    source = open_source(write(text.encode("cp1251")))
    assert (source.encoding, source.delimiter, source.header_row) == ("cp1251", ";", 3)
    assert source.columns == ["Номер заказа", "Дата создания", "Телефон", "Статус"]
    assert source.preview(5) == [
        (4, ["A-1", "10.01.2024", "8 912 345-67-89", "Оплачен"])
    ]


def test_utf8_bom_does_not_end_up_in_the_first_column_name(write):
    source = open_source(write(b"\xef\xbb\xbf" + EXAMPLE.encode()))
    assert source.columns[0] == "id"
    assert source.encoding == "utf-8"


def test_utf16_tab_separated_unicode_text_is_read(write):
    text = "id\tcreate_date_time\temails\nA\t2024-01-10\tivan@example.ru\n"
    source = open_source(write(text.encode("utf-16")))
    assert (source.encoding, source.delimiter) == ("utf-16", "\t")
    assert list(source.iter_rows()) == [(2, ["A", "2024-01-10", "ivan@example.ru"])]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_every_line_ending_gives_the_exact_rows(write, newline):
    lines = ["id,emails", "1,a@b.ru", '2,"x@y.ru,z@y.ru"', "3,c@d.ru"]
    source = open_source(write(newline.join(lines) + newline))
    assert [n for n, _ in source.iter_rows()] == [2, 3, 4]
    assert list(source.iter_rows())[1] == (3, ["2", "x@y.ru,z@y.ru"])


def test_bare_cr_next_to_crlf_and_lf_ends_a_row(write):
    # Hardening case #34: a file edited on several systems, with a quoted value
    # that holds its own line break.
    text = 'id,emails\r\n1,a@b.ru\n2,"x@y.ru\rz@y.ru"\r3,c@d.ru\r4,e@f.ru\r\n'
    rows = list(open_source(write(text)).iter_rows())
    assert rows == [
        (2, ["1", "a@b.ru"]),
        (3, ["2", "x@y.ru\rz@y.ru"]),
        (4, ["3", "c@d.ru"]),
        (5, ["4", "e@f.ru"]),
    ]


def test_quote_error_after_a_bare_cr_names_its_line(write):
    text = 'id,emails\n1,a@b.ru\r2,c@d.ru\n3,"x"y\n'
    with pytest.raises(SourceError) as caught:
        list(open_source(write(text)).iter_rows())
    assert caught.value.code == "csv_bad_quote"
    assert caught.value.params["line"] == 4


def test_unterminated_quote_names_the_line_where_it_starts(write):
    body = 'id,emails\n1,"a@b.ru\n' + "".join(f"{i},x{i}@b.ru\n" for i in range(2000))
    with pytest.raises(SourceError) as caught:
        list(open_source(write(body)).iter_rows())
    assert caught.value.message_en == (
        "A quoted value that starts on line 2 is never closed. Check the quotes on "
        "that line and export the file again."
    )


def test_cp1251_line_inside_a_utf8_file_is_a_mixed_encoding_error(write):
    data = ("id,статус\n1,Оплачен\n").encode() + "2,Отменён\n".encode("cp1251")
    with pytest.raises(SourceError) as caught:
        list(open_source(write(data)).iter_rows())
    assert caught.value.code == "encoding_mixed"
    assert caught.value.params["line"] == 3


@pytest.mark.parametrize("fast", [False, True])
def test_big_chunks_checked_as_utf8_by_polars_keep_encoding_errors(
    write, monkeypatch, fast
):
    from ordersync.orderfile import reader

    # Every chunk past the first is checked by polars rather than decoded.
    monkeypatch.setattr(reader, "_FIRST_CHUNK_BYTES", 64)
    monkeypatch.setattr(reader, "_CHUNK_BYTES", 256)
    monkeypatch.setattr(reader, "_CHECK_BYTES", 16)
    rows = "".join(f"{i},Оплачен\n" for i in range(2, 200))
    utf8 = open_source(write("id,статус\n" + rows))
    batches = list(utf8.iter_batches(fast=fast))
    assert (
        sum(len(b.rows) if b.frame is None else b.frame.height for b in batches) == 198
    )
    assert any(b.frame is not None for b in batches) == fast
    assert list(utf8.iter_rows())[-1] == (199, ["199", "Оплачен"])
    mixed = ("id,статус\n" + rows).encode() + "200,Отменён\n".encode("cp1251")
    with pytest.raises(SourceError) as caught:
        list(open_source(write(mixed)).iter_batches(fast=fast))
    assert caught.value.code == "encoding_mixed"
    assert caught.value.params["line"] == 200
    ascii_then_cp1251 = ("id,status\n" + "1,paid\n" * 300).encode() + (
        "2,Отменён\n".encode("cp1251")
    )
    source = open_source(write(ascii_then_cp1251))
    last = list(source.iter_rows())[-1]
    assert source.encoding == "cp1251" and last == (302, ["2", "Отменён"])


def test_line_without_end_over_the_limit_is_refused(write):
    path = write("id,emails\n" + "x" * 5000)
    with pytest.raises(SourceError) as caught:
        list(open_source(path, limits=Limits(max_line_bytes=1000)).iter_rows())
    assert caught.value.code == "csv_line_too_long"


def test_row_limit_is_enforced_while_streaming(write):
    body = "id,emails\n" + "".join(f"{i},a{i}@b.ru\n" for i in range(20))
    with pytest.raises(LimitExceededError) as caught:
        list(open_source(write(body), limits=Limits(max_rows=10)).iter_rows())
    assert caught.value.message_en == (
        "The file has more than 10 data rows. Split it into smaller files."
    )


def test_header_only_file_has_no_data_rows(write):
    source = open_source(write("id,create_date_time,emails\n"))
    assert source.columns == ["id", "create_date_time", "emails"]
    assert source.preview(10) == []


def test_duplicate_and_empty_header_names_are_made_unique(write):
    source = open_source(write("Телефон,,Телефон,id\n1,2,3,4\n"))
    assert source.columns == ["Телефон", "Column 2", "Телефон (2)", "id"]


def test_user_can_override_encoding_and_delimiter(write):
    path = write("a|b\n1|2\n".encode("cp1251"))
    source = open_source(path, encoding="cp1251", delimiter="|")
    assert source.columns == ["a", "b"]


def _workbook(path, rows, title="Заказы"):
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.create_sheet("Пусто")
    book.save(path)
    return path


def test_xlsx_keeps_exact_phone_digits_and_real_dates(tmp_path):
    path = _workbook(
        tmp_path / "o.xlsx",
        [
            ["Отчёт по заказам"],
            [],
            ["id", "Дата", "Телефон"],
            ["A1", dt.datetime(2024, 1, 10, 11, 56), 79161234570.0],
        ],
    )
    source = open_source(path)
    assert (source.kind, source.sheet, source.header_row) == ("xlsx", "Заказы", 3)
    assert source.sheets == ["Заказы", "Пусто"]
    ((number, values),) = source.preview(5)
    assert number == 4
    assert values[1] == dt.datetime(2024, 1, 10, 11, 56)
    from ordersync.orderfile.reader import cell_to_text

    assert cell_to_text(values[2]) == "79161234570"


def test_unknown_sheet_lists_the_sheets(tmp_path):
    path = _workbook(tmp_path / "o.xlsx", [["id"], ["1"]])
    with pytest.raises(SourceError) as caught:
        open_source(path, sheet="Лист1")
    assert caught.value.message_ru == "Листа «Лист1» нет. Листы в книге: Заказы, Пусто."


def test_xlsx_that_is_really_text_is_read_as_csv(write):
    source = open_source(write(EXAMPLE, "orders.xlsx"))
    assert source.kind == "csv"


def test_formula_without_cached_value_is_found(tmp_path):
    path = _workbook(tmp_path / "f.xlsx", [["id", "revenue"], ["A", "=1+1"]])
    source = open_source(path)
    assert source.formulas_without_value() == {(2, 2)}


def test_long_run_of_empty_rows_ends_the_sheet(tmp_path):
    rows = [["id", "emails"], ["1", "a@b.ru"], *([[]] * 30), ["2", "c@d.ru"]]
    path = _workbook(tmp_path / "e.xlsx", rows)
    source = open_source(path, limits=Limits(max_empty_run=10))
    assert [n for n, _ in source.iter_rows()] == [2]


def _with_shared_strings(path, payload: str, rows: str | None = None):
    import re
    import zipfile

    book = Workbook()
    book.active.append(["id", "emails"])
    book.active.append(["a", "b@c.ru"])
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b'<c r="A2" t="inlineStr"><is><t>a</t></is></c>',
                    b'<c r="A2" t="s"><v>0</v></c>',
                )
                if rows is not None:
                    data = re.sub(
                        rb"<sheetData>.*</sheetData>",
                        f"<sheetData>{rows}</sheetData>".encode(),
                        data,
                        flags=re.S,
                    )
            out.writestr(item, data)
        out.writestr("xl/sharedStrings.xml", payload)
    return path


SST = (
    '<?xml version="1.0"?><!DOCTYPE sst [{}]><sst xmlns="http://schemas.openxmlformats'
    '.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>{}</t></si></sst>'
)


@pytest.mark.parametrize(
    "payload",
    [
        SST.format(
            '<!ENTITY a0 "lol">'
            + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)),
            "&a9;",
        ),
        SST.format('<!ENTITY x SYSTEM "file:///etc/hostname">', "&x;"),
    ],
    ids=["billion-laughs", "xxe"],
)
def test_entities_in_a_workbook_are_refused_without_expanding_them(tmp_path, payload):
    path = _with_shared_strings(tmp_path / "x.xlsx", payload)
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert caught.value.code == "file_damaged"
    # In calamine's words, as when the workbook was opened up front.
    assert caught.value.params["detail"] == "XmlError"


def test_a_table_damaged_past_the_first_rows_is_reported_by_the_full_read(tmp_path):
    # The first rows take only the strings they use, and the whole workbook is
    # opened by the read that needs it: the damage shows there, in calamine's words.
    strings = "".join(f"<si><t>s{i}</t></si>" for i in range(400))
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="s"><v>{n - 1}</v></c><c r="B{n}"><v>{n}</v></c>'
        "</row>"
        for n in range(1, 401)
    )
    path = _with_shared_strings(
        tmp_path / "late.xlsx",
        '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main">{strings}<si><t>broken</si></sst>',
        rows,
    )
    source = open_source(path, header_row=1)
    assert source.preview(3)[0] == (2, ["s1", 2.0])
    with pytest.raises(SourceError) as caught:
        list(source.iter_rows())
    assert (caught.value.code, caught.value.params) == (
        "file_damaged",
        {"detail": "XmlError"},
    )


def test_row_wider_than_the_column_cap_is_refused(write):
    body = "id,emails\n1,a@b.ru\n" + ",".join(["x"] * 3000) + "\n"
    with pytest.raises(LimitExceededError) as caught:
        list(open_source(write(body)).iter_rows())
    assert (
        caught.value.message_en == "Row 3 has 3000 columns, more than the 2000 allowed."
    )


def _big_workbook(path, later=None):
    rows = [["Отчёт"], [], ["id", "Дата", "Телефон", "Сумма", "Формула"]]
    for i in range(700):
        rows.append(
            [
                f"o{i}",
                dt.datetime(2024, 1, 1 + i % 28, 11, 56),
                79161234570.0 + i,
                i * 1.5,
                "=1+1" if i % 250 == 7 else "",
            ]
        )
    book = Workbook()
    sheet = book.active
    sheet.title = "Заказы"
    for row in rows:
        sheet.append(row)
    if later:
        sheet[later] = "later"
    book.save(path)
    return path


def _full_rows(source):
    return [row for batch in source.iter_batches(fast=False) for row in batch.rows]


@pytest.mark.parametrize("later", [None, "A720", "H600", "AB650"])
def test_xlsx_preview_of_a_big_sheet_equals_the_first_rows_of_the_full_read(
    tmp_path, later
):
    # The preview parses a cut-off copy of the sheet; a later cell outside its
    # columns (which moves or widens calamine's columns) makes it read it all.
    from ordersync.orderfile.sniff import formulas_without_value

    path = _big_workbook(tmp_path / "big.xlsx", later)
    source = open_source(path)
    assert source._heads["Заказы"] is not None or later
    preview = source.preview(100)
    columns, header_row = source.columns, source.header_row
    formulas = source.formulas_without_value()
    full = open_source(path)
    full._head_sheet = lambda name: None  # the plain whole-sheet read
    full._heads.clear()
    full.__init__(path, "xlsx", sheet=None, header_row=None, limits=Limits())
    assert (
        (columns, header_row)
        == (full.columns, full.header_row)
        == (
            full.columns,
            3,
        )
    )
    assert preview == _full_rows(full)[:100] == _full_rows(source)[:100]
    assert formulas == formulas_without_value(path, 0) == {(11, 5), (261, 5), (511, 5)}


def _styled_tail_workbook(path, data_rows: int, last: int, later: int | None = None):
    from openpyxl.styles import PatternFill

    book = Workbook()
    sheet = book.active
    sheet.append(["id", "emails"])
    for i in range(data_rows):
        sheet.append([f"o-{i}", f"u{i}@example.ru"])
    fill = PatternFill("solid", fgColor="FFFF00")
    for row in range(data_rows + 2, last + 1):
        sheet.cell(row=row, column=1).fill = fill  # formatting, no value
    if later:
        sheet.cell(row=later, column=2, value="late@example.ru")
    book.save(path)
    return path


class _NoWholeSheet:
    def get_sheet_by_name(self, name):
        raise AssertionError("the whole sheet was parsed")


def test_rows_with_only_formatting_after_the_data_are_not_parsed(tmp_path):
    from ordersync.orderfile.sniff import scan_sheet

    path = _styled_tail_workbook(tmp_path / "s.xlsx", 400, 6000)
    scan = scan_sheet(path, 0)
    assert (scan.last_row, scan.rows) == (401, 6000)
    source = open_source(path)
    source._whole = _NoWholeSheet()
    assert [n for n, _ in source.iter_rows()] == list(range(2, 402))


def test_value_after_a_short_formatted_gap_is_still_read(tmp_path):
    path = _styled_tail_workbook(tmp_path / "g.xlsx", 400, 6000, later=700)
    source = open_source(path)
    source._whole = _NoWholeSheet()
    rows = list(source.iter_rows())
    assert rows[-1] == (700, ["", "late@example.ru"])


# ------------------------------------------------------- the fast workbook read


def _every_kind_of_cell(path, rows: int = 1200, seed: int = 7, extra=None):
    """Write a sheet past the cut-off preview whose cells hold values that print
    differently in Python and Rust, next to text shaped like them."""
    import random
    import struct

    rng = random.Random(seed)

    def any_float():
        # Short amounts (printed alike) as often as any bit pattern (rewritten).
        if rng.random() < 0.5:
            scale = 10 ** rng.randint(0, 16)
            return round(rng.uniform(-1, 1) * scale, rng.randint(0, 12))
        while True:
            value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if value == value and abs(value) != float("inf"):
                return value

    edge = [0.0, -0.0, 1e-05, 9.9e-05, 0.0001, 0.1 + 0.2, 1 / 3, 2.0**53, 2.0**53 + 2,
            2.0**64 - 2048, 1e16, 1e20, 5e-324, 1.7976931348623157e308, 45000.0,
            45000.5, 79161234567, 79161234570.0, 1234.5]  # fmt: skip
    texts = ["2588.70", "18446744073709549568", "14679192365072849617", "0.00001",
             "-0", "1e-05", "+7 (903) 199-45-23", "вчера", "",
             "9007199254740994"]  # fmt: skip
    book = Workbook()
    sheet = book.active
    sheet.append(["Номер заказа", "Дата создания", "Телефон", "Сумма", "ClientID"])
    for i in range(rows):
        when = dt.datetime(2026, 10, 1, 10, 0) + dt.timedelta(minutes=37 * i + 1)
        pick = rng.random()
        number = edge[i % len(edge)] if pick < 0.5 else any_float()
        sheet.append(
            [
                f"o-{i}",
                when if pick < 0.6 else number if pick < 0.7 else rng.choice(texts),
                number if i % 3 else rng.choice(texts),
                rng.choice(texts) if i % 4 == 0 else any_float(),
                rng.choice(texts) if i % 2 else number,
            ]
        )
    if extra:
        extra(sheet)
    book.save(path)
    return path


def _frame_rows(source, *, per_row=False):
    """The fast read's rows as texts; with ``per_row``, batches read per row
    (a part of the sheet that needs it) are taken too."""
    from ordersync.orderfile.reader import cell_to_text

    out = []
    for batch in source.iter_batches(fast=True):
        if batch.frame is None:
            assert per_row
            out += [(n, [cell_to_text(v) for v in values]) for n, values in batch.rows]
            continue
        for offset, values in enumerate(batch.frame.rows()):
            if any(values):  # an empty cell is null or ""
                cells = ["" if v is None else v for v in values]
                out.append((batch.first_row + offset, cells))
    return out


def _reference_rows(source):
    from ordersync.orderfile.reader import cell_to_text

    width = len(source.columns)
    return [
        (n, [cell_to_text(v) for v in values] + [""] * (width - len(values)))
        for n, values in source.iter_rows()
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_workbook_read_prints_every_cell_as_the_per_row_read(tmp_path, seed):
    from .test_fast import both

    path = _every_kind_of_cell(tmp_path / "k.xlsx", seed=seed)
    source = open_source(path)
    assert _frame_rows(source) == _reference_rows(source)
    (ref, ref_report, _), (fast, fast_report, _) = both(path)
    assert (fast, fast_report) == (ref, ref_report)


def test_fast_workbook_read_gives_the_same_file_and_report(tmp_path):
    from .test_fast import both, gen

    path = gen.write_xlsx(tmp_path / "m.xlsx", 3000, seed=11)
    assert open_source(path)._text_parts() is not None
    (ref, ref_report, _), (fast, fast_report, report) = both(path)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows > 1500


def _midnight(sheet):
    sheet["B700"] = dt.datetime(2026, 10, 5)


def _boolean(sheet):
    sheet["C700"] = True


def _formula(sheet):
    sheet["D700"] = "=1+1"


def _past_the_header(sheet):
    sheet["G700"] = "note"


@pytest.mark.parametrize("extra", [_midnight, _boolean, _formula, _past_the_header])
def test_workbook_with_cells_fastexcel_prints_otherwise_is_read_per_row(
    tmp_path, extra
):
    from .test_fast import both

    path = _every_kind_of_cell(tmp_path / "o.xlsx", rows=800, extra=extra)
    source = open_source(path)
    assert all(b.frame is None for b in source.iter_batches(fast=True))
    (ref, ref_report, _), (fast, fast_report, _) = both(path)
    assert (fast, fast_report) == (ref, ref_report)


def test_fast_workbook_read_stops_at_a_long_empty_run_and_counts_rows(tmp_path):
    def gap(sheet):
        sheet["A1500"] = "after the gap"

    path = _every_kind_of_cell(tmp_path / "g.xlsx", rows=400, extra=gap)
    source = open_source(path, limits=Limits(max_empty_run=50))
    assert _frame_rows(source) == _reference_rows(source)
    with pytest.raises(LimitExceededError):
        list(open_source(path, limits=Limits(max_rows=399)).iter_batches())


# --------------------------------------------------- reading ahead while scanning


def test_read_ahead_starts_with_the_scan_and_gives_the_same_rows(tmp_path):
    path = _every_kind_of_cell(tmp_path / "a.xlsx", seed=4)
    source = open_source(path, read_ahead=True)
    assert source._ahead is not None and source._ahead._thread.ident is not None
    assert _frame_rows(source) == _reference_rows(open_source(path))
    assert source._ahead is None


def test_read_ahead_is_not_started_for_a_preview(tmp_path):
    path = _every_kind_of_cell(tmp_path / "p.xlsx", seed=5)
    assert open_source(path)._ahead is None


def test_read_ahead_of_a_sheet_read_per_row_is_dropped(tmp_path):
    path = _every_kind_of_cell(tmp_path / "b.xlsx", rows=800, extra=_boolean)
    source = open_source(path, read_ahead=True)
    ahead = source._ahead
    assert all(b.frame is None for b in source.iter_batches(fast=True))
    assert not ahead._thread.is_alive() and ahead._frame is None


def test_read_ahead_that_fails_falls_back_to_the_per_row_read(tmp_path, monkeypatch):
    import fastexcel

    def broken(*args, **kwargs):
        raise RuntimeError("cannot read")

    monkeypatch.setattr(fastexcel, "read_excel", broken)
    path = _every_kind_of_cell(tmp_path / "f.xlsx", seed=6)
    source = open_source(path, read_ahead=True)
    batches = list(source.iter_batches(fast=True))
    assert all(b.frame is None for b in batches)
    reference = open_source(path)
    assert [r for b in batches for r in b.rows] == [
        r for b in reference.iter_batches(fast=False) for r in b.rows
    ]


# ----------------------------------------------- a big sheet read part by part

# Every test below must see the sheet cut into all of them.
PARTS = len(reader_module._PART_ENDS) + 1


@pytest.fixture
def in_parts(monkeypatch):
    """Read every sheet's read-ahead in parts (the bench's sheets are big)."""
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_PARTS_FROM_BYTES", 0)
    made = []
    original = reader._PartsRead.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(len(self._parts))

    monkeypatch.setattr(reader._PartsRead, "__init__", init)
    return made


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parts_give_every_cell_as_the_per_row_read(tmp_path, in_parts, seed):
    from ordersync.orderfile.sniff import outside_columns, scan_sheet

    from .test_fast import both

    path = _every_kind_of_cell(tmp_path / "k.xlsx", seed=seed)
    source = open_source(path, read_ahead=True)
    assert in_parts == [PARTS]
    # The scan made from the parts' XML is the scan of the sheet.
    assert source._scanned[source.sheet] == scan_sheet(path, 0, outside_columns(0, 4))
    assert _frame_rows(source) == _reference_rows(open_source(path))
    (ref, ref_report, _), (fast, fast_report, _) = both(path)
    assert (fast, fast_report) == (ref, ref_report)


@pytest.mark.parametrize("missing", ["pyarrow", "fastexcel"])
def test_a_big_sheet_whose_reader_cannot_be_imported_is_read_otherwise(
    tmp_path, in_parts, monkeypatch, missing
):
    # Without pyarrow the sheet is read whole by fastexcel, without fastexcel per
    # row: never reported as a damaged file.
    import sys

    monkeypatch.setitem(sys.modules, missing, None)  # its import fails
    path = _every_kind_of_cell(tmp_path / "m.xlsx", seed=9)
    source = open_source(path, read_ahead=True)
    assert in_parts == []
    batches = list(source.iter_batches(fast=True))
    assert any(b.frame is not None for b in batches) == (missing == "pyarrow")
    assert _frame_rows(
        open_source(path, read_ahead=True), per_row=True
    ) == _reference_rows(open_source(path))


def test_a_sheet_is_read_in_parts_within_the_worker_address_space_cap(tmp_path):
    # A worker child's address space is capped (WORKER_MEMORY_LIMIT_MB, 3072 MB
    # by default). The parts are handed over through pyarrow, whose default
    # allocator (mimalloc) reserved 1.2 GB when first used: the read peaked at
    # 2.75 GB of address space here and aborted under a 2 GB cap. With the system
    # allocator it peaks at about 1.6 GB.
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = _every_kind_of_cell(tmp_path / "cap.xlsx", seed=8)
    out = tmp_path / "out.csv"
    code = (
        "import resource, sys;"
        "resource.setrlimit(resource.RLIMIT_AS, (2048 << 20, 2048 << 20));"
        "from ordersync.orderfile import cli, reader;"
        "reader._PARTS_FROM_BYTES = 0;"
        "made = [];"
        "init = reader._PartsRead.__init__;"
        "reader._PartsRead.__init__ = lambda self, *a: (init(self, *a),"
        " made.append(len(self._parts)))[0];"
        "code = cli.main([sys.argv[1], '--output', sys.argv[2]]);"
        "print(made, code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), str(out)],
        cwd=ROOT,
        # polars' threads take address space too: as many as this machine has
        # cores, 2 where the figures above were measured.
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "POLARS_MAX_THREADS": "2",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == f"[{PARTS}] 0"
    reference = tmp_path / "reference.csv"
    from ordersync.orderfile import Options, process, suggest_mapping

    source = open_source(path)
    mapping = suggest_mapping(source.columns, [v for _, v in source.preview(50)])
    process(source, mapping, Options(fast=False), output=reference)
    assert out.read_bytes() == reference.read_bytes()


def test_parts_give_the_same_file_and_report(tmp_path, in_parts):
    from .test_fast import both, gen

    path = gen.write_xlsx(tmp_path / "m.xlsx", 3000, seed=11)
    (ref, ref_report, _), (fast, fast_report, _) = both(path)
    assert in_parts == [PARTS]
    assert (fast, fast_report) == (ref, ref_report)


def test_parts_line_up_across_missing_rows_and_empty_columns(tmp_path, in_parts):
    # Rows with no value, and columns empty for hundreds of rows, where the
    # sheet is cut: each part's columns and row numbers still line up.
    def holes(sheet):
        for row in range(250, 1202):
            if row % 97 < 60:
                for column in "ABCDE":
                    sheet[f"{column}{row}"] = None
            elif row % 5:
                sheet[f"A{row}"] = None
                sheet[f"E{row}"] = None

    path = _every_kind_of_cell(tmp_path / "h.xlsx", extra=holes)
    source = open_source(path, read_ahead=True)
    assert _frame_rows(source) == _reference_rows(open_source(path))
    assert in_parts == [PARTS]


def test_parts_keep_counting_an_empty_run_across_a_cut(tmp_path, in_parts):
    def gap(sheet):
        for row in range(500, 1202):
            for column in "ABCDE":
                sheet[f"{column}{row}"] = None
        sheet["A1500"] = "after the gap"

    path = _every_kind_of_cell(tmp_path / "g.xlsx", extra=gap)
    limits = Limits(max_empty_run=400)
    source = open_source(path, limits=limits, read_ahead=True)
    rows = _frame_rows(source)
    assert rows == _reference_rows(open_source(path, limits=limits))
    assert rows[-1][0] == 499
    with pytest.raises(LimitExceededError):
        list(
            open_source(
                path, limits=Limits(max_rows=300), read_ahead=True
            ).iter_batches()
        )


def test_a_later_part_that_needs_the_per_row_read_is_read_so(tmp_path, in_parts):
    # Text shaped like fastexcel's boolean only in the last part: the parts
    # before it stay fast, the rest is read per row, and the result is the same.
    from .test_fast import both

    def late_text(sheet):
        sheet["C1150"] = "true"

    path = _every_kind_of_cell(tmp_path / "t.xlsx", extra=late_text)
    source = open_source(path, read_ahead=True)
    batches = list(source.iter_batches(fast=True))
    assert batches[0].frame is not None and batches[-1].frame is None
    assert in_parts == [PARTS]
    (ref, ref_report, _), (fast, fast_report, _) = both(path)
    assert (fast, fast_report) == (ref, ref_report)


def test_parts_leave_no_files_behind(tmp_path, in_parts, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = _every_kind_of_cell(tmp_path / "c.xlsx")
    source = open_source(path, read_ahead=True)
    assert any((tmp_path / "tmp").iterdir())
    list(source.iter_batches())
    assert not any((tmp_path / "tmp").iterdir())
    # A sheet that goes per row drops its parts too.
    path = _every_kind_of_cell(tmp_path / "b.xlsx", extra=_boolean)
    list(open_source(path, read_ahead=True).iter_batches())
    assert not any((tmp_path / "tmp").iterdir())


def test_a_workbook_with_many_shared_strings_is_read_whole(
    tmp_path, in_parts, monkeypatch
):
    monkeypatch.setattr(reader_module, "_PARTS_MAX_STRINGS", -1)
    path = _every_kind_of_cell(tmp_path / "s.xlsx")
    source = open_source(path, read_ahead=True)
    assert isinstance(source._ahead, reader_module._ReadAhead) and in_parts == []
    assert _frame_rows(source) == _reference_rows(open_source(path))


def test_a_damaged_sheet_read_in_parts_is_reported_damaged(tmp_path, in_parts):
    from .test_sniff import _forged

    path = _every_kind_of_cell(tmp_path / "d.xlsx")
    forged = tmp_path / "forged.xlsx"
    _forged(path, forged, "crc", 1)
    with pytest.raises(SourceError) as caught:
        open_source(forged, read_ahead=True)
    assert caught.value.code == "file_damaged"


def test_a_sheet_that_cannot_be_cut_into_all_parts_is_read_whole(tmp_path, in_parts):
    # The rows end in the first half of the XML (a long extension list follows):
    # the parts written before the cut-off would miss rows, so none is used.
    from .test_sniff import _sheet_workbook

    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>o-{n}</t></is></c>'
        f'<c r="B{n}"><v>{n}.5</v></c></row>'
        for n in range(1, 2001)
    )
    rows = rows.replace("o-1<", "id<", 1)
    padding = "<x>" + "p" * (len(rows) * 2) + "</x>"
    after = f'<extLst><ext uri="{{00000000-0000-0000-0000-000000000000}}">{padding}'
    path = _sheet_workbook(tmp_path, "t.xlsx", rows, after + "</ext></extLst>")
    source = open_source(path, read_ahead=True)
    assert in_parts == [1]  # the whole read
    got = _frame_rows(source)
    assert got == _reference_rows(open_source(path))
    assert len(got) == 1999


def _cell(ref, text):
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def test_rows_missing_before_a_part_read_per_row_count_as_empty(tmp_path, in_parts):
    # Rows 601-999 are not in the XML, a cut falls right after row 600 (its long
    # cell), and the part from row 1000 needs the per-row read: the run of empty
    # rows still ends the data at row 600, as the per-row read ends it.
    from .test_sniff import _sheet_workbook

    rows = [f'<row r="1">{_cell("A1", "id")}{_cell("B1", "note")}</row>']
    for n in [*range(2, 601), *range(1000, 1401)]:
        note = "y" * 32000 if n == 600 else "true" if n == 1000 else "x"
        rows.append(
            f'<row r="{n}">{_cell(f"A{n}", f"o-{n}")}{_cell(f"B{n}", note)}</row>'
        )
    path = _sheet_workbook(tmp_path, "g.xlsx", "".join(rows))
    limits = Limits(max_empty_run=100)
    source = open_source(path, limits=limits, read_ahead=True)
    assert in_parts == [PARTS] and 999 in [a for a, _ in source._ahead._parts]
    reference = [n for n, _ in open_source(path, limits=limits).iter_rows()]
    assert reference[-1] == 600
    assert _frame_rows(source, per_row=True) == _reference_rows(
        open_source(path, limits=limits)
    )


def test_a_damaged_sheet_cut_short_leaves_no_thread_or_file(
    tmp_path, in_parts, monkeypatch
):
    # The rows go on unnumbered past a cut, so the parts stop there and the rest
    # of the XML goes to the scan, which finds the damage: all is dropped.
    import tempfile
    import threading

    from .test_sniff import _forged, _sheet_workbook

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def row(n):
        number = f' r="{n}"' if n < 200 else ""
        return f"<row{number}>{_cell(f'A{n}', f'o-{n}')}</row>"

    rows = "".join(row(n) for n in range(1, 2000)).replace("o-1<", "id<", 1)
    forged = tmp_path / "forged.xlsx"
    _forged(_sheet_workbook(tmp_path, "u.xlsx", rows), forged, "crc", 1)
    with pytest.raises(SourceError) as caught:
        open_source(forged, read_ahead=True)
    assert caught.value.code == "file_damaged"
    assert not any((tmp_path / "tmp").iterdir())
    assert not [t for t in threading.enumerate() if "xlsx-read-ahead" in t.name]


def test_no_room_for_the_parts_reads_the_sheet_whole(tmp_path, in_parts, monkeypatch):
    import tempfile

    path = _every_kind_of_cell(tmp_path / "r.xlsx")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    source = open_source(path, read_ahead=True)
    assert isinstance(source._ahead, reader_module._ReadAhead)
    assert _frame_rows(source) == _reference_rows(open_source(path))


def test_a_part_holding_first_rows_must_show_them_as_calamine_does(tmp_path):
    import polars as pl

    # The first parts are small: a later part may hold some of the first rows,
    # and those are checked against calamine's as the first part's are.
    path = _every_kind_of_cell(tmp_path / "f.xlsx")
    source = open_source(path, read_ahead=True)
    scan = source._scanned[source.sheet]
    head = [
        [reader_module._cell_text(v) for v in values]
        for _, values in source._raw_rows(source._heads[source.sheet][0])
    ]
    part = pl.DataFrame([tuple(r) for r in head[9:40]], orient="row")
    assert source._text_part(part, 10, 41, scan, head) is not None
    changed = part.with_columns(pl.col(part.columns[2]).str.replace("$", " "))
    assert source._text_part(changed, 10, 41, scan, head) is None
    # Rows past the first ones are not compared.
    assert source._text_part(changed, 301, 332, scan, head) is not None


# ---------------------------------- a workbook that keeps its text in one table


@pytest.fixture
def shared_strings(tmp_path):
    """The same 1,000 messy orders, with text in the cells (as openpyxl writes)
    and in a shared-strings table (as Excel saves)."""
    from .test_fast import gen

    inline = gen.write_xlsx(tmp_path / "inline.xlsx", 1000, seed=5)
    return inline, gen.to_shared_strings(inline, tmp_path / "shared.xlsx")


def _table(path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/sharedStrings.xml")


def test_the_first_rows_copy_only_the_shared_strings_they_use(shared_strings):
    import io

    inline, shared = shared_strings
    data, cut = reader_module._xlsx_head(shared, 0, 300, 1 << 20)
    used = _table(io.BytesIO(data)).count(b"<si>")
    assert cut and 300 < used < _table(shared).count(b"<si>") // 2
    source = open_source(shared)
    assert source.columns == open_source(inline).columns
    assert source.preview(300) == open_source(inline).preview(300)
    # The copy's table keeps the original's opening tag, without its counts.
    assert b"uniqueCount" in _table(shared) and b"uniqueCount" not in _table(
        io.BytesIO(data)
    )


def test_first_rows_whose_strings_cannot_be_picked_take_the_whole_table(
    shared_strings, monkeypatch
):
    import io

    inline, shared = shared_strings
    reference = open_source(inline).preview(300)
    monkeypatch.setattr(reader_module, "_HEAD_MAX_STRING", 10)  # used far on
    data, _ = reader_module._xlsx_head(shared, 0, 300, 1 << 20)
    assert _table(io.BytesIO(data)) == _table(shared)
    assert open_source(shared).preview(300) == reference


@pytest.mark.parametrize(
    ("cell", "table"),
    [
        ('<c r="A2" t="s">\n<v>1</v></c>', "<si><t>id</t></si><si><t>x</t></si>"),
        (
            '<c r="A2" t="s"><f>B9</f><v>1</v></c>',
            "<si><t>id</t></si><si><t>x</t></si>",
        ),
        ('<c r="A2" t = "s"><v>1</v></c>', "<si><t>id</t></si><si><t>x</t></si>"),
        ('<c r="A2" t="s"><v>1</v></c>', "<si><t>id</t></si><si/><si><t>x</t></si>"),
        ('<c r="A2" t="s"><v>2</v></c>', "<si><t>id</t></si><si><t>x</t></si>"),
        ('<c r="A2" t="s"><v>1</v></c>', "<si><t>id</t></si><x/><si><t>x</t></si>"),
    ],
    ids=["spaced", "formula", "spaced-type", "self-closed", "past-the-end", "other"],
)
def test_shared_strings_written_otherwise_leave_the_head_as_it_is(cell, table):
    import io
    import zipfile

    sst = (
        '<?xml version="1.0"?>\n<sst xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main" count="2">{table}</sst>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/sharedStrings.xml", sst)
    head = f'<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2">{cell}</row>'
    with zipfile.ZipFile(buffer) as archive:
        assert reader_module._head_strings(archive, head.encode()) is None
        # Written as Excel does, the same strings are picked and renumbered.
        plain = head.replace(cell, '<c r="A2" t="s"><v>1</v></c>').encode()
        if b"<si/>" not in sst.encode() and b"<x/>" not in sst.encode():
            renumbered, picked = reader_module._head_strings(archive, plain)
            assert renumbered == plain
            assert picked.endswith(b'main"><si><t>id</t></si><si><t>x</t></si></sst>')


def test_a_big_shared_strings_sheet_read_fast_never_parses_the_whole_table(
    shared_strings,
):
    inline, shared = shared_strings
    source = open_source(shared, read_ahead=True)
    rows = _frame_rows(source)
    assert source._whole is None  # python-calamine's workbook was not opened
    assert rows == _reference_rows(open_source(inline))
    # The per-row read opens it when needed, with the same rows.
    assert _reference_rows(open_source(shared)) == rows


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0189-: .truefals٣", max_size=30),
            st.sampled_from(
                [
                    "2026-10-05 00:00:00",
                    "1899-12-31 12:00:00",
                    "true",
                    "false",
                    "2026-10-05 10:00:00.5",
                    "2026-10-05 10:00:00",
                    "True",
                    "",
                    None,
                ]
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_texts_fastexcel_may_print_otherwise_are_found_by_length_first(values):
    import polars as pl

    frame = pl.DataFrame({"c0": values}, schema={"c0": pl.String})
    everything = frame.select(
        pl.col("c0").str.contains(reader_module._RUST_DATES).any()
    )
    assert frame.select(reader_module._printed_otherwise(["c0"])).row(0) == (
        everything.item(),
    )
