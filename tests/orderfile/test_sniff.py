import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordersync.orderfile import LimitExceededError, SourceError, open_source
from ordersync.orderfile.sniff import Limits


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


WORKBOOK = {
    "[Content_Types].xml": b"<Types/>",
    "xl/workbook.xml": b"<workbook/>",
}


def _code(path, **kwargs) -> str:
    with pytest.raises(SourceError) as caught:
        open_source(path, **kwargs)
    return caught.value.code


def test_empty_file_is_rejected(write):
    with pytest.raises(SourceError) as caught:
        open_source(write(b""))
    assert caught.value.message_en == "The file is empty."
    assert caught.value.message_ru == "Файл пустой."


def test_csv_that_is_really_a_zip_archive_is_not_parsed_as_text(write):
    assert _code(write(_zip({"a.txt": b"x"}), "orders.csv")) == "file_zip_not_excel"


def test_truncated_workbook_is_reported_damaged(write):
    data = _zip({**WORKBOOK, "xl/worksheets/sheet1.xml": b"<x/>" * 5000})
    assert _code(write(data[: len(data) // 2], "orders.xlsx")) == "file_damaged"


def test_png_named_csv_is_rejected_by_content(write):
    path = write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert caught.value.message_en == (
        "This is not a table file (PNG image). Upload a CSV or an Excel workbook."
    )


def test_html_page_is_rejected(write):
    assert _code(write("<!DOCTYPE html><html><body>x</body></html>")) == (
        "file_not_table"
    )


def test_xlsb_is_rejected(write):
    assert _code(write(_zip({"xl/workbook.bin": b"x"}), "a.xlsx")) == "file_xlsb"


def test_macro_workbook_renamed_xlsx_is_rejected_by_content(write):
    data = _zip({**WORKBOOK, "xl/vbaProject.bin": b"vba"})
    assert _code(write(data, "orders.xlsx")) == "file_macro_enabled"


def test_password_protected_workbook_asks_to_remove_the_password(write):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500
    path = write(ole + "EncryptedPackage".encode("utf-16-le"), "a.xlsx")
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert caught.value.code == "file_encrypted"
    assert "Remove the password" in caught.value.message_en


def test_zip_bomb_is_rejected_from_the_central_directory(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in WORKBOOK.items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            block = b"A" * (1 << 20)
            for _ in range(64):
                fh.write(block)
    with pytest.raises(LimitExceededError) as caught:
        open_source(path, limits=Limits(max_unpacked_bytes=32 << 20))
    assert caught.value.message_en == (
        "The workbook unpacks to more than 32 MB. Split it into smaller files or save "
        "it as CSV."
    )


def test_too_many_zip_entries_are_rejected(write):
    entries = {**WORKBOOK, **{f"xl/media/{i}.bin": b"" for i in range(30)}}
    path = write(_zip(entries), "a.xlsx")
    with pytest.raises(LimitExceededError) as caught:
        open_source(path, limits=Limits(max_zip_entries=10))
    assert caught.value.code == "file_too_many_parts"


def test_shared_strings_table_larger_than_the_cells_is_rejected(write):
    strings = (
        b'<sst uniqueCount="3000000">' + b"<si><t>user@example.org</t></si>" * 60000
    )
    data = _zip(
        {
            **WORKBOOK,
            "xl/sharedStrings.xml": strings,
            "xl/worksheets/sheet1.xml": b'<c r="A1" t="s"><v>0</v></c>',
        }
    )
    assert _code(write(data, "a.xlsx")) == "file_shared_strings_bomb"


def _string_workbook(text: str, cells: int) -> bytes:
    """One shared string referred to by ``cells`` cells of one column."""
    strings = f'<sst uniqueCount="1"><si><t>{text}</t></si></sst>'.encode()
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>'
        for r in range(1, cells + 1)
    )
    return _zip(
        {
            **WORKBOOK,
            "xl/sharedStrings.xml": strings,
            "xl/worksheets/sheet1.xml": f"<sheetData>{rows}</sheetData>".encode(),
        }
    )


def test_shared_string_longer_than_a_cell_may_hold_is_rejected(write):
    data = _string_workbook("A" * (1 << 20), cells=3)
    assert _code(write(data, "a.xlsx")) == "file_shared_strings_bomb"


def test_long_shared_string_repeated_in_many_cells_is_rejected(write):
    # 30,000 characters are a legal cell, but 20,000 copies are 600 MB in memory.
    data = _string_workbook("A" * 30_000, cells=20_000)
    assert len(data) < 1 << 20
    assert _code(write(data, "a.xlsx")) == "file_shared_strings_bomb"


def test_long_shared_string_in_a_few_cells_is_accepted(write):
    data = _string_workbook("A" * 30_000, cells=50)
    from ordersync.orderfile.sniff import detect_kind

    assert detect_kind(write(data, "a.xlsx"), Limits()) == "xlsx"


def test_sheet_scan_keeps_a_cell_longer_than_its_read_block_whole(tmp_path):
    # A piece of XML with no closing tag must wait for the rest, not be cut
    # after five bytes ('<c r=' reads as a cell of unknown column).
    from ordersync.orderfile.sniff import outside_columns, scan_sheet

    def cell(ref, text):
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'

    rows = [("id", "note"), ("o1", "short"), ("o2", "x" * (9 << 20)), ("o3", "ok")]
    xml = "".join(
        f'<row r="{n}">{cell(f"A{n}", a)}{cell(f"B{n}", b)}</row>'
        for n, (a, b) in enumerate(rows, start=1)
    )
    path = _sheet_workbook(tmp_path, "long.xlsx", xml)

    scan = scan_sheet(path, 0, outside_columns(0, 1))
    assert scan.inside
    assert (scan.last_row, scan.rows) == (4, 4)


@given(
    st.lists(
        st.sampled_from([b"<f", b"f", b"<", b"ff", b"<ff", b"<c>", b"a", b"<<f"]),
        max_size=40,
    ),
    st.integers(min_value=0, max_value=3),
)
def test_formula_search_finds_what_a_plain_search_finds(pieces, probes):
    import ordersync.orderfile.sniff as sniff

    part = b"".join(pieces)
    saved = sniff._FORMULA_PROBES
    sniff._FORMULA_PROBES = probes  # few, so the search past them is tried too
    try:
        assert sniff._has_formula(part) == (b"<f" in part)
    finally:
        sniff._FORMULA_PROBES = saved


def test_formula_without_value_after_many_other_fs_is_found(tmp_path):
    # Thousands of cells whose text has an "f" come before the formula: the
    # search for it goes past its probes and must still find it.
    from ordersync.orderfile.sniff import _FORMULA_PROBES, scan_sheet

    def cell(ref, text):
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'

    count = _FORMULA_PROBES + 500
    xml = "".join(
        f'<row r="{n}">{cell(f"A{n}", f"of{n}")}</row>' for n in range(1, count)
    )
    xml += f'<row r="{count}"><c r="A{count}"><f>A1&amp;"f"</f></c></row>'
    path = _sheet_workbook(tmp_path, "fs.xlsx", xml)

    assert scan_sheet(path, 0).formulas == {(count, 1)}


def _sheet_workbook(tmp_path, name: str, sheet_data: str, after: str = "") -> object:
    """A workbook made by openpyxl whose first sheet's rows are ``sheet_data``."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    book.create_sheet("Orders").append(["id"])
    made = tmp_path / f"made-{name}"
    book.save(made)
    path = tmp_path / name
    with zipfile.ZipFile(made) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                head = data[: data.index(b"<sheetData")]
                tail = f"<sheetData>{sheet_data}</sheetData>{after}</worksheet>"
                data = head + tail.encode()
            out.writestr(info.filename, data, zipfile.ZIP_DEFLATED)
    return path


def test_sheet_scan_finds_the_last_value_before_sheet_data_ends(tmp_path):
    # Row 4 holds only a formula (after the last <v>), rows 5-6 only formatting;
    # the <formula> of a conditional format after </sheetData> is not a value.
    from ordersync.orderfile.sniff import scan_sheet

    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>'
        '<row r="2"><c r="A2"><v>1</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>x</t></is></c></row>'
        '<row r="4"><c r="A4"><f>1+1</f></c></row>'
        '<row r="5"><c r="A5" s="1"/></row><row r="6"><c r="A6" s="1"/></row>'
    )
    after = (
        '<conditionalFormatting sqref="A1:A9"><cfRule type="expression" '
        'priority="1"><formula>A1&gt;0</formula></cfRule></conditionalFormatting>'
    )
    scan = scan_sheet(_sheet_workbook(tmp_path, "f.xlsx", rows, after), 0)
    assert (scan.last_row, scan.rows, scan.formulas) == (4, 6, {(4, 1)})
    plain = scan_sheet(
        _sheet_workbook(
            tmp_path,
            "p.xlsx",
            rows[: rows.index('<row r="4"')] + rows[rows.index('<row r="5"') :],
            after,
        ),
        0,
    )
    assert (plain.last_row, plain.rows, plain.formulas) == (3, 6, set())


@pytest.mark.parametrize("block", [1000, 1 << 16])
def test_inflated_gives_what_zipfile_gives(tmp_path, block):
    from ordersync.orderfile.sniff import inflated

    body = "".join(
        f'<row r="{n}"><c r="A{n}"><v>{n * 7}</v></c></row>' for n in range(20_000)
    )
    path = _sheet_workbook(tmp_path, "big.xlsx", body)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("stored.bin", b"abc" * 70_000, zipfile.ZIP_STORED)
    with zipfile.ZipFile(path) as archive:
        for name in ("xl/worksheets/sheet1.xml", "stored.bin"):
            pieces = list(inflated(path, archive, name, block))
            assert b"".join(pieces) == archive.read(name)
            assert max(map(len, pieces)) <= block
            assert len(pieces) > 1


def _forged(
    path, out, field: str, delta: int, name: bytes = b"xl/worksheets/sheet1.xml"
) -> None:
    # Change one field of a member's central directory entry (what ZipInfo holds).
    data = bytearray(path.read_bytes())
    at = 0
    while True:
        at = data.index(b"PK\x01\x02", at + 1)
        length = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + length] == name:
            break
    offset = {"crc": 16, "size": 24}[field]
    value = int.from_bytes(data[at + offset : at + offset + 4], "little") + delta
    data[at + offset : at + offset + 4] = (value % (1 << 32)).to_bytes(4, "little")
    out.write_bytes(bytes(data))


@pytest.mark.parametrize(("field", "delta"), [("size", -10), ("size", 10), ("crc", 1)])
def test_inflated_checks_a_member_as_zipfile_does(tmp_path, field, delta):
    # Cut at the declared size (the budget), then refused on its CRC; a size
    # declared too big changes nothing.
    from ordersync.orderfile.sniff import inflated

    body = "".join(
        f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(2_000)
    )
    forged = tmp_path / "forged.xlsx"
    _forged(_sheet_workbook(tmp_path, "ok.xlsx", body), forged, field, delta)
    name = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(forged) as archive:
        if delta > 0 and field == "size":
            assert b"".join(inflated(forged, archive, name, 1 << 16)) == (
                archive.read(name)
            )
            return
        with pytest.raises(zipfile.BadZipFile):
            archive.read(name)
        with pytest.raises(zipfile.BadZipFile):
            for _ in inflated(forged, archive, name, 1 << 16):
                pass


def test_big_sheet_whose_xml_fails_its_crc_is_reported_damaged(tmp_path):
    # The first rows read fine; the sheet scan over the rest finds the damage.
    body = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>o{n}</t></is></c></row>'
        for n in range(1, 3_000)
    )
    forged = tmp_path / "forged.xlsx"
    _forged(_sheet_workbook(tmp_path, "ok.xlsx", body), forged, "crc", 1)
    assert _code(forged) == "file_damaged"


@pytest.mark.parametrize(
    ("member", "damage"),
    [
        ("xl/sharedStrings.xml", "crc"),
        ("xl/sharedStrings.xml", "deflate"),
        ("[Content_Types].xml", "deflate"),
        ("[Content_Types].xml", "encrypted"),
        ("xl/sharedStrings.xml", "method"),
    ],
)
def test_a_damaged_part_of_a_workbook_is_reported_damaged(tmp_path, member, damage):
    # A deflate stream that cannot be inflated (zlib's error, or ISA-L's for
    # the shared strings) is the file's damage, not an error of ours.
    from ordersync.orderfile.sniff import Limits, detect_kind

    from .test_fast import gen

    inline = gen.write_xlsx(tmp_path / "i.xlsx", 2000, seed=3)
    shared = gen.to_shared_strings(inline, tmp_path / "s.xlsx")
    damaged = tmp_path / "damaged.xlsx"
    if damage == "crc":
        _forged(shared, damaged, "crc", 1, member.encode())
    elif damage in ("encrypted", "method"):
        # zipfile's RuntimeError (password required) and NotImplementedError.
        data = bytearray(shared.read_bytes())
        for signature, at_flag, at_method, at_name, header in (
            (b"PK\x03\x04", 6, 8, 26, 30),
            (b"PK\x01\x02", 8, 10, 28, 46),
        ):
            at = data.find(signature)
            while at >= 0:
                length = int.from_bytes(data[at + at_name : at + at_name + 2], "little")
                if data[at + header : at + header + length] == member.encode():
                    if damage == "encrypted":
                        data[at + at_flag] |= 1
                    else:
                        data[at + at_method : at + at_method + 2] = b"\x63\x00"
                at = data.find(signature, at + 4)
        damaged.write_bytes(bytes(data))
    else:
        with zipfile.ZipFile(shared) as archive:
            info = archive.getinfo(member)
        data = bytearray(shared.read_bytes())
        start = info.header_offset + 30 + len(info.filename.encode())
        middle = start + info.compress_size // 2
        data[middle : middle + 16] = b"\xff" * 16
        damaged.write_bytes(bytes(data))
    with pytest.raises(SourceError) as caught:
        detect_kind(damaged, Limits())
    assert caught.value.code == "file_damaged"
