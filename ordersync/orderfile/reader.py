"""Open an order file by its content and stream its rows.

``open_source`` returns a :class:`CsvSource` or an :class:`ExcelSource`. Both give the
detected kind, sheets, encoding, delimiter, header row and column names, a quick
``preview`` and a streaming ``iter_rows`` of ``(row_number, values)`` where the row
number is the one a spreadsheet program shows (1-based, header included).

CSV is read in byte chunks cut at line ends. The pipeline's fast path hands a chunk
to polars when nothing in it can be parsed differently from Python's ``csv`` module
(see :func:`_fast_frame`); every other chunk goes through ``csv.reader`` with
``strict=True``, so quoting errors are reported with their line and never swallow
rows.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import secrets
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LimitExceededError, OptionsError, SourceError
from .sniff import (
    CSV,
    ODS,
    ROW_OPEN,
    XLS,
    XLSX,
    Limits,
    SheetScan,
    SheetScanner,
    detect_kind,
    formulas_without_value,
    inflated,
    outside_columns,
    scan_sheet,
    sheet_part,
)

Value = Any  # str, or from Excel: float, int, bool, datetime, date, time
Row = tuple[int, list[Value]]

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 20
_CHUNK_BYTES = 4 << 20
_FIRST_CHUNK_BYTES = 64 << 10
# Chunks this big are checked as UTF-8 by polars (imported by then) and decoded only
# when csv.reader reads them; smaller ones, like the preview's, are just decoded.
_CHECK_BYTES = 1 << 20
# UTF-8 Cyrillic (two bytes D0/D1 + continuation) seen twice in a row cannot be
# ordinary cp1251 text ("РЎРѕ..."), so it marks a line saved in another encoding.
_UTF8_IN_CP1251 = re.compile(rb"(?:[\xd0\xd1][\x80-\xbf]){2}")


def open_source(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    limits: Limits | None = None,
    read_ahead: bool = False,
) -> CsvSource | ExcelSource:
    """Open the file at ``path``, detecting its kind from its bytes.

    ``encoding``, ``delimiter``, ``sheet`` and ``header_row`` override detection.
    ``read_ahead`` is for a caller that goes on to read every row: a big XLSX
    sheet is then read in the background while its XML is checked.
    Raise :class:`SourceError` (with a code and a bilingual message) when the file
    cannot be read as a table.
    """
    path = Path(path)
    limits = limits or Limits()
    kind = detect_kind(path, limits)
    if kind == CSV:
        return CsvSource(
            path,
            encoding=encoding,
            delimiter=delimiter,
            header_row=header_row,
            limits=limits,
        )
    return ExcelSource(
        path,
        kind,
        sheet=sheet,
        header_row=header_row,
        limits=limits,
        read_ahead=read_ahead,
    )


# --------------------------------------------------------------------------- shared


class _SourceBase:
    kind: str
    limits: Limits
    header_row: int
    columns: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str]
    sheet: str | None = None

    def iter_rows(self) -> Iterator[Row]:
        """Yield ``(row_number, values)`` for every row below the header."""
        for batch in self.iter_batches(fast=False):
            yield from batch.rows

    def iter_batches(self, *, fast: bool = True) -> Iterator[Batch]:
        raise NotImplementedError

    def preview(self, n: int = 100) -> list[Row]:
        """Return the first ``n`` data rows as the engine reads them."""
        out: list[Row] = []
        for batch in self._preview_batches():
            for row in batch.rows:
                if len(out) >= n:
                    return out
                out.append(row)
        return out

    def _preview_batches(self) -> Iterator[Batch]:
        return self.iter_batches(fast=False)

    def close(self) -> None:
        """Stop and drop what is being read ahead, if the rows will not be read."""

    def describe(self) -> dict[str, Any]:
        """Return what was detected, as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "sheets": self.sheets,
            "sheet": self.sheet,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header_row": self.header_row,
            "columns": self.columns,
        }


@dataclass
class Batch:
    """Rows read together: either Python rows or, on the fast path, a polars frame.

    ``frame`` holds string columns ``c0``..``cN`` for rows ``first_row`` onwards,
    one per record, with no gaps; an empty cell may be null or "".
    """

    rows: list[Row] = field(default_factory=list)
    frame: Any = None
    first_row: int = 0
    consumed: float = 0.0  # fraction of the input read so far
    nonempty: bool = False  # no row is empty (workbook rows are filtered)


def column_names(header: list[Value]) -> list[str]:
    """Return unique, non-empty column names for a header row."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for index, value in enumerate(header, start=1):
        name = _cell_text(value).strip().replace("\ufeff", "")
        name = " ".join(name.split()) or f"Column {index}"
        key = name.casefold()
        if key in seen:
            seen[key] += 1
            name = f"{name} ({seen[key]})"
        else:
            seen[key] = 1
        names.append(name)
    while (
        names
        and names[-1].startswith("Column ")
        and not _cell_text(header[len(names) - 1])
    ):
        names.pop()
    return names


def detect_header_row(rows: list[Row], scan: int = 30) -> int | None:
    """Return the row number of the header among the first rows, or None.

    Title lines and blank rows above the table are skipped: the header is the first
    row whose filled cells are all text and as many as the widest rows have, with
    known column names (id, date, phone...) winning outright.
    """
    from .mapping import known_header_score

    candidates = [(n, vals) for n, vals in rows[:scan] if _filled(vals) >= 1]
    if not candidates:
        return None
    widest = max(_filled(vals) for _, vals in candidates)
    best: tuple[float, int] | None = None
    for number, values in candidates:
        filled = _filled(values)
        texts = [_cell_text(v) for v in values if _cell_text(v).strip()]
        if not all(isinstance(v, str) for v in values if _cell_text(v).strip()):
            continue
        known = known_header_score(texts)
        if known >= 2 and (best is None or known > best[0]):
            best = (known, number)
    if best:
        return best[1]
    for number, values in candidates:
        filled = _filled(values)
        if filled >= max(1, widest * 0.6) and all(
            isinstance(v, str) and not _NUMBERISH.match(v.strip())
            for v in values
            if _cell_text(v).strip()
        ):
            return number
    return candidates[0][0]


_NUMBERISH = re.compile(r"^[\d\s.,:+\-/()]+$")


def _filled(values: list[Value]) -> int:
    return sum(1 for v in values if _cell_text(v).strip())


def _cell_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return cell_to_text(value)


def cell_to_text(value: Value) -> str:
    """Return the text form of an Excel cell value, keeping numbers exact.

    A phone stored as the number 79161234570.0 becomes "79161234570"; a number
    too large to be exact in a float keeps its float form so a rule can refuse it
    rather than send made-up digits.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    return str(value)


# --------------------------------------------------------------------------- CSV


@dataclass
class _Chunk:
    raw: bytes  # as in the file
    first_line: int  # physical line number of the first line
    encoding: str
    _text: str | None = None
    _counts: dict[bytes, int] = field(default_factory=dict)

    def count(self, newline: bytes) -> int:
        """Return how many ``newline`` bytes the chunk holds (counted once)."""
        if newline not in self._counts:
            self._counts[newline] = self.raw.count(newline)
        return self._counts[newline]

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.raw.decode(self.encoding)
        return self._text

    @property
    def utf8(self) -> bytes:
        if self.encoding == "utf-8":
            return self.raw
        return self.text.encode("utf-8")


class CsvSource(_SourceBase):
    """A delimited text file."""

    kind = CSV

    def __init__(
        self,
        path: Path,
        *,
        encoding: str | None,
        delimiter: str | None,
        header_row: int | None,
        limits: Limits,
    ) -> None:
        self.path = path
        self.limits = limits
        self.size = path.stat().st_size
        self.sheets = []
        with path.open("rb") as fh:
            sample = fh.read(_SAMPLE_BYTES)
        self._bom = b""
        self.encoding, self.encoding_certain = self._detect_encoding(sample, encoding)
        text = self._decode_sample(sample)
        if delimiter is not None:
            if len(delimiter) != 1 or delimiter in '\r\n"':
                raise OptionsError("delimiter_invalid", value=delimiter)
            self.delimiter = delimiter
        else:
            self.delimiter = _sniff_delimiter(text)
        self._newline = "\n" if "\n" in text or "\r" not in text else "\r"
        csv.field_size_limit(max(csv.field_size_limit(), limits.max_line_bytes))
        head = self._head_rows(text)
        if header_row is None:
            found = detect_header_row(head, limits.header_scan_rows)
            if found is None:
                raise SourceError("no_header", limit=limits.header_scan_rows)
            header_row = found
        self.header_row = header_row
        header = next((vals for n, vals in head if n == header_row), None)
        if header is None:
            if header_row < 1 or (head and header_row <= head[-1][0]):
                raise SourceError(
                    "header_row_out_of_range",
                    row=header_row,
                    first=head[0][0] if head else 1,
                    last=head[-1][0] if head else 1,
                )
            header = self._find_row(header_row)
        if len(header) > limits.max_columns:
            raise LimitExceededError(
                "too_many_columns",
                row=header_row,
                count=len(header),
                limit=limits.max_columns,
            )
        self.width = len(header)
        self.columns = column_names(header)

    # -- detection

    def _detect_encoding(self, sample: bytes, encoding: str | None) -> tuple[str, bool]:
        if sample.startswith(codecs.BOM_UTF8):
            self._bom = codecs.BOM_UTF8
        if encoding is not None:
            try:
                name = codecs.lookup(encoding).name
            except LookupError as exc:
                raise OptionsError("encoding_unknown", encoding=encoding) from exc
            return _canonical(name), True
        if self._bom:
            return "utf-8", True
        if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", True
        if not sample.startswith(codecs.BOM_UTF8) and _looks_utf16(sample):
            return ("utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0)
                    else "utf-16-be"), True  # fmt: skip
        if sample.isascii():
            # Nothing decides yet; the first non-ASCII chunk will.
            return "utf-8", False
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        except UnicodeDecodeError as exc:
            if _UTF8_IN_CP1251.search(sample, 0, exc.start):
                # Valid UTF-8 Cyrillic before the bad byte: two encodings mixed.
                raise SourceError(
                    "encoding_mixed",
                    line=sample.count(b"\n", 0, exc.start) + 1,
                    found="not UTF-8",
                    encoding="UTF-8",
                ) from exc
            return "cp1251", True
        return "utf-8", True

    def _decode_sample(self, sample: bytes) -> str:
        data = sample[len(self._bom) :]
        if self.encoding.startswith("utf-16"):
            data = data[: len(data) - len(data) % 2]
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        return decoder.decode(data, final=len(sample) < _SAMPLE_BYTES)

    def _head_rows(self, text: str) -> list[Row]:
        # The sample may end mid-record; drop the last line for header detection.
        if len(text) >= _SAMPLE_BYTES // 4:
            text = text[: text.rfind(self._newline) + 1]
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
        rows: list[Row] = []
        try:
            for number, values in enumerate(reader, start=1):
                rows.append((number, values))
                if number >= self.limits.header_scan_rows:
                    break
        except csv.Error:
            pass  # the full read reports it with its line number
        return rows

    def _find_row(self, wanted: int) -> list[str]:
        for batch in self._python_batches(header_row=0):
            for number, values in batch.rows:
                if number == wanted:
                    return values
        raise SourceError("header_row_out_of_range", row=wanted, first=1, last=1)

    # -- reading

    def _chunks(self) -> Iterator[_Chunk]:
        newline = self._newline.encode(
            "utf-16-le" if self.encoding == "utf-16-le" else "ascii"
        )
        if self.encoding.startswith("utf-16"):
            yield from self._utf16_chunks()
            return
        line = 1
        carry = b""
        state = {"confirmed": self.encoding_certain}
        with self.path.open("rb") as fh:
            fh.read(len(self._bom))
            # A small first chunk: it holds the header, so csv.reader reads it.
            size = _FIRST_CHUNK_BYTES
            while True:
                block = fh.read(size)
                size = _CHUNK_BYTES
                data = carry + block
                if not block:
                    tail = len(data) - data.rfind(newline) - 1
                    if tail > self.limits.max_line_bytes:
                        raise SourceError(
                            "csv_line_too_long",
                            line=line + data.count(newline),
                            limit_mb=self.limits.max_line_bytes >> 20,
                        )
                    if data:
                        yield self._checked(data, line, state)
                    return
                cut = data.rfind(newline) + 1
                if cut == 0:
                    if len(data) > self.limits.max_line_bytes:
                        raise SourceError(
                            "csv_line_too_long",
                            line=line,
                            limit_mb=self.limits.max_line_bytes >> 20,
                        )
                    carry = data
                    continue
                piece, carry = data[:cut], data[cut:]
                chunk = self._checked(piece, line, state)
                yield chunk
                line += chunk.count(newline)

    def _checked(self, raw: bytes, line: int, state: dict[str, bool]) -> _Chunk:
        if self.encoding == "utf-8":
            if raw.isascii():
                return _Chunk(raw, line, "utf-8")
            if len(raw) >= _CHECK_BYTES and _is_utf8(raw):
                # The fast path never needs the text: decoded only for csv.reader.
                state["confirmed"] = True
                return _Chunk(raw, line, "utf-8")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_line = line + raw.count(b"\n", 0, exc.start)
                if not state["confirmed"]:
                    # Only ASCII so far: the file is cp1251, not a mix.
                    self.encoding = "cp1251"
                    state["confirmed"] = True
                    return self._checked(raw, line, state)
                raise SourceError(
                    "encoding_mixed",
                    line=bad_line,
                    found="not UTF-8",
                    encoding="UTF-8",
                ) from exc
            state["confirmed"] = True
            return _Chunk(raw, line, "utf-8", text)
        if self.encoding == "cp1251":
            match = _UTF8_IN_CP1251.search(raw)
            if match:
                raise SourceError(
                    "encoding_mixed",
                    line=line + raw.count(b"\n", 0, match.start()),
                    found="UTF-8",
                    encoding="Windows-1251",
                )
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise SourceError(
                "encoding_invalid",
                line=line + raw.count(b"\n", 0, exc.start),
                encoding=self.encoding,
            ) from exc
        return _Chunk(raw, line, self.encoding, text)

    def _utf16_chunks(self) -> Iterator[_Chunk]:
        decoder = codecs.getincrementaldecoder(self.encoding)()
        line = 1
        carry = ""
        with self.path.open("rb") as fh:
            while True:
                block = fh.read(_CHUNK_BYTES)
                try:
                    text = carry + decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    raise SourceError(
                        "encoding_invalid", line=line, encoding=self.encoding
                    ) from exc
                if not block:
                    if text:
                        yield _Chunk(text.encode(), line, "utf-8", text)
                    return
                cut = text.rfind(self._newline) + 1
                if cut == 0:
                    carry = text
                    if len(carry) > self.limits.max_line_bytes:
                        raise SourceError(
                            "csv_line_too_long",
                            line=line,
                            limit_mb=self.limits.max_line_bytes >> 20,
                        )
                    continue
                piece, carry = text[:cut], text[cut:]
                yield _Chunk(piece.encode(), line, "utf-8", piece)
                line += piece.count(self._newline)

    def iter_batches(self, *, fast: bool = True) -> Iterator[Batch]:
        """Yield batches of data rows; with ``fast``, polars frames where safe."""
        return self._python_batches(header_row=self.header_row, fast=fast)

    def _python_batches(
        self, *, header_row: int, fast: bool = False
    ) -> Iterator[Batch]:
        chunks = self._chunks()
        feeder = _LineFeeder(chunks, self._newline)
        reader = csv.reader(feeder, delimiter=self.delimiter, strict=True)
        width = getattr(self, "width", None)
        record = 0
        max_row = header_row + self.limits.max_rows
        while True:
            if feeder.left == 0:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                if fast and record >= header_row and width:
                    frame = _fast_frame(chunk, self.delimiter, width)
                    if frame is not None:
                        if record + frame.height > max_row:
                            raise LimitExceededError(
                                "too_many_rows", limit=self.limits.max_rows
                            )
                        feeder.skip(chunk)
                        yield Batch(
                            frame=frame,
                            first_row=record + 1,
                            consumed=feeder.consumed_fraction(self.size),
                        )
                        record += frame.height
                        continue
                feeder.push(chunk)
            consumed = feeder.consumed_fraction(self.size)
            rows: list[Row] = []
            while feeder.left:
                start_line = feeder.lines_read + 1
                try:
                    values = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise _csv_error(exc, start_line, feeder) from exc
                record += 1
                if record <= header_row:
                    continue
                if record > max_row:
                    raise LimitExceededError(
                        "too_many_rows", limit=self.limits.max_rows
                    )
                if len(values) > self.limits.max_columns:
                    raise LimitExceededError(
                        "too_many_columns",
                        row=record,
                        count=len(values),
                        limit=self.limits.max_columns,
                    )
                rows.append((record, values))
            if rows:
                yield Batch(rows=rows, consumed=consumed)

    def _preview_batches(self) -> Iterator[Batch]:
        return self._python_batches(header_row=self.header_row)


class _LineFeeder:
    """Give ``csv.reader`` one physical line at a time, pulling chunks on demand.

    The reader asks for another line only while a record is incomplete, so when
    ``left`` is 0 after a record the stream is at a record boundary and the next
    chunk may go to the fast path.
    """

    def __init__(self, chunks: Iterator[_Chunk], newline: str) -> None:
        self._chunks = chunks
        self._newline = newline
        self._lines: Iterator[str] = iter(())
        self.left = 0
        self.lines_read = 0
        self.bytes_read = 0
        self.first_quote_line = 0

    def push(self, chunk: _Chunk) -> None:
        text = chunk.text
        if "\r" in text and text.count("\r") != text.count("\r\n"):
            # A bare CR next to other line ends (files edited on two systems):
            # every kind ends a line, as csv.reader expects.
            lines = _ANY_LINE.findall(text)
        else:
            parts = text.split(self._newline)
            last = parts.pop()
            lines = [p + self._newline for p in parts]
            if last:
                lines.append(last)
        self._lines = iter(lines)
        self.left = len(lines)
        self.bytes_read += len(chunk.raw)

    def skip(self, chunk: _Chunk) -> None:
        self.lines_read += chunk.count(self._newline.encode())
        self.bytes_read += len(chunk.raw)

    def consumed_fraction(self, size: int) -> float:
        return min(1.0, self.bytes_read / size) if size else 1.0

    def __iter__(self) -> _LineFeeder:
        return self

    def __next__(self) -> str:
        if self.left == 0:
            chunk = next(self._chunks)  # StopIteration ends the reader
            self.push(chunk)
        self.left -= 1
        self.lines_read += 1
        return next(self._lines)


_ANY_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _csv_error(exc: csv.Error, start_line: int, feeder: _LineFeeder) -> SourceError:
    text = str(exc)
    if "unexpected end of data" in text or "field larger than field limit" in text:
        return SourceError("csv_unterminated_quote", line=start_line)
    if "expected after" in text:
        return SourceError("csv_bad_quote", line=feeder.lines_read, detail=text)
    return SourceError("csv_bad_quote", line=feeder.lines_read, detail=text)


def _is_utf8(raw: bytes) -> bool:
    """Return whether ``raw`` is valid UTF-8, checked by polars without building
    a str (twenty times quicker than decoding; the same rules)."""
    import polars as pl

    try:
        pl.Series([raw], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.PolarsError:
        return False
    return True


# Scanned once each: a regex is quicker here than counting or searching twice.
_BLANK_LINE = re.compile(rb"\n\r?\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


def _fast_frame(chunk: _Chunk, delimiter: str, width: int) -> Any:
    """Parse a chunk with polars when the result is sure to equal csv.reader's.

    Return None, so the chunk goes through csv.reader, when it has anything polars
    and csv.reader might read differently: CR line ends, NUL bytes, blank lines,
    line breaks inside quotes (the record count differs), ragged rows or text after
    a closing quote (polars refuses them). A quote inside an unquoted value is kept
    literally by both; tests/orderfile/test_fast.py checks such chunks.
    """
    raw = chunk.utf8
    if b"\x00" in raw or raw.startswith((b"\n", b"\r\n")) or _BLANK_LINE.search(raw):
        return None
    lines = chunk.count(b"\n")  # the same in UTF-8 and the file's bytes
    if not raw.endswith(b"\n") or lines == 0:
        return None
    if b"\r" in raw and _BARE_CR.search(raw):
        return None
    import polars as pl

    try:
        frame = pl.read_csv(
            raw,
            has_header=False,
            separator=delimiter,
            quote_char='"',
            infer_schema=False,
            schema={f"c{i}": pl.String for i in range(width)},
            eol_char="\n",
            raise_if_empty=False,
        )
    except Exception:
        return None
    if frame.height != lines:
        return None
    return frame


def _looks_utf16(sample: bytes) -> bool:
    if len(sample) < 4:
        return False
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) / 2
    return max(even, odd) > 0.4 * half and min(even, odd) < 0.05 * half


def _canonical(name: str) -> str:
    return {"utf-8-sig": "utf-8", "windows-1251": "cp1251"}.get(name, name)


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:60] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (-1.0, 0)
    for candidate in DELIMITERS:
        counts = []
        try:
            for values in csv.reader(lines, delimiter=candidate):
                counts.append(len(values))
        except csv.Error:
            continue
        wide = [c for c in counts if c > 1]
        if not wide:
            continue
        modal = max(set(wide), key=wide.count)
        score = (wide.count(modal) / len(counts), modal)
        if score > best_score:
            best, best_score = candidate, score
    return best


# --------------------------------------------------------------------------- Excel


class ExcelSource(_SourceBase):
    """An .xlsx/.xlsm, legacy .xls or .ods workbook, read with python-calamine."""

    def __init__(
        self,
        path: Path,
        kind: str,
        *,
        sheet: str | None,
        header_row: int | None,
        limits: Limits,
        read_ahead: bool = False,
    ) -> None:
        import python_calamine as calamine

        self.path = path
        self.kind = kind
        self.limits = limits
        self._read_ahead = read_ahead
        # fastexcel's read of a big sheet, started while that sheet is scanned
        self._ahead: _ReadAhead | _PartsRead | None = None
        self._loaded: tuple[str, Any] | None = None
        # name -> (calamine sheet of the first rows, whether rows were cut off)
        self._heads: dict[str, tuple[Any, bool] | None] = {}
        self._scanned: dict[str, SheetScan] = {}
        self._whole: Any = None  # python-calamine's workbook, opened when needed
        metadata = _sheets_only(path) if kind == XLSX else None
        if metadata is None:
            metadata = self._book.sheets_metadata
        self._names = [m.name for m in metadata]
        worksheets = [
            m for m in metadata if m.typ == calamine.SheetTypeEnum.WorkSheet
        ] or list(metadata)
        self.sheets = [m.name for m in worksheets]
        if not self.sheets:
            raise SourceError("no_sheets")
        try:
            self._open_sheet(worksheets, sheet, header_row)
        except BaseException:
            self.close()  # a read started for a sheet that cannot be read
            raise

    def close(self) -> None:
        """Stop and drop the sheet being read ahead, if the rows will not be read
        (reading them closes it too): a thread still parsing when the interpreter
        exits can abort the process."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.close()

    @property
    def _book(self) -> Any:
        """python-calamine's workbook, opened when first needed: opening it parses
        all the shared strings, which the fast read of a big sheet does not use."""
        if self._whole is None:
            import python_calamine as calamine

            try:
                self._whole = calamine.CalamineWorkbook.from_path(str(self.path))
            except calamine.PasswordError as exc:
                raise SourceError("file_encrypted") from exc
            except Exception as exc:
                raise _excel_error(exc) from exc
        return self._whole

    def _open_sheet(
        self, worksheets: Any, sheet: str | None, header_row: int | None
    ) -> None:
        import python_calamine as calamine

        limits = self.limits
        if sheet is None:
            visible = [
                m.name
                for m in worksheets
                if m.visible == calamine.SheetVisibleEnum.Visible
            ]
            sheet = self._first_with_data(visible or self.sheets)
        elif sheet not in self.sheets:
            raise SourceError(
                "sheet_not_found", sheet=sheet, sheets=", ".join(self.sheets)
            )
        self.sheet = sheet
        self._sheet_index = self._names.index(sheet)
        head = self._head()
        if header_row is None:
            header_row = detect_header_row(head, limits.header_scan_rows)
            if header_row is None:
                raise SourceError("no_header", limit=limits.header_scan_rows)
        header = next((vals for n, vals in head if n == header_row), None)
        if header is None:
            raise SourceError(
                "header_row_out_of_range",
                row=header_row,
                first=head[0][0] if head else 1,
                last=head[-1][0] if head else 1,
            )
        self.header_row = header_row
        self.columns = column_names(header)
        self._formulas: set[tuple[int, int]] | None = None

    def _first_with_data(self, names: list[str]) -> str:
        for name in names:
            head = self._head_sheet(name)
            if head is not None and head[0].height > 0:
                return name
            book = self._book  # a workbook that cannot be opened is reported
            try:
                sheet = book.get_sheet_by_name(name)
            except Exception:  # noqa: S112 - try the next sheet
                continue
            if sheet.height > 0:
                self._loaded = (name, sheet)
                return name
        return names[0]

    def _sheet(self) -> Any:
        # calamine parses the whole sheet on every get_sheet_by_name, so the
        # parsed sheet is kept for the preview and the full read.
        if self._loaded is not None and self._loaded[0] == self.sheet:
            return self._loaded[1]
        sheet = self._trimmed_sheet()
        try:
            if sheet is None:
                sheet = self._book.get_sheet_by_name(self.sheet)
        except SourceError:
            raise  # the workbook itself, reported in calamine's words
        except Exception as exc:
            raise _excel_error(exc) from exc
        self._loaded = (self.sheet, sheet)
        return sheet

    def _trimmed_sheet(self) -> Any:
        """Return calamine's parse of the sheet without its trailing rows that hold
        only formatting, or None when there is no such tail worth cutting.

        A sheet formatted down to row 1,048,576 would otherwise be parsed, and held
        in memory, a million rows at a time for a few rows of data.
        """
        scan = self._scanned.get(self.sheet)
        if scan is None or scan.last_row is None:
            return None
        if scan.rows - scan.last_row < self.limits.max_empty_run:
            return None
        import python_calamine as calamine

        try:
            copy = _xlsx_head(
                self.path, self._sheet_index, 0, _HEAD_BYTES, last_row=scan.last_row
            )
            if copy is None:
                return None
            return calamine.CalamineWorkbook.from_filelike(
                io.BytesIO(copy[0])
            ).get_sheet_by_name(self.sheet)
        except Exception:
            return None  # the full read reports it

    def _head_sheet(self, name: str) -> tuple[Any, bool] | None:
        """Return calamine's parse of the first rows of an XLSX sheet, and whether
        rows were cut off, or None when only the whole sheet gives sure results.

        calamine parses a whole sheet before giving its first row. Here it parses
        a copy of the workbook whose sheet XML stops after ``_HEAD_ROWS`` rows;
        those rows are the same as in the full parse provided no later cell lies
        outside the columns found in them, which one scan of the sheet XML checks
        (the same scan finds the formulas without a value).
        """
        if self.kind != XLSX:
            return None
        if name in self._heads:
            return self._heads[name]
        import python_calamine as calamine

        self._heads[name] = None
        index = self._names.index(name)
        try:
            copy = _xlsx_head(self.path, index, _HEAD_ROWS, _HEAD_BYTES)
            if copy is None:
                return None
            data, truncated = copy
            sheet = calamine.CalamineWorkbook.from_filelike(
                io.BytesIO(data)
            ).get_sheet_by_name(name)
        except Exception:
            return None  # the full read reports it
        if truncated:
            start = sheet.start
            if start is None or sheet.width > self.limits.max_columns:
                return None
            outside = outside_columns(start[1], start[1] + sheet.width - 1)
            if outside is None:
                return None
            try:
                if self._read_ahead and self._ahead is None and start == (0, 0):
                    self._ahead = _read_ahead(
                        self.path, index, name, sheet.width, outside
                    )
                    import polars  # noqa: F401 - while fastexcel parses
                ahead = self._ahead
                scan = None
                if isinstance(ahead, _PartsRead) and ahead.sheet == name:
                    scan = ahead.scan  # made while the parts were written
                if scan is None:
                    scan = scan_sheet(self.path, index, outside)
            except Exception as exc:  # a CRC or inflate error past the first rows
                raise _excel_error(exc) from exc
            self._scanned[name] = scan
            if not scan.inside:
                return None
        self._heads[name] = (sheet, truncated)
        return self._heads[name]

    def _raw_rows(self, sheet: Any = None) -> Iterator[Row]:
        sheet = sheet if sheet is not None else self._sheet()
        if sheet.width > self.limits.max_columns:
            raise LimitExceededError(
                "too_many_columns",
                row=(sheet.start or (0, 0))[0] + 1,
                count=sheet.width,
                limit=self.limits.max_columns,
            )
        try:
            for index, values in enumerate(sheet.iter_rows()):
                yield index + 1, values
        except Exception as exc:
            raise _excel_error(exc) from exc

    def _head(self) -> list[Row]:
        head = self._head_sheet(self.sheet)
        if head is not None:
            rows = []
            for number, values in self._raw_rows(head[0]):
                rows.append((number, values))
                if number >= self.limits.header_scan_rows:
                    return rows
            if not head[1]:
                return rows
        rows = []
        for number, values in self._raw_rows():
            rows.append((number, values))
            if number >= self.limits.header_scan_rows:
                break
        return rows

    def preview(self, n: int = 100) -> list[Row]:
        """Return the first ``n`` data rows as the engine reads them."""
        head = self._head_sheet(self.sheet)
        if head is None:
            return super().preview(n)
        out: list[Row] = []
        for batch in self._batches(self._raw_rows(head[0]), head[0].height):
            for row in batch.rows:
                if len(out) >= n:
                    return out
                out.append(row)
        if head[1]:
            # The cut-off rows ran out (or a run of empty rows): read it all.
            return super().preview(n)
        return out

    def formulas_without_value(self) -> set[tuple[int, int]]:
        """Return (row, column) cells holding a formula without a saved result."""
        if self._formulas is None:
            if self.kind != XLSX:
                self._formulas = set()
            elif self.sheet in self._scanned:
                self._formulas = self._scanned[self.sheet].formulas
            else:
                self._formulas = formulas_without_value(self.path, self._sheet_index)
        return self._formulas

    def iter_batches(self, *, fast: bool = True) -> Iterator[Batch]:
        """Yield batches of data rows (cells keep their Excel types); with
        ``fast``, polars frames of cell texts where they are sure to be the same
        as ``cell_to_text`` of the per-row read."""
        if fast:
            parts = self._text_parts()
            if parts is not None:
                return self._frame_batches(parts)
        return self._batches(self._raw_rows(), self._sheet().height)

    def _text_parts(self) -> Iterator[tuple[int, Any]] | None:
        """Return the sheet read by fastexcel as text columns ``c0``.., or None.

        fastexcel turns a sheet into Arrow text with no Python per cell (with
        ``read_ahead``, in a thread started when the sheet scan began, a big
        sheet part by part: :class:`_PartsRead`), but writes a few values its
        own way. A number prints rounded to 9 decimals, which is Python's
        ``cell_to_text`` only for short numbers: the sheet scan lists the others
        with their XML text and they are rewritten here.
        A boolean prints "true", a date-only cell with a midnight time, a time of
        day or a duration as a date in 1900: a sheet with such cells (or text
        shaped like them), formulas without a value, or values right of the
        header is read per row. The first rows are checked against calamine's.

        The result yields (sheet row of the first row, frame) for the rows below
        the header, part after part. When a part after the first turns out to
        need the per-row read, it raises :class:`_NotFast`.
        """
        head = self._heads.get(self.sheet)
        scan = self._scanned.get(self.sheet)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.sheet != self.sheet:
            ahead.close()  # a sheet passed over: wait for it, and drop it
            ahead = None
        if (
            self.kind != XLSX
            or head is None
            or not head[1]
            or head[0].start != (0, 0)
            or scan is None
            or scan.formulas
            or scan.typed_cells
            or scan.odd_numbers is None
        ):
            if ahead is not None:
                ahead.close()  # never fastexcel's and calamine's read at once
            return None
        if ahead is None:
            ahead = _ReadAhead(self.path, self.sheet)
        parts = ahead.parts()
        first_row, end_row, frame = next(parts)
        rows = [
            [_cell_text(v) for v in values] for _, values in self._raw_rows(head[0])
        ]
        first = self._text_part(frame, first_row, end_row, scan, rows)
        if first is None:
            ahead.close()
            return None  # the per-row read reports it

        def the_rest() -> Iterator[tuple[int, Any]]:
            try:
                yield first
                for first_row, end_row, frame in parts:
                    part = self._text_part(frame, first_row, end_row, scan, rows)
                    if part is None:
                        raise _NotFast(first_row)
                    yield part
            finally:
                ahead.close()

        return the_rest()

    def _text_part(
        self,
        frame: Any,
        first_row: int,
        end_row: int | None,
        scan: SheetScan,
        head_rows: list[list[str]] | None = None,
    ) -> tuple[int, Any] | None:
        """Return one part of fastexcel's read (sheet rows ``first_row`` up to
        ``end_row``) as the rows below the header, or None when it must be read
        per row; ``head_rows`` are calamine's texts of the sheet's first rows,
        which the part's rows among them must equal."""
        import polars as pl

        if frame is None:
            return None
        names = [f"c{i}" for i in range(frame.width)]
        # An empty cell stays null (the checks read null as ""): filling the whole
        # frame would copy it, about 75 MB that polars then keeps to the end.
        frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
        frame = _exact_numbers(frame, scan.odd_numbers, first_row, end_row)
        if frame is None or any(frame.select(_printed_otherwise(names)).row(0)):
            return None
        if head_rows is not None and first_row <= len(head_rows):
            shown = frame.slice(0, len(head_rows) + 1 - first_row).fill_null("").rows()
            if shown != [tuple(r) for r in head_rows[first_row - 1 :][: len(shown)]]:
                return None
        width = len(self.columns)
        extra = names[width:]
        body = frame
        if first_row <= self.header_row:
            body = frame.slice(self.header_row + 1 - first_row)
            first_row = self.header_row + 1
        if extra and body.select(pl.any_horizontal(pl.col(extra) != "").any()).item():
            return None  # the per-row rules report values past the header
        for i in range(frame.width, width):
            body = body.with_columns(pl.lit("").alias(f"c{i}"))
        columns = [f"c{i}" for i in range(width)]
        empty = pl.all_horizontal(
            [pl.col(c).is_null() | (pl.col(c) == "") for c in columns]
        )
        return first_row, body.select(*columns, _empty=empty)

    def _frame_batches(self, parts: Iterator[tuple[int, Any]]) -> Iterator[Batch]:
        """Yield the parts as the per-row read would: cut at a long run of empty
        rows, refused past the row cap. A part that needs the per-row read is
        read so from its first row on, with the counts so far."""
        limit = self.limits.max_empty_run
        total = max(1, self._scanned[self.sheet].rows)
        run, last_empty, filled = 0, 0, 0  # last_empty: sheet row
        expected = self.header_row + 1  # the next sheet row
        while True:
            not_fast = None
            try:
                part = next(parts, None)
            except _NotFast as exc:
                not_fast, part = exc, None
            if part is None and not_fast is None:
                return
            first_row = not_fast.first_row if not_fast else part[0]
            if first_row > expected:  # rows with no value before this part
                gap = first_row - expected
                run = run + gap if last_empty == expected - 1 else gap
                last_empty = first_row - 1
                if run >= limit:
                    return
            elif last_empty != first_row - 1:
                run = 0
            if not_fast is not None:
                yield from self._batches(
                    self._raw_rows(),
                    self._sheet().height,
                    start=first_row,
                    empty_run=run,
                    data_rows=filled,
                )
                return
            frame = part[1]
            empty = frame.get_column("_empty")
            frame = frame.drop("_empty")
            cut = frame.height
            for index in empty.arg_true().to_list():
                row = first_row + index
                run = run + 1 if row == last_empty + 1 else 1
                last_empty = row
                if run >= limit:
                    cut = index
                    break
            filled += cut - int(empty.slice(0, cut).sum())
            if filled > self.limits.max_rows:
                raise LimitExceededError("too_many_rows", limit=self.limits.max_rows)
            for start in range(0, cut, _FRAME_BATCH_ROWS):
                piece = frame.slice(start, min(_FRAME_BATCH_ROWS, cut - start))
                yield Batch(
                    frame=piece,
                    first_row=first_row + start,
                    consumed=min(1.0, (first_row + start + piece.height) / total),
                )
            if cut < frame.height:
                return
            expected = first_row + frame.height

    def _batches(
        self,
        raw: Iterator[Row],
        height: int,
        *,
        start: int = 0,
        empty_run: int = 0,
        data_rows: int = 0,
    ) -> Iterator[Batch]:
        """Yield the rows below the header (from row ``start`` on, with the
        counts of the rows before it) in batches."""
        rows: list[Row] = []
        total = max(1, height)
        for number, values in raw:
            if number <= self.header_row or number < start:
                continue
            if values.count("") + values.count(None) == len(values):
                empty_run += 1
                if empty_run >= self.limits.max_empty_run:
                    break
                continue
            empty_run = 0
            data_rows += 1
            if data_rows > self.limits.max_rows:
                raise LimitExceededError("too_many_rows", limit=self.limits.max_rows)
            rows.append((number, values))
            if len(rows) >= _EXCEL_BATCH_ROWS:
                yield Batch(rows=rows, consumed=min(1.0, number / total), nonempty=True)
                rows = []
        if rows:
            yield Batch(rows=rows, consumed=1.0, nonempty=True)


class _NotFast(Exception):
    """A part of the sheet after the first needs the per-row read."""

    def __init__(self, first_row: int) -> None:
        super().__init__(first_row)
        self.first_row = first_row


def _read_ahead(
    path: Path, sheet_index: int, sheet: str, width: int, outside: Any
) -> _ReadAhead | _PartsRead:
    """Start fastexcel's read of a sheet that starts at A1 and is ``width``
    columns wide: part by part (:class:`_PartsRead`) when it is big and the
    workbook's shared strings are few (each part parses all of them again)."""
    try:
        with zipfile.ZipFile(path) as archive:
            part = sheet_part(archive, sheet_index)
            sizes = {i.filename: i.file_size for i in archive.infolist()}
    except (KeyError, zipfile.BadZipFile):
        part = None
    if (
        part is not None
        and sizes.get(part, 0) >= _PARTS_FROM_BYTES
        and sizes.get("xl/sharedStrings.xml", 0) <= _PARTS_MAX_STRINGS
        and width <= 26
    ):
        # What the parts' thread needs is imported here, before the sheet scan
        # holds the GIL: imported by that thread while the scan ran, fastexcel,
        # pyarrow and polars took 0.2 s instead of 0.13 s and held up the parse
        # (3-5% of the 200,000-row bench). polars, which turns the parts into
        # frames in this thread, is imported once they are written (4% more).
        # (Not so for a sheet read whole: see _fastexcel_frame.) Without these
        # the sheet is read whole, lazily, or per row.
        try:
            import fastexcel  # noqa: F401
            import pyarrow  # noqa: F401 - the parts are read eagerly
        except Exception:
            return _ReadAhead(path, sheet)
        import tempfile

        try:
            directory = tempfile.TemporaryDirectory(prefix="ordersync-xlsx-")
        except OSError:
            return _ReadAhead(path, sheet)  # no room for the copies
        scanner = SheetScanner(outside)
        return _PartsRead(path, part, sheet, width, scanner, directory)
    return _ReadAhead(path, sheet)


class _ReadAhead:
    """fastexcel's read of a whole sheet as text columns, in a thread of its own.

    fastexcel releases the GIL while it parses, so the sheet XML scan runs at the
    same time on the other core.
    """

    def __init__(self, path: Path, sheet: str) -> None:
        import threading

        self.sheet = sheet
        self._frame: Any = None
        self._thread = threading.Thread(
            target=self._read, args=(path,), name="xlsx-read-ahead", daemon=True
        )
        self._thread.start()

    def _read(self, path: Path) -> None:
        self._frame = _fastexcel_frame(path, self.sheet)

    def parts(self) -> Iterator[tuple[int, int | None, Any]]:
        """Yield the whole sheet as one part: (first row, None, frame or None)."""
        self._thread.join()
        frame, self._frame = self._frame, None
        yield 1, None, frame

    def close(self) -> None:
        """Wait for the read and drop it."""
        self._thread.join()
        self._frame = None
        _release_freed_memory()


class _PartsRead:
    """fastexcel's read of a big sheet in parts, one after another in a thread.

    fastexcel gives no row before it has parsed the whole sheet, so the checks
    of a sheet read whole wait for all of it. Here the sheet XML is inflated
    once (by ISA-L, faster than fastexcel's own inflate) into stored copies of
    the workbook (cut at ``_PART_ENDS``), each holding a run of rows, and each
    copy is parsed as soon as it is written; the checks of a part run while the
    next one is parsed. A copy after the first starts with an anchor row (the
    row before its first, with a random mark in the first and the last column)
    so its columns line up with the first's; the anchor is dropped. When the XML
    cannot be cut so, the sheet is read whole. The sheet scan gets the same inflated XML
    (``scan``), so it is inflated once.
    """

    def __init__(
        self,
        path: Path,
        part: str,
        sheet: str,
        width: int,
        scanner: SheetScanner,
        directory: Any,
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.sheet = sheet
        self._path = path
        self._width = width
        self._mark = secrets.token_hex(8)
        self._closed = False
        self._dir = directory  # a TemporaryDirectory for the copies
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="xlsx-read-ahead")
        self._parts: list[tuple[int, Any]] = []  # (anchor row or 0, future)
        self._frames: dict[int, Any] = {}  # parsed, not yet taken
        self.scan: SheetScan | None = None
        self._complete = False  # the last part was written
        split = True
        with zipfile.ZipFile(path) as archive:
            blocks = _Fed(inflated(path, archive, part, _PART_BLOCK), scanner)
            try:
                for anchor, copy in self._split(archive, part, blocks):
                    index = len(self._parts)
                    future = self._pool.submit(self._read, index, copy)
                    self._parts.append((anchor, future))
            except Exception:
                if blocks.error is not None:  # the XML is damaged
                    self.close()
                    raise
                split = False  # the whole read below
            try:
                for _ in blocks:  # what the parts did not take, to the scan
                    pass
                self.scan = scanner.finish()
            except Exception:
                self.close()
                raise
        if not split or not self._complete:  # rows may be missing: read it whole
            self._drop()
            self._closed = False
            self._parts = [(0, self._pool.submit(self._read_whole))]

    def _split(
        self, archive: zipfile.ZipFile, part: str, blocks: Iterator[bytes]
    ) -> Iterator[tuple[int, Path]]:
        """Write the copies, yielding each (with its anchor row) once complete.

        Unless the last one is written, some rows may be in none of them.
        """
        size = archive.getinfo(part).file_size
        data = b""
        while (opening := _SHEET_DATA.search(data)) is None:
            block = next(blocks, b"")
            if not block or len(data) > _HEAD_BYTES:
                return
            data += block
        head, data = data[: opening.end()], data[opening.end() :]
        if head.endswith(b"/>") or _PREFIXED_TAG.search(head):
            return
        written, anchor = len(head), 0
        for index in range(len(_PART_ENDS) + 1):
            copy = Path(self._dir.name, f"part{index}.xlsx")
            last = index == len(_PART_ENDS)
            goal = size if last else int(size * _PART_ENDS[index])
            with _Copy(archive, part, copy) as out:
                out.write(head)
                if anchor:
                    out.write(_anchor_row(anchor, self._width, self._mark))
                while not last:
                    cut = -1
                    if written + len(data) >= goal:
                        cut = data.find(b"</row>", max(0, goal - written))
                    if cut >= 0:
                        out.write(data[: cut + 6])
                        written += cut + 6
                        data = data[cut + 6 :]
                        break
                    out.write(data)
                    written += len(data)
                    data = next(blocks, b"")
                    if not data:
                        return  # no row ends past the goal
                if last:
                    out.write(data)
                    for block in blocks:
                        out.write(block)
                else:
                    out.write(b"</sheetData></worksheet>")
            self._complete = last
            yield anchor, copy
            if last:
                return
            while len(data) < 64 and (block := next(blocks, b"")):
                data += block
            data = data.lstrip(b" \t\r\n")
            row = ROW_OPEN.match(data)
            if row is None:
                return  # the rows end (or go on unnumbered) here
            anchor = int(row.group(1)) - 1

    def _read_whole(self) -> None:
        self._frames[0] = _fastexcel_batch(self._path, self.sheet, release=True)

    def _read(self, index: int, copy: Path) -> None:
        try:
            if not self._closed:
                self._frames[index] = _fastexcel_batch(copy, self.sheet)
        finally:
            copy.unlink(missing_ok=True)

    def parts(self) -> Iterator[tuple[int, int | None, Any]]:
        """Yield (first sheet row, the next part's first row, frame or None) for
        each part in order; None when a part does not line up or fails."""
        anchors = [anchor for anchor, _ in self._parts]
        for index, (anchor, future) in enumerate(self._parts):
            future.result()
            frame = _as_frame(self._frames.pop(index, None))  # dropped once checked
            end = anchors[index + 1] + 1 if index + 1 < len(anchors) else None
            if anchor and frame is not None:
                mark = frame.row(0) if frame.height else ()
                if (
                    frame.width != self._width
                    or mark[:1] != (self._mark,)
                    or mark[-1] != self._mark
                ):
                    frame = None
                else:
                    frame = frame.slice(1)
            yield anchor + 1, end, frame
            del frame

    def close(self) -> None:
        """Stop reading (a part being parsed is finished), and drop it all."""
        self._drop()
        self._pool.shutdown()

    def _drop(self) -> None:
        self._closed = True
        for _, future in self._parts:
            future.result()
        self._parts = []
        self._frames.clear()
        self._dir.cleanup()
        _release_freed_memory()


class _Fed:
    """The blocks of an iterator, each given to ``scanner`` before it is yielded;
    ``error`` keeps what the iterator itself raised (damaged XML)."""

    def __init__(self, blocks: Iterator[bytes], scanner: SheetScanner) -> None:
        self._blocks, self._scanner = blocks, scanner
        self.error: Exception | None = None

    def __iter__(self) -> _Fed:
        return self

    def __next__(self) -> bytes:
        try:
            block = next(self._blocks)
        except StopIteration:
            raise
        except Exception as exc:
            self.error = exc
            raise
        self._scanner.feed(block)
        return block


class _Copy:
    """A stored copy of a workbook, at ``path`` (a path or a binary file), whose
    sheet ``part`` the caller writes, with ``strings`` as its shared strings when
    given; sheets other than it, drawings, media and the like are left out."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        part: str,
        path: Any,
        strings: bytes | None = None,
    ) -> None:
        self._archive, self._part, self._path = archive, part, path
        self._strings = strings  # the shared strings to write instead

    def __enter__(self) -> Any:
        self._zip = zipfile.ZipFile(self._path, "w", zipfile.ZIP_STORED)
        if self._strings is None:
            _copy_parts(self._archive, self._zip, {self._part})
        else:
            _copy_parts(self._archive, self._zip, {self._part, _SHARED_STRINGS})
            self._zip.writestr(_SHARED_STRINGS, self._strings)
        self._sheet = self._zip.open(self._part, "w", force_zip64=True)
        return self._sheet

    def __exit__(self, *exc: object) -> None:
        self._sheet.close()
        self._zip.close()


def _anchor_row(number: int, width: int, mark: str) -> bytes:
    # A row with ``mark`` in the first and the last of ``width`` columns.
    cells = "".join(
        f'<c r="{column}{number}" t="inlineStr"><is><t>{mark}</t></is></c>'
        for column in sorted({"A", chr(64 + width)})
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def _fastexcel_frame(path: Path, sheet: str) -> Any:
    """Return fastexcel's read of a whole ``sheet`` as a polars frame of text, or
    None when fastexcel fails (the per-row read then reports it in its own words).

    Read as :func:`_fastexcel_batch` reads (the Arrow columns built without the
    GIL: 7% faster on the Excel-saved bench workbook, at the same peak), or, when
    pyarrow cannot be imported, again lazily: fastexcel then builds them when
    polars asks, holding the GIL. fastexcel imports pyarrow itself once it has
    parsed the sheet: imported before, it took that workbook to 314 MB peak, not 275.
    """
    try:
        try:
            return _as_frame(_eager_read(path, sheet))
        except ImportError:  # pyarrow missing or broken
            import fastexcel

            loaded = fastexcel.read_excel(str(path)).load_sheet(
                sheet, header_row=None, dtypes="string"
            )
            import polars as pl  # after the parse, which runs without the GIL

            frame = pl.DataFrame(loaded)
            del loaded  # before the memory release below, or it keeps the parse
            return frame
    except Exception:
        return None
    finally:
        _release_freed_memory()


def _fastexcel_batch(path: Path, sheet: str, *, release: bool = False) -> Any:
    """Return fastexcel's read of ``sheet`` as a pyarrow batch of text columns,
    or None when fastexcel fails; :func:`_as_frame` turns it into a frame.

    Read so (eagerly), fastexcel builds the Arrow columns without the GIL too
    (read lazily, it builds them when polars asks, holding the GIL for 0.28 s per
    200,000 rows while the sheet scan waits), and the reading thread needs neither
    the GIL for long nor polars. Unless ``release``, the memory the parse freed is
    kept: the next part's parse reuses it (handing it back to the system each time
    cost 10,000 page faults, 2% of the bench).
    """
    try:
        return _eager_read(path, sheet)
    except Exception:
        return None
    finally:
        if release:
            _release_freed_memory()


def _eager_read(path: Path, sheet: str) -> Any:
    import fastexcel

    return fastexcel.read_excel(str(path)).load_sheet(
        sheet, header_row=None, dtypes="string", eager=True
    )


def _as_frame(batch: Any) -> Any:
    # A pyarrow batch from _fastexcel_batch as a polars frame (0.05 s for 200,000
    # rows), or None.
    if batch is None:
        return None
    import polars as pl

    try:
        return pl.from_arrow(batch)
    except Exception:
        return None


# Rows per workbook batch: with calamine's parsed sheet in memory, 10,000 keeps the
# 200k-row bench under 300 MB peak (20,000: 310 MB) at the same speed.
_EXCEL_BATCH_ROWS = 10_000
# Rows per batch of fastexcel's frame: the checks of 20,000 rows take 0.2 s less
# than of 10,000 on the 200k-row bench; 50,000 saves a little more but peaks at
# 330 MB (polars keeps what a bigger batch used).
_FRAME_BATCH_ROWS = 20_000
_HEAD_ROWS = 300
_HEAD_BYTES = 32 << 20
# A sheet with this much XML (about 15,000 rows of 13 columns) is read in parts.
_PARTS_FROM_BYTES = 8 << 20
# Shared strings up to this size are parsed with each part (each of the 14): a
# 30 MB table of a million strings made a 200,000-row sheet read in 8 parts 30%
# slower than whole.
_PARTS_MAX_STRINGS = 1 << 20
# Where the parts of a big sheet end, as shares of its XML: the first parts are
# small so the parse starts soon after the scan does, the last ones so that little
# is left to check once the parse ends (in paired runs of the 200k-row bench, 1.02x
# a python-calamine pass against 1.05x for 8 equal parts).
_PART_ENDS = (
    0.01,
    0.04,
    0.12,
    0.21,
    0.30,
    0.39,
    0.48,
    0.57,
    0.66,
    0.75,
    0.84,
    0.92,
    0.97,
)
_PART_BLOCK = 4 << 20
_SHEET_DATA = re.compile(rb"<sheetData\b[^>]*>")
_SKIPPED_PARTS = (
    "xl/worksheets/",
    "xl/chartsheets/",
    "xl/media/",
    "xl/drawings/",
    "xl/charts/",
    "xl/pivot",
    "xl/embeddings/",
)


def _copy_parts(
    archive: zipfile.ZipFile, copy: zipfile.ZipFile, leave_out: set[str]
) -> None:
    """Copy the parts of a workbook into ``copy`` (stored), but for its sheets,
    drawings, media and the like, and the parts named in ``leave_out``."""
    for info in archive.infolist():
        name = info.filename
        if name not in leave_out and not name.startswith(_SKIPPED_PARTS):
            with archive.open(name) as src, copy.open(name, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _sheets_only(path: Path) -> Any:
    """Return python-calamine's list of the sheets of an XLSX, read from a copy
    without its sheets and shared strings, or None when that copy cannot be read
    (the whole workbook then tells why)."""
    import python_calamine as calamine

    try:
        out = io.BytesIO()
        with zipfile.ZipFile(path) as archive, zipfile.ZipFile(out, "w") as copy:
            _copy_parts(archive, copy, {_SHARED_STRINGS})
        out.seek(0)
        return calamine.CalamineWorkbook.from_filelike(out).sheets_metadata
    except Exception:
        return None


def _xlsx_head(
    path: Path, sheet_index: int, rows: int, limit: int, *, last_row: int = -1
) -> tuple[bytes, bool] | None:
    """Return a copy of the workbook (stored, not compressed) whose sheet stops
    after ``rows`` rows, or with ``last_row`` after the row of that number; None
    when the sheet is shorter or written in a way this does not follow (the
    caller then reads the whole sheet).

    Only the sheet's first ``limit`` bytes of XML are inflated; the ZIP was checked
    against its size budgets by :func:`detect_kind`.
    """
    with zipfile.ZipFile(path) as archive:
        part = sheet_part(archive, sheet_index)
        if part is None:
            return None
        head = bytearray()
        truncated = False  # rows were cut off
        with archive.open(part) as fh:
            closed = 0
            while block := fh.read(1 << 16):
                start = max(0, len(head) - 5)
                head += block
                if last_row >= 0:
                    end = _row_after(head, last_row, max(0, start - 200))
                    if end is not None:
                        del head[end:]
                        truncated = True
                        break
                    if len(head) > limit:
                        return None
                    continue
                closed += head.count(b"</row>", start)
                if closed > rows:
                    end = 0
                    for _ in range(rows):
                        end = head.index(b"</row>", end) + 6
                    del head[end:]
                    truncated = True
                    break
                if len(head) > limit:
                    return None
        if not truncated:
            return None  # a short sheet: calamine reads it whole just as fast
        if b"<sheetData" not in head or _PREFIXED_TAG.search(head):
            return None
        head += b"</sheetData></worksheet>"
        strings = None
        if last_row < 0 and _SHARED_STRINGS in archive.NameToInfo:
            compact = _head_strings(archive, bytes(head))
            if compact is not None:
                head, strings = compact
        out = io.BytesIO()
        with _Copy(archive, part, out, strings) as sheet:
            sheet.write(head)
        return out.getvalue(), True


def _head_strings(archive: zipfile.ZipFile, head: bytes) -> tuple[bytes, bytes] | None:
    """Return the first rows' XML with its shared-string cells renumbered, and a
    shared-strings table of only the strings they use; None when a cell or the
    table is written in a way this does not follow (the copy then takes the
    whole table).

    Excel keeps every text of a workbook in one table, often a million strings
    (30 MB) for a big export: copied whole, calamine would parse all of them for
    300 rows. Tables list strings in the order first used, so those of the first
    rows are near its start, and only that much of it is read.
    """
    numbers: dict[int, int] = {}  # index in the table -> index in the copy

    def renumber(match: re.Match[bytes]) -> bytes:
        number = numbers.setdefault(int(match.group(2)), len(numbers))
        return b"%s<v>%d</v>" % (match.group(1), number)

    head, cells = _SHARED_CELL.subn(renumber, head)
    if cells != len(_SHARED_TYPE.findall(head)) or not numbers:
        return None  # a shared-string cell not written as <c t="s"><v>N</v>
    last = max(numbers)
    if last >= _HEAD_MAX_STRING:
        return None
    found: list[bytes] = []
    data = opening = b""
    with archive.open(_SHARED_STRINGS) as fh:
        while len(found) <= last:
            block = fh.read(1 << 16)
            if not block:
                return None  # fewer strings than the cells use
            data += block
            if len(data) > _HEAD_STRING_BYTES:
                return None  # strings written otherwise, or one far too long
            if not opening:
                match = _SST_OPEN.match(data)
                if match is None:
                    if len(data) > 4096:
                        return None
                    continue
                # Its counts would be wrong for the copy (calamine sizes by them).
                opening = _SST_COUNTS.sub(b"", match.group(1))
                data = data[match.end() :]
            end = 0
            for match in _SHARED_STRING.finditer(data):
                if data[end : match.start()].strip():
                    return None  # something else between the strings
                found.append(match.group())
                end = match.end()
            data = data[end:]
    table = b"".join(found[n] for n in numbers)  # in the copy's order
    return head, b"%s%s</sst>" % (opening, table)


# calamine reads the shared strings from this part, whatever the relationships say.
_SHARED_STRINGS = "xl/sharedStrings.xml"
_SHARED_CELL = re.compile(rb'(<c\b[^>]*?\bt="s"[^>]*>)<v>(\d+)</v>')
# Any shared-string cell, however written: one _SHARED_CELL misses is counted here.
_SHARED_TYPE = re.compile(rb"""\bt\s*=\s*["']s["']""")
_SST_OPEN = re.compile(
    rb'((?:\xef\xbb\xbf)?(?:<\?xml[^>]*\?>)?\s*<sst xmlns="http://schemas'
    rb'\.openxmlformats\.org/spreadsheetml/2006/main"[^>]*>)'
)
_SST_COUNTS = re.compile(rb'\s(?:count|uniqueCount)="\d*"')
_SHARED_STRING = re.compile(rb"<si>.*?</si>", re.S)
# Past this index, the copy takes the whole table (its parse is then no slower).
_HEAD_MAX_STRING = 200_000
# More table than this read without a whole string in it: the table is copied.
_HEAD_STRING_BYTES = 4 << 20


# How fastexcel prints a date-only cell, a fraction of a second, a time of day or a
# duration; calamine gives a date, drops the fraction, or a time or timedelta.
_RUST_DATES = (
    r"^(?:\d{4}-\d\d-\d\d 00:00:00|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+"
    r"|1(?:899|900|901)-\d\d-\d\d \d\d:\d\d:\d\d|true|false)$"
)


def _printed_otherwise(names: list[str]) -> list[Any]:
    """Expressions, one per column, telling whether it holds a text fastexcel
    may have printed otherwise (:data:`_RUST_DATES`). Only texts of 4, 5 or at
    least 19 bytes can match: the others are not searched (a third of the cost)."""
    import polars as pl

    out = []
    for name in names:
        size = pl.col(name).str.len_bytes()
        maybe = pl.col(name).filter(size.is_between(4, 5) | (size >= 19))
        out.append(maybe.str.contains(_RUST_DATES).any())
    return out


def _exact_numbers(
    frame: Any,
    cells: dict[tuple[int, int], bytes],
    first_row: int,
    end_row: int | None,
) -> Any:
    """Rewrite the listed (row, column) number cells of rows ``first_row`` up to
    ``end_row`` (the frame's first row is ``first_row``) from their XML text as
    ``cell_to_text`` prints calamine's float; None when one is off the frame."""
    by_column: dict[int, list[tuple[int, str]]] = {}
    for (row, column), text in cells.items():
        if row < first_row or (end_row is not None and row >= end_row):
            continue
        index = row - first_row
        if index >= frame.height or column > frame.width:
            return None
        try:
            value = float(text)
            float(frame.item(index, column - 1))
        except (TypeError, ValueError):
            continue  # a date cell, printed as one by both readers
        by_column.setdefault(column - 1, []).append((index, cell_to_text(value)))
    for column, updates in by_column.items():
        series = frame.to_series(column).clone()
        series.scatter([i for i, _ in updates], [t for _, t in updates])
        frame = frame.with_columns(series)
    return frame


def _row_after(xml: bytearray, last_row: int, start: int) -> int | None:
    # Where the first row numbered after ``last_row`` begins, or the rows end.
    for match in ROW_OPEN.finditer(xml, start):
        if int(match.group(1)) > last_row:
            return match.start()
    end = xml.find(b"</sheetData>", start)
    return end if end >= 0 else None


_PREFIXED_TAG = re.compile(rb"<\w+:(?:worksheet|sheetData|row|c)\b")


def _excel_error(exc: Exception) -> SourceError:
    text = str(exc)
    if "password" in text.lower() or "encrypt" in text.lower():
        return SourceError("file_encrypted")
    return SourceError("file_damaged", detail=type(exc).__name__)


__all__ = [
    "CSV",
    "ODS",
    "XLS",
    "XLSX",
    "Batch",
    "CsvSource",
    "ExcelSource",
    "Limits",
    "cell_to_text",
    "column_names",
    "detect_header_row",
    "open_source",
]


def _release_freed_memory() -> None:
    """Hand memory the C heap has freed back to the system (glibc only).

    fastexcel keeps the whole sheet in the C heap while it converts it, about
    200 MB for 200,000 rows; once freed, glibc keeps those pages, and polars (which
    has its own allocator) cannot reuse them, so the process would carry them to
    the end of the check.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
