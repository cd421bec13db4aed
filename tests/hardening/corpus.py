"""The 57 bad inputs of the reliability research (§1.8), made by code.

Each generator returns the bytes of one file; nothing binary is committed. Sizes
are the research's where they matter to the outcome (the zip bomb inflates to
1 GiB, the shared-strings bomb has 3 M strings, the empty-rows bomb 1,048,576
rows); ``bench/hostile_files.py`` measures time and memory on the same files.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

HEADER = "id,create_date_time,emails,phones,order_status,revenue\n"
GOOD_ROWS = (
    "o-1,2024-01-05 10:00:00,ivan@example.com,+79001234567,PAID,100\n"
    "o-2,2024-01-06 11:00:00,olga@example.com,+79001234568,PAID,200\n"
)
GOOD_CSV = HEADER + GOOD_ROWS

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="{main}"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
MAIN_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MAIN_XLSM = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
SHEET_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _col(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_xml(rows: list[list[str]], *, dimension: str = "") -> str:
    """Return worksheet XML with inline-string cells."""
    out = [SHEET_OPEN]
    if dimension:
        out.append(f'<dimension ref="{dimension}"/>')
    out.append("<sheetData>")
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{_col(c)}{r}" t="inlineStr"><is><t>{value}</t></is></c>'
            for c, value in enumerate(row)
        )
        out.append(f'<row r="{r}">{cells}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out)


def ooxml(
    sheet: str | bytes | None = None,
    *,
    strings: str | bytes = '<sst xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" count="0" uniqueCount="0"/>',
    main: str = MAIN_XLSX,
    extra: dict[str, bytes] | None = None,
    skip: tuple[str, ...] = (),
) -> bytes:
    """Return a minimal XLSX package, written part by part with zipfile."""
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": CONTENT_TYPES.replace("{main}", main),
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": sheet
        if sheet is not None
        else sheet_xml([line.split(",") for line in GOOD_CSV.splitlines()]),
        "xl/sharedStrings.xml": strings,
        **(extra or {}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            if name not in skip:
                archive.writestr(name, data)
    return buffer.getvalue()


def openpyxl_book(rows: list[list], **cells) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Orders"
    for row in rows:
        sheet.append(row)
    for ref, value in cells.items():
        sheet[ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------- A. containers


def ole2(stream_name: str = "Workbook") -> bytes:
    """Return the start of an OLE2 (CFB) container naming one stream."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
    header += struct.pack("<HHHH", 0x3E, 3, 0xFFFE, 9) + b"\x00" * 478
    return header + stream_name.encode("utf-16-le") + b"\x00" * 1024


def forged_crc() -> bytes:
    data = bytearray(ooxml())
    start = data.find(b"PK\x01\x02")
    # Break the CRC of every entry in the central directory and local headers.
    index = 0
    while (index := data.find(b"PK\x03\x04", index)) != -1:
        data[index + 14 : index + 18] = b"\xde\xad\xbe\xef"
        index += 4
    index = start
    while (index := data.find(b"PK\x01\x02", index)) != -1:
        data[index + 16 : index + 20] = b"\xde\xad\xbe\xef"
        index += 4
    return bytes(data)


def truncated_xlsx() -> bytes:
    rows = [line.split(",") for line in GOOD_CSV.splitlines()] * 400
    data = ooxml(sheet_xml(rows))
    return data[: len(data) // 2]


# -------------------------------------------------------------- B. size bombs


def zip_bomb(mib: int = 1024) -> bytes:
    """Return an XLSX whose sheet inflates to ``mib`` MiB of one repeated cell."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _parts_without_sheet().items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as fh:
            fh.write(SHEET_OPEN.encode() + b"<sheetData><row><c><v>")
            block = b"A" * (1 << 20)
            for _ in range(mib):
                fh.write(block)
            fh.write(b"</v></c></row></sheetData></worksheet>")
    return buffer.getvalue()


def _parts_without_sheet() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(ooxml())) as archive:
        return {
            i.filename: archive.read(i.filename)
            for i in archive.infolist()
            if i.filename != "xl/worksheets/sheet1.xml"
        }


def many_entries(count: int = 10_000) -> bytes:
    return ooxml(extra={f"xl/media/image{i}.bin": b"" for i in range(count)})


def nested_archive() -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("evil.exe", b"MZ" + b"\x00" * 100)
    return ooxml(extra={"xl/embeddings/oleObject1.zip": inner.getvalue()})


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    strings = (
        '<?xml version="1.0"?><!DOCTYPE sst [' + "".join(entities) + "]>"
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    )
    sheet = (
        SHEET_OPEN + '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        "</sheetData></worksheet>"
    )
    return ooxml(sheet, strings=strings)


def xxe(target: str) -> bytes:
    strings = (
        f'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "{target}">]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'count="2" uniqueCount="2"><si><t>id</t></si><si><t>&xxe;</t></si></sst>'
    )
    sheet = (
        SHEET_OPEN + '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>'
    )
    return ooxml(sheet, strings=strings)


def quadratic_blowup() -> bytes:
    entity = "x" * 100_000
    strings = (
        f'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "{entity}">]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'count="1" uniqueCount="1"><si><t>' + "&a;" * 10_000 + "</t></si></sst>"
    )
    sheet = (
        SHEET_OPEN + '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        "</sheetData></worksheet>"
    )
    return ooxml(sheet, strings=strings)


def shared_strings_bomb(count: int = 3_000_000) -> bytes:
    strings = io.BytesIO()
    strings.write(
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        + f'count="{count}" uniqueCount="{count}">'.encode()
    )
    for i in range(count):
        strings.write(b"<si><t>user%d@example.org</t></si>" % i)
    strings.write(b"</sst>")
    sheet = (
        SHEET_OPEN + '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        "</sheetData></worksheet>"
    )
    return ooxml(sheet, strings=strings.getvalue())


def amplified_string(cells: int = 20_000) -> bytes:
    """One 1 MiB shared string used as the e-mail of ``cells`` orders."""
    big = "A" * (1 << 20)
    strings = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{cells}" uniqueCount="1"><si><t>{big}</t></si></sst>'
    )
    head = "".join(
        f'<c r="{_col(c)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for c, name in enumerate(["id", "create_date_time", "emails", "order_status"])
    )
    rows = [f'<row r="1">{head}</row>']
    rows += [
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>o{r}</t></is></c>'
        f'<c r="B{r}" t="inlineStr"><is><t>2024-01-05</t></is></c>'
        f'<c r="C{r}" t="s"><v>0</v></c>'
        f'<c r="D{r}" t="inlineStr"><is><t>PAID</t></is></c></row>'
        for r in range(2, cells + 2)
    ]
    sheet = SHEET_OPEN + "<sheetData>" + "".join(rows) + "</sheetData></worksheet>"
    return ooxml(sheet, strings=strings)


def empty_styled_rows(count: int = 1_048_576) -> bytes:
    body = io.StringIO()
    body.write(SHEET_OPEN + f'<dimension ref="A1:F{count}"/><sheetData>')
    header = GOOD_CSV.splitlines()
    for r, line in enumerate(header, start=1):
        cells = "".join(
            f'<c r="{_col(c)}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
            for c, v in enumerate(line.split(","))
        )
        body.write(f'<row r="{r}">{cells}</row>')
    for r in range(len(header) + 1, count + 1):
        body.write(f'<row r="{r}"><c r="A{r}" s="1"/></row>')
    body.write("</sheetData></worksheet>")
    return ooxml(body.getvalue())


def wide_row(columns: int = 16_384) -> bytes:
    return ooxml(sheet_xml([[f"c{i}" for i in range(columns)], ["1"] * columns]))


def csv_rows(count: int) -> bytes:
    lines = (
        f"o-{i},2024-01-05 10:00:00,u{i}@example.com,+7900{i % 10_000_000:07d},PAID,1\n"
        for i in range(count)
    )
    return (HEADER + "".join(lines)).encode()


def huge_field() -> bytes:
    """A 200 KB order id, over the csv module's own field limit (131,072)."""
    return (HEADER + "x" * 200_000 + ",2024-01-05,ivan@example.com,,PAID,1\n"
            + GOOD_ROWS).encode()  # fmt: skip


def unterminated_quote(lines: int = 100_000) -> bytes:
    rest = "".join(f"o-{i},2024-01-05,u{i}@example.com,,PAID,1\n" for i in range(lines))
    return (HEADER + 'o-0,"2024-01-05,ivan@example.com,,PAID,1\n' + rest).encode()


def no_newline(mib: int = 50) -> bytes:
    return b"a," * (mib << 19)


# ----------------------------------------------------------- C. encodings, text


def mixed_encodings() -> bytes:
    return (
        HEADER.encode()
        + "o-1,2024-01-05,ivan@example.com,,Оплачен,1\n".encode()
        + "o-2,2024-01-05,olga@example.com,,Оплачен,1\n".encode("cp1251")
        + "o-3,2024-01-05,petr@example.com,,Оплачен,1\n".encode()
    )


def mixed_line_endings() -> bytes:
    lines = [*GOOD_CSV.splitlines(), "o-3,2024-01-07 10:00:00,a@example.com,,PAID,3"]
    ends = ["\r\n", "\n", "\r", "\r\n"]
    return "".join(line + end for line, end in zip(lines, ends, strict=True)).encode()


# ------------------------------------------------------------------- the cases


@dataclass
class Case:
    number: int
    slug: str
    name: str  # the file name the browser sends
    make: Callable[[], bytes] | None  # None: the case is about the flow, not a file
    content_type: str = "application/octet-stream"
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.number:02d}-{self.slug}"


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CASES = [
    Case(1, "xlsx-that-is-csv", "orders.xlsx", lambda: GOOD_CSV.encode(), XLSX_TYPE),
    Case(2, "csv-that-is-xlsx", "orders.csv", lambda: ooxml(), "text/csv"),
    Case(3, "xls-renamed-xlsx", "orders.xlsx", ole2, XLSX_TYPE),
    Case(
        4,
        "xlsb",
        "orders.xlsb",
        lambda: ooxml(extra={"xl/workbook.bin": b"\x00"}, skip=("xl/workbook.xml",)),
    ),
    Case(
        5,
        "xlsm-with-vba",
        "orders.xlsm",
        lambda: ooxml(main=MAIN_XLSM, extra={"xl/vbaProject.bin": b"\xd0\xcf\x11"}),
    ),
    Case(6, "macro-package-renamed-xlsx", "orders.xlsx", lambda: ooxml(main=MAIN_XLSM)),
    Case(7, "password-protected", "orders.xlsx", lambda: ole2("EncryptedPackage")),
    Case(8, "zip-truncated", "orders.xlsx", truncated_xlsx),
    Case(9, "zip-forged-crc", "orders.xlsx", forged_crc),
    Case(10, "empty-file", "orders.csv", lambda: b"", "text/csv"),
    Case(
        11,
        "png-as-text-csv",
        "orders.csv",
        lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200,
        "text/csv",
    ),
    Case(
        12,
        "html-polyglot-csv",
        "orders.csv",
        lambda: (
            b"id,create_date_time,emails,order_status,note\n"
            b"o-1,2024-01-05 10:00:00,ivan@example.com,PAID,"
            b'"<script>alert(1)</script>"\n'
        ),
        "text/html",
    ),
    Case(13, "over-the-size-cap", "orders.csv", lambda: csv_rows(6000), "text/csv"),
    Case(14, "zip-bomb", "orders.xlsx", zip_bomb),
    Case(15, "ten-thousand-entries", "orders.xlsx", many_entries),
    Case(16, "nested-archive", "orders.xlsx", nested_archive),
    Case(17, "billion-laughs", "orders.xlsx", billion_laughs),
    Case(18, "xxe-file", "orders.xlsx", lambda: xxe("file:///etc/passwd")),
    Case(
        18,
        "xxe-metadata-url",
        "orders.xlsx",
        lambda: xxe("http://169.254.169.254/latest/meta-data/"),
    ),
    Case(19, "quadratic-blowup", "orders.xlsx", quadratic_blowup),
    Case(20, "shared-strings-bomb", "orders.xlsx", shared_strings_bomb),
    Case(21, "one-mib-string-20000-times", "orders.xlsx", amplified_string),
    Case(22, "million-empty-styled-rows", "orders.xlsx", empty_styled_rows),
    Case(23, "16384-columns", "orders.xlsx", wide_row),
    Case(24, "more-rows-than-the-limit", "orders.csv", lambda: csv_rows(1001)),
    Case(25, "200-kb-field", "orders.csv", huge_field, "text/csv"),
    Case(26, "unterminated-quote", "orders.csv", unterminated_quote, "text/csv"),
    Case(27, "no-newline-at-all", "orders.csv", no_newline, "text/csv"),
    Case(28, "100-uploads-in-10-s", "orders.csv", lambda: GOOD_CSV.encode()),
    Case(29, "utf8-bom", "orders.csv", lambda: GOOD_CSV.encode("utf-8-sig")),
    Case(
        30,
        "cp1251",
        "orders.csv",
        lambda: (HEADER + "o-1,2024-01-05,ivan@example.com,,Оплачен,1\n").encode(
            "cp1251"
        ),
    ),
    Case(
        31,
        "utf16-tab",
        "orders.txt",
        lambda: GOOD_CSV.replace(",", "\t").encode("utf-16"),
    ),
    Case(32, "mixed-cp1251-utf8", "orders.csv", mixed_encodings),
    Case(
        33,
        "nul-bytes",
        "orders.csv",
        lambda: GOOD_CSV.replace("ivan@", "iv\x00an@").encode(),
    ),
    Case(34, "mixed-line-endings", "orders.csv", mixed_line_endings),
    Case(35, "semicolons", "orders.csv", lambda: GOOD_CSV.replace(",", ";").encode()),
    Case(
        36,
        "header-only-duplicate-empty-names",
        "orders.csv",
        lambda: b"id,id,,emails,\n",
    ),
    Case(
        37,
        "zero-width-fullwidth-rtl",
        "orders.csv",
        lambda: (
            "id,create_date_time,emails,phones,order_status,name\n"
            "o-1,2024-01-05 10:00:00,ivan@ex\u200bample.com,"
            "+７９００１２３４５６７,PAID,\u202eevil\n"
        ).encode(),
    ),
    Case(
        38,
        "control-characters",
        "orders.csv",
        lambda: (HEADER + "o-1,2024-01-05,iv\x0ban@example.com,,PA\x1bID,1\n").encode(),
    ),
    Case(
        39,
        "formula-without-value",
        "orders.xlsx",
        lambda: openpyxl_book(
            [
                ["id", "create_date_time", "emails", "order_status", "revenue"],
                ["o-1", "2024-01-05", "ivan@example.com", "PAID", None],
            ],
            E2="=10*2",
        ),
    ),
    Case(40, "formula-injection", "orders.xlsx", lambda: injection_xlsx()),
    Case(
        41,
        "plus-phones",
        "orders.csv",
        lambda: GOOD_CSV.encode(),
    ),
    Case(
        42,
        "duplicate-ids",
        "orders.csv",
        lambda: (GOOD_CSV + GOOD_ROWS).encode(),
    ),
    Case(
        43,
        "rows-without-id",
        "orders.csv",
        lambda: GOOD_CSV.replace("o-1,", ",").replace("o-2,", ",").encode(),
    ),
    Case(
        44,
        "dates",
        "orders.xlsx",
        lambda: openpyxl_book(
            [
                ["id", "create_date_time", "emails", "order_status"],
                ["o-1", "05.01.2024 10:00", "a@example.com", "PAID"],
                ["o-2", "2024-01-06", "b@example.com", "PAID"],
                ["o-3", 45000, "c@example.com", "PAID"],
                ["o-4", "29.02.1900", "d@example.com", "PAID"],
                ["o-5", "01.01.2999", "e@example.com", "PAID"],
                ["o-6", "2024-01-07T10:00:00", "f@example.com", "PAID"],
            ]
        ),
    ),
    Case(
        45,
        "numbers",
        "orders.csv",
        lambda: (
            "id,create_date_time,emails,order_status,revenue\n"
            'o-1,2024-01-05,a@example.com,PAID,"1\u00a0234,56"\n'
            "o-2,2024-01-05,b@example.com,PAID,NaN\n"
            "o-3,2024-01-05,c@example.com,PAID,Inf\n"
            "o-4,2024-01-05,d@example.com,PAID,1e309\n"
            "o-5,2024-01-05,e@example.com,PAID,-50\n"
        ).encode(),
    ),
    Case(
        46,
        "pii-in-unmapped-column",
        "orders.csv",
        lambda: (
            b"id,create_date_time,emails,order_status,comment\n"
            b"o-1,2024-01-05,a@example.com,PAID,call +79995550011 after 6\n"
        ),
    ),
    Case(
        47,
        "script-in-cells-and-headers",
        "orders.csv",
        lambda: (
            b'id,create_date_time,emails,order_status,"<script>alert(1)</script>",'
            b'"""><img src=x onerror=alert(2)>"\n'
            b"o-1,2024-01-05,a@example.com,PAID,<script>alert(3)</script>,"
            b'"""><img src=x onerror=alert(4)>"\n'
        ),
    ),
    Case(48, "path-traversal-name", "../../etc/passwd.csv", lambda: GOOD_CSV.encode()),
    Case(
        48,
        "windows-traversal-name",
        "..\\..\\win.ini.csv",
        lambda: GOOD_CSV.encode(),
    ),
    Case(49, "nul-then-php", "orders.xlsx%00.php", lambda: ooxml()),
    Case(49, "php-then-xlsx", "orders.php.xlsx", lambda: ooxml()),
    Case(49, "xlsx-then-php", "orders.xlsx.php", lambda: ooxml()),
    Case(50, "10000-char-name", "o" * 10_000 + ".csv", lambda: GOOD_CSV.encode()),
    Case(51, "con-name", "CON.csv", lambda: GOOD_CSV.encode()),
    Case(51, "aux-colon-name", "AUX:a\\b.xlsx", lambda: ooxml()),
    Case(52, "rtl-override-name", "orders\u202excod.csv", lambda: GOOD_CSV.encode()),
    Case(
        53, "html-name", "<img src=x onerror=alert(1)>.csv", lambda: GOOD_CSV.encode()
    ),
    Case(54, "post-without-csrf-token", "orders.csv", lambda: GOOD_CSV.encode()),
    Case(55, "counter-of-another-account", "orders.csv", lambda: GOOD_CSV.encode()),
    Case(56, "submit-pressed-twice", "orders.csv", lambda: GOOD_CSV.encode()),
    Case(57, "wizard-abandoned-after-step-1", "orders.csv", lambda: GOOD_CSV.encode()),
]

# OWASP's trigger characters: = + - @ TAB CR LF.
TRIGGERS = ["=", "+", "-", "@", "\t", "\r", "\n"]


def injection_values() -> list[str]:
    """Return a value per trigger character and position (start, after a
    separator, after a quote), plus the research's payloads."""
    values = []
    for char in TRIGGERS:
        values += [f"{char}1+2", f"a,{char}1+2", f'a";{char}1+2', f"x;{char}cmd"]
    values += [
        '=HYPERLINK("http://evil.example","x")',
        "+cmd|'/c calc'!A1",
        "-1+1",
        "@SUM(1)",
        "\t=1",
        "\r=1",
        '";=1+2',
    ]
    return values


def injection_rows() -> list[list[str]]:
    rows = [["id", "create_date_time", "emails", "phones", "order_status", "note"]]
    for i, value in enumerate(injection_values()):
        # The e-mail column carries the payload too, so every row has a problem
        # (an invalid e-mail) and lands in the problem reports.
        rows.append(
            [f"o-{i}", "2024-01-05 10:00:00", value, "+79001234567", "PAID", value]
        )
    return rows


def injection_xlsx() -> bytes:
    """The payloads as text cells (openpyxl would store "=..." as formulas)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for r, row in enumerate(injection_rows(), start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(r, c)
            cell.value = value
            cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
