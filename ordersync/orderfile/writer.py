"""Write the CSV sent to Metrika: UTF-8, comma, RFC 4180, optionally in parts.

Nothing here escapes formulas: phones start with "+" and the file is read by
Metrika, not by a spreadsheet. Files people open are written by ``export.py``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any


class MetrikaWriter:
    """Write rows to one file, or to parts no larger than ``part_size`` bytes.

    Rows are lines: values were checked to hold no line breaks, so a part can be
    cut between any two lines. The source row number of every written line is kept
    in a side file, so duplicates can be dropped afterwards without holding rows in
    memory.
    """

    def __init__(
        self,
        output: str | Path | IO[bytes] | None,
        columns: list[str],
        *,
        part_size: int | None = None,
        workdir: Path,
    ) -> None:
        self.columns = columns
        self.part_size = part_size
        self._workdir = workdir
        self._target = output
        self.header = _line(columns)
        self._parts: list[Path] = []
        self._fh: IO[bytes] | None = None
        self._size = 0
        self.rows = 0
        self._rows_file = (workdir / "rows.bin").open("wb")
        self._row_buffer = array("I")
        if part_size is not None and part_size <= len(self.header) + 2:
            raise ValueError("part_size is smaller than the header")

    def _open_part(self) -> None:
        if self._fh is not None:
            self._fh.close()
        path = self._workdir / f"part{len(self._parts) + 1:03d}.csv"
        self._parts.append(path)
        self._fh = path.open("wb")
        self._fh.write(self.header)
        self._size = len(self.header)

    def write_rows(self, rows: Iterable[tuple[int, list[str]]]) -> None:
        """Write ``(row_number, values)`` pairs with csv.writer."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        numbers = array("I")
        for number, values in rows:
            writer.writerow(values)
            numbers.append(number)
        self.write_block(buffer.getvalue().encode("utf-8"), numbers)

    def write_block(self, data: bytes, numbers: array) -> None:
        """Write complete CSV lines (no header) for the given source rows."""
        if not numbers:
            return
        self.rows += len(numbers)
        numbers.tofile(self._rows_file)
        if self._target is None:
            return
        if self._fh is None:
            self._open_part()
        assert self._fh is not None
        limit = self.part_size
        while limit is not None and self._size + len(data) > limit:
            room = limit - self._size
            cut = data.rfind(b"\n", 0, room) + 1
            if cut == 0:
                if self._size == len(self.header):
                    raise ValueError("a row is longer than part_size")
                self._open_part()
                continue
            self._fh.write(data[:cut])
            data = data[cut:]
            self._open_part()
        self._fh.write(data)
        self._size += len(data)

    def finish(self, drop: set[int] | None = None) -> list[str]:
        """Close the output, dropping lines of the source rows in ``drop``.

        Return the paths written (empty for a file object or no output).
        """
        if self._fh is not None:
            self._fh.close()
        self._rows_file.close()
        if self._target is None:
            return []
        if not self._parts:
            self._open_part()
            assert self._fh is not None
            self._fh.close()
        if drop:
            self._drop_rows(drop)
        if not isinstance(self._target, str | os.PathLike):
            with self._parts[0].open("rb") as fh:
                shutil.copyfileobj(fh, self._target, 1 << 20)
            return []
        target = Path(self._target)
        if len(self._parts) == 1 and self.part_size is None:
            shutil.move(self._parts[0], target)
            return [str(target)]
        paths = []
        for index, part in enumerate(self._parts, start=1):
            path = target.with_name(f"{target.stem}.part{index:03d}{target.suffix}")
            shutil.move(part, path)
            paths.append(str(path))
        return paths

    def _drop_rows(self, drop: set[int]) -> None:
        numbers = array("I")
        with (self._workdir / "rows.bin").open("rb") as fh:
            numbers.frombytes(fh.read())
        position = 0
        parts = []
        for part in self._parts:
            kept = part.with_suffix(".kept")
            written = 0
            with part.open("rb") as src, kept.open("wb") as dst:
                dst.write(src.readline())
                for line in src:
                    if numbers[position] not in drop:
                        dst.write(line)
                        written += 1
                    position += 1
            os.replace(kept, part)
            # A part left with only its header is not worth an upload.
            if written or (not parts and part is self._parts[-1]):
                parts.append(part)
        self._parts = parts


def _line(values: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def temp_workdir(parent: Any = None) -> tempfile.TemporaryDirectory:
    """Return a private temporary directory for a run's intermediate files."""
    return tempfile.TemporaryDirectory(prefix="orderfile-", dir=parent)
