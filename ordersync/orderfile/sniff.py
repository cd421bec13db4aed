"""Decide what a file is from its bytes, and refuse dangerous containers early.

The name and the browser's content type are never trusted: a ``.csv`` may be a
workbook and an ``.xlsx`` may be text. Workbooks are ZIP (or OLE2) containers, so the
ZIP central directory is checked against size budgets before any XML is parsed.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from isal import isal_zlib

from .errors import LimitExceededError, SourceError

# What reading a damaged ZIP member raises: a bad header or CRC, a deflate
# stream zlib or ISA-L cannot inflate, a member cut short; zipfile's RuntimeError
# and NotImplementedError: an encrypted member, an unknown compression method.
_DAMAGED = (
    KeyError,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    isal_zlib.error,
)

CSV = "csv"
XLSX = "xlsx"
XLS = "xls"
ODS = "ods"

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_SIGNATURES = (
    (b"\x89PNG", "PNG image"),
    (b"%PDF", "PDF document"),
    (b"GIF8", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"MZ", "Windows program"),
    (b"\x7fELF", "program"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
    (b"BZh", "bzip2 archive"),
)
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_HTML = re.compile(rb"^\s*<(!doctype\s+html|html|\?xml)", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """Caps that keep a hostile or broken file from exhausting the worker."""

    max_unpacked_bytes: int = 800 * 1024 * 1024
    max_zip_entries: int = 1000
    max_columns: int = 2000
    max_rows: int = 10_000_000
    max_cell_chars: int = 32_767
    max_line_bytes: int = 8 * 1024 * 1024
    max_empty_run: int = 1000
    header_scan_rows: int = 30


def detect_kind(path: Path, limits: Limits) -> str:
    """Return csv, xlsx, xls or ods for the file at ``path``, or raise SourceError."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    if not head:
        raise SourceError("file_empty")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path, limits)
    if head.startswith(_OLE2):
        if _contains(path, _ENCRYPTED_PACKAGE):
            raise SourceError("file_encrypted")
        return XLS
    for signature, what in _BINARY_SIGNATURES:
        if head.startswith(signature):
            raise SourceError("file_not_table", detail=what)
    if _HTML.match(head.lstrip(b"\xef\xbb\xbf")):
        raise SourceError("file_not_table", detail="HTML/XML page")
    if not head.startswith((b"\xff\xfe", b"\xfe\xff")) and _looks_binary(head):
        raise SourceError("file_not_table", detail="binary data")
    return CSV


def _looks_binary(head: bytes) -> bool:
    # UTF-16 without a BOM has a NUL in every other byte; real text has few or none.
    nul = head.count(0)
    if nul == 0:
        return False
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if max(even, odd) > 0.4 * len(head) / 2 and min(even, odd) < 0.05 * len(head):
        return False
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > 0.1 * len(head)


def _contains(path: Path, needle: bytes) -> bool:
    tail = b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False


def _zip_kind(path: Path, limits: Limits) -> str:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError("file_damaged", detail="broken ZIP structure") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise LimitExceededError(
                "file_too_many_parts", count=len(infos), limit=limits.max_zip_entries
            )
        names = {i.filename for i in infos}
        if "xl/workbook.bin" in names:
            raise SourceError("file_xlsb")
        if "xl/workbook.xml" in names:
            _check_workbook(archive, infos, names, limits)
            return XLSX
        if "content.xml" in names and "mimetype" in names:
            try:
                mimetype = archive.read("mimetype")[:100]
            except _DAMAGED as exc:
                raise SourceError("file_damaged", detail="mimetype") from exc
            if b"opendocument.spreadsheet" in mimetype:
                _check_budget(infos, limits)
                return ODS
        raise SourceError("file_zip_not_excel")


def _check_budget(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    # Declared sizes are enforced by zipfile while inflating (a forged size fails
    # its CRC), so the central directory is a safe budget to check up front.
    total = sum(i.file_size for i in infos)
    if total > limits.max_unpacked_bytes:
        raise LimitExceededError(
            "file_too_big_unpacked", limit_mb=limits.max_unpacked_bytes >> 20
        )


def _check_workbook(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    names: set[str],
    limits: Limits,
) -> None:
    _check_budget(infos, limits)
    try:
        types = archive.read("[Content_Types].xml")[:200_000]
    except _DAMAGED as exc:
        raise SourceError("file_damaged", detail="content types") from exc
    if "xl/vbaProject.bin" in names or b"macroEnabled" in types:
        raise SourceError("file_macro_enabled")
    sizes = {i.filename: i.file_size for i in infos}
    strings = sizes.get("xl/sharedStrings.xml", 0)
    if not strings:
        return
    sheets = sum(
        size for name, size in sizes.items() if name.startswith("xl/worksheets/")
    )
    if strings > 1 << 20:
        unique = _shared_string_count(archive)
        # Each cell that uses a shared string costs at least ~20 bytes of sheet XML,
        # so a table with far more strings than that is a memory bomb, not data.
        if unique > sheets // 20 + 10_000 or strings > 16 * sheets + (64 << 20):
            raise LimitExceededError("file_shared_strings_bomb")
    _check_string_amplification(archive, infos, sheets, limits)


# Readers copy a shared string into every cell that refers to it, so a few long
# strings referred to by many cells blow up in memory though the file stays small.
_STRING_CELL = re.compile(rb'<c\b[^>]*\bt="s"[^>]*>\s*<v>(\d+)</v>')
_CHUNK = 1 << 20


def _check_string_amplification(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    sheets: int,
    limits: Limits,
) -> None:
    lengths = _shared_string_lengths(archive, limits)
    if not lengths:
        return
    budget = max(256 << 20, 8 * sheets)
    # Cheap bound first: every cell costs at least ~20 bytes of sheet XML.
    if max(lengths) * (sheets // 20 + 1) <= budget:
        return
    try:
        _count_string_cells(archive, infos, lengths, budget)
    except _DAMAGED as exc:
        raise SourceError("file_damaged", detail="sheet") from exc


def _count_string_cells(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    lengths: list[int],
    budget: int,
) -> None:
    # Refuses the workbook once its cells' shared strings add up past the budget.
    total = 0
    for info in infos:
        if not info.filename.startswith("xl/worksheets/"):
            continue
        with archive.open(info) as fh:
            tail = b""
            while chunk := fh.read(_CHUNK):
                data = tail + chunk
                cut = data.rfind(b"</c>") + 4 if b"</c>" in data else 0
                # findall and map keep the loop over a million cells in C.
                found = list(map(int, _STRING_CELL.findall(data, 0, cut)))
                if found and max(found) >= len(lengths):
                    found = [i for i in found if i < len(lengths)]
                total += sum(map(lengths.__getitem__, found))
                if total > budget:
                    raise LimitExceededError("file_shared_strings_bomb")
                tail = data[cut:][-(1 << 16) :]


def _shared_string_lengths(archive: zipfile.ZipFile, limits: Limits) -> list[int]:
    """Return the XML length in bytes of each shared string, in index order
    (from the end of the one before it).

    A string longer than any cell may hold (Excel's own limit) is refused outright.
    """
    # XML escapes and UTF-8 make a character take up to ~6 bytes.
    longest = limits.max_cell_chars * 6 + 1024
    lengths: list[int] = []
    tail = b""
    name = "xl/sharedStrings.xml"
    try:
        for chunk in inflated(Path(str(archive.filename)), archive, name, _CHUNK):
            # Split in C: a million strings take 0.1 s, not 1.2 s in a loop.
            pieces = (tail + chunk).split(b"</si>")
            tail = pieces.pop()
            if pieces and not lengths:  # the table's header is not a string
                pieces[0] = pieces[0][max(0, pieces[0].find(b"<si")) :]
            lengths.extend(map(len, pieces))
            if len(tail) > longest:
                raise LimitExceededError("file_shared_strings_bomb")
    except _DAMAGED as exc:
        raise SourceError("file_damaged", detail="shared strings") from exc
    if lengths and max(lengths) > longest:
        raise LimitExceededError("file_shared_strings_bomb")
    return lengths


def _shared_string_count(archive: zipfile.ZipFile) -> int:
    try:
        with archive.open("xl/sharedStrings.xml") as fh:
            head = fh.read(4096)
    except _DAMAGED as exc:
        raise SourceError("file_damaged", detail="shared strings") from exc
    match = re.search(rb'uniqueCount="(\d+)"', head) or re.search(
        rb'count="(\d+)"', head
    )
    return int(match.group(1)) if match else 0


# A formula cell with no cached value: <c r="B2"><f>A2*2</f></c>, or with an empty
# <v/> as some libraries write it.
_NO_VALUE = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"[^>]*>(?:(?!</c>).){0,2000}?<f[^>]*(?:/>|>[^<]*</f>)'
    rb"\s*(?:<v\s*/>|<v></v>)?\s*</c>",
    re.S,
)
_NO_VALUE_HINTS = (b"</f></c>", b"<v />", b"<v/>", b"<v></v>", b"/></c>")


def formulas_without_value(path: Path, sheet_index: int) -> set[tuple[int, int]]:
    """Return (row, column) pairs, both 1-based, of formula cells with no cached value.

    calamine reads such cells as empty; without this check an order would be sent
    with a value missing and nobody would know why.
    """
    return scan_sheet(path, sheet_index).formulas


@dataclass
class SheetScan:
    """What one pass over a sheet's XML found."""

    formulas: set[tuple[int, int]]  # formulas without a cached value
    inside: bool  # no cell matched ``outside``
    last_row: int | None  # last row with a value or formula; None: not sure
    rows: int  # the last row number written
    # Numeric cells that fastexcel may print otherwise than Python's repr of
    # calamine's float, with their XML text. None: not sure.
    odd_numbers: dict[tuple[int, int], bytes] | None = None
    typed_cells: bool = False  # booleans or ISO date cells (t="b", t="d")


ROW_OPEN = re.compile(rb"<row\b[^>]*?\br=\"(\d+)\"")
# Inside sheetData only a value, a formula or an inline string's rich text starts
# with these, so a match never hides a row with data.
_VALUE_TAGS = (b"<v", b"<is>", b"<f")
# fastexcel prints a float rounded to 9 decimals (shortest form past 1e16):
# exact for a value of at most 6 integer digits and 9 decimals, or an integer of
# at most 15 digits. Anything else may differ and is matched here; a superset is
# fine, as a listed number is rewritten from its XML text.
# Possessive where backing off cannot help: 20% faster over a million numbers.
_ODD_NUMBER = re.compile(
    rb"<v>(-?(?:\d{7,}+\.|\d{16}|[\d.]*+[eE]|\d*+\.\d{10}|0?\.000)|-0)[^<]*"
)
_CELL_OPEN = re.compile(rb"<c\b[^>]*>")
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_CELL_TYPE = re.compile(rb'\bt="(\w+)"')
_TYPED = re.compile(rb"t=[\"'][bd][\"']")


def scan_sheet(
    path: Path, sheet_index: int, outside: re.Pattern[bytes] | None = None
) -> SheetScan:
    """Scan a sheet's XML once: formulas without value, cells out of bounds, and
    where the values end (:class:`SheetScanner`)."""
    with zipfile.ZipFile(path) as archive:
        name = sheet_part(archive, sheet_index)
        if name is None:
            return SheetScan(set(), False, None, 0)
        scanner = SheetScanner(outside)
        for block in inflated(path, archive, name, _SCAN_BLOCK):
            scanner.feed(block)
    return scanner.finish()


class SheetScanner:
    """One pass over a sheet's XML, given block after block (:func:`scan_sheet`;
    a reader that inflates the XML anyway feeds it the same blocks).

    ``inside`` is True when no cell matches ``outside`` (:func:`outside_columns`),
    so the columns calamine finds in the whole sheet are those it found in its
    first rows. ``last_row`` lets a reader skip a long tail of rows that hold only
    formatting. The XML is searched in pieces cut after a cell or a row.
    """

    def __init__(self, outside: re.Pattern[bytes] | None) -> None:
        self._outside = outside
        self._found: set[tuple[int, int]] = set()
        self._inside = True
        self._last_row: int | None = 0
        self._open_row = 0  # the row whose tag was seen last
        self._odd: dict[tuple[int, int], bytes] | None = {}
        self._typed = False
        self._tail = b""

    def feed(self, block: bytes) -> None:
        """Take the next block of XML; b"" ends it."""
        data = self._tail + block
        # Rows of empty styled cells (<c r="A9" s="1"/>) have no </c>.
        cell, row = data.rfind(b"</c>"), data.rfind(b"</row>")
        if not block:
            cut = len(data)
        elif cell < 0 and row < 0:
            self._tail = data
            return
        else:
            cut = max(cell + 4, row + 6)
        part, self._tail = data[:cut], data[cut:]
        if self._outside is not None and self._inside:
            self._inside = self._outside.search(part) is None
        if self._last_row is not None:
            self._last_row, self._open_row = _last_value_row(
                part, self._last_row, self._open_row
            )
        if self._odd is not None:
            self._odd = _odd_numbers(part, self._odd)
        self._typed = self._typed or _TYPED.search(part) is not None
        if not block:
            return
        if not _has_formula(part) or not any(h in part for h in _NO_VALUE_HINTS):
            return
        for match in _NO_VALUE.finditer(part):
            self._found.add((int(match.group(2)), _column_number(match.group(1))))

    def finish(self) -> SheetScan:
        self.feed(b"")
        return SheetScan(
            self._found,
            self._inside and self._outside is not None,
            self._last_row,
            self._open_row,
            self._odd,
            self._typed,
        )


# Inflated XML per scan step.
_SCAN_BLOCK = 4 << 20


def inflated(
    path: Path, archive: zipfile.ZipFile, name: str, block: int
) -> Iterator[bytes]:
    """Yield a member's bytes in pieces of at most ``block`` bytes.

    A deflated member is inflated by ISA-L (``isal``), about four times as fast
    as zlib here, and checked as zipfile checks it: cut at its declared size
    (which :func:`detect_kind` checked against the budget), then its CRC.
    Anything else goes through zipfile.
    """
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
        with archive.open(info) as fh:
            while piece := fh.read(block):
                yield piece
        return
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"Bad local header for {name!r}")
        fh.seek(int.from_bytes(header[26:28], "little"), 1)
        fh.seek(int.from_bytes(header[28:30], "little"), 1)
        inflater = isal_zlib.decompressobj(-15)
        packed, left, crc = info.compress_size, info.file_size, 0
        pending = b""
        while left > 0 and not inflater.eof:
            if not pending and packed:
                pending = fh.read(min(1 << 20, packed))
                packed -= len(pending)
                if not pending:
                    break  # the file ends early
            # With its input used up, the inflater may still hold output.
            piece = inflater.decompress(pending, min(block, left))
            pending = inflater.unconsumed_tail
            if not piece and not pending and not packed:
                break  # the data ends early
            left -= len(piece)
            crc = isal_zlib.crc32(piece, crc)
            if piece:
                yield piece
    if crc != info.CRC:  # cut at its declared size, or damaged
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}")


def _has_formula(part: bytes) -> bool:
    """Whether ``part`` holds a formula tag ("<f"). The "f"s are found by memchr,
    which skips the rest at memory speed: most sheets have few (Cyrillic text
    has none), so this takes a fraction of a search for "<f" itself, where every
    "<" stops the search. Past ``_FORMULA_PROBES`` of them, one search does it."""
    at = part.find(b"f", 1)
    for _ in range(_FORMULA_PROBES):
        if at < 0:
            return False
        if part[at - 1] == 0x3C:  # "<"
            return True
        at = part.find(b"f", at + 1)
    return at >= 0 and part.find(b"<f", at - 1) >= 0


_FORMULA_PROBES = 2000


def _odd_numbers(
    part: bytes, odd: dict[tuple[int, int], bytes]
) -> dict[tuple[int, int], bytes] | None:
    """Add the numeric cells of ``part`` fastexcel may print otherwise, with
    their text; None when a cell cannot be placed."""
    for match in _ODD_NUMBER.finditer(part):
        start = part.rfind(b"<c", 0, match.start())
        cell = _CELL_OPEN.match(part, start) if start >= 0 else None
        if cell is None:
            return None
        kind = _CELL_TYPE.search(cell.group())
        if kind is not None and kind.group(1) != b"n":
            continue  # a shared-string index or a formula's text result
        ref = _CELL_REF.search(cell.group())
        if ref is None:
            return None
        odd[int(ref.group(2)), _column_number(ref.group(1))] = match.group()[3:]
    return odd


def _last_value_row(part: bytes, last: int, open_row: int) -> tuple[int | None, int]:
    """Return the last row holding a value so far and the row open at the end of
    ``part``; None when rows are written without numbers."""
    # Cells and rows end before </sheetData>, so it lies past the last </row>.
    end = part.find(b"</sheetData>", max(0, part.rfind(b"</row>")))
    end = len(part) if end < 0 else end
    value = -1
    for tag in _VALUE_TAGS:  # each search only past the last value found
        value = max(value, part.rfind(tag, value + 1, end))
    tag = part.rfind(b"<row", 0, end)
    if tag >= 0:
        match = ROW_OPEN.match(part, tag)
        if match is None:
            return None, open_row
        row_end = int(match.group(1))
    else:
        row_end = open_row
    if value >= 0:
        tag = part.rfind(b"<row", 0, value)
        if tag >= 0:
            match = ROW_OPEN.match(part, tag)
            if match is None:
                return None, row_end
            last = int(match.group(1))
        else:
            last = open_row
    return last, row_end


def outside_columns(first: int, last: int) -> re.Pattern[bytes] | None:
    """Return a pattern for a cell outside columns first..last (0-based) or not
    written as ``<c r="A1"`` (so its column is not sure), or None when the bounds
    are past Z (the caller then reads the whole sheet)."""
    if not 0 <= first <= last < 26:
        return None
    letters = f"{chr(65 + first)}-{chr(65 + last)}"
    return re.compile(rf'<c(?! r="[{letters}]\d)[\s>/]'.encode())


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters:
        number = number * 26 + char - 64
    return number


def sheet_part(archive: zipfile.ZipFile, sheet_index: int) -> str | None:
    # Sheet order lives in workbook.xml; parts are found through its relationships.
    workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    ids = re.findall(r'<sheet\b[^>]*?r:id="([^"]+)"', workbook)
    if sheet_index >= len(ids):
        return None
    for rel in re.findall(r"<Relationship\b[^>]*>", rels):
        if f'Id="{ids[sheet_index]}"' in rel:
            target = re.search(r'Target="([^"]+)"', rel)
            if target:
                path = target.group(1).lstrip("/")
                return path if path.startswith("xl/") else "xl/" + path
    return None
