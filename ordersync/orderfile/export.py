"""Problem reports people download: the original columns plus what is wrong.

These files are opened in Excel or LibreOffice, so any cell that a spreadsheet would
run as a formula is prefixed with an apostrophe (OWASP CSV injection). The file sent
to Metrika is written by ``writer.py`` and is never escaped: phones start with "+".
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from .reader import cell_to_text
from .report import Report

# ASCII triggers and their full-width forms, which Excel also accepts.
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def escape_cell(value: Any) -> str:
    """Return the text of ``value`` made safe to open in a spreadsheet."""
    text = cell_to_text(value)
    if text.startswith(_TRIGGERS):
        return "'" + text
    return text


def problem_rows(
    source: Any, report: Report, lang: str = "ru"
) -> tuple[list[str], list[list[str]]]:
    """Return the header and the rows of a problem report (escaped).

    Only the problems the report kept in full are listed; the source is read again
    to fetch their rows' original values.
    """
    messages: dict[int, list[str]] = defaultdict(list)
    for problem in report.problems:
        messages[problem.row].append(problem.message(lang))
    header = ["Строка" if lang == "ru" else "Row", *source.columns]
    header.append("Ошибки и предупреждения" if lang == "ru" else "Problems")
    rows: list[list[str]] = []
    width = len(source.columns)
    for number, values in source.iter_rows():
        if number in messages:
            cells = [escape_cell(v) for v in values[:width]]
            cells += [""] * (width - len(cells))
            rows.append([str(number), *cells, escape_cell("\n".join(messages[number]))])
            if len(rows) == len(messages):
                break
    return [escape_cell(h) for h in header], rows


def write_problem_csv(
    source: Any, report: Report, target: str | Path | IO[bytes], lang: str = "ru"
) -> None:
    """Write the problem report as CSV (UTF-8 with BOM for Excel, all quoted)."""
    header, rows = problem_rows(source, report, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    if isinstance(target, str | Path):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def write_problem_xlsx(
    source: Any, report: Report, target: str | Path | IO[bytes], lang: str = "ru"
) -> None:
    """Write the problem report as XLSX with every cell stored as text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    header, rows = problem_rows(source, report, lang)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Problems" if lang == "en" else "Ошибки")
    for values in [header, *rows]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=_ILLEGAL_XLSX.sub("\ufffd", value))
            # openpyxl turns a str starting with "=" into a formula unless told.
            cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    book.save(target)
