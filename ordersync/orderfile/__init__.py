"""The order-file engine: read a CRM export, map it, normalise and validate it.

Pure Python, no Django. The public API:

``open_source(path, *, encoding=None, delimiter=None, sheet=None, header_row=None,
limits=Limits()) -> CsvSource | ExcelSource``
    Open a file by its content (CSV/TXT/TSV, XLSX/XLSM, XLS, ODS). The source has
    ``kind``, ``sheets``, ``sheet``, ``encoding``, ``delimiter``, ``header_row``
    (1-based spreadsheet row), ``columns``, ``preview(n)`` and ``iter_rows()``
    yielding ``(row_number, values)``. Unreadable files raise :class:`SourceError`
    (a :class:`LimitExceededError` for size limits) with ``code``, ``message_en``,
    ``message_ru`` and ``message(lang)``.

``suggest_mapping(columns, sample_rows) -> Mapping``
    Columns to Metrika fields with a confidence per field; ``Mapping.to_dict()`` /
    ``Mapping.from_dict()`` round-trip through JSON.

``StatusDictionary(custom)`` and ``count_statuses(source, column, dictionary)``
    CRM statuses to PAID / IN_PROGRESS / CANCELLED / SPAM, and value → row counts.

``process(source, mapping, options, *, output=None, progress=None) -> Report``
    Normalise and validate every row and write the exact CSV to submit (valid rows
    only) to a path or binary file object, optionally in parts
    (``Options.part_size``). ``validate(...)`` does the same without writing.
    ``Report`` has row counts, counts per code and the first
    ``Options.max_problems`` problems in full (:class:`Problem`).

``write_problem_csv`` / ``write_problem_xlsx``
    Problem reports for people: the original columns plus an error column, safe
    against formula injection. The file for Metrika is never escaped.

``cli.main(argv) -> int``
    The ``check_orders`` command line.
"""

from .errors import (
    LimitExceededError,
    MappingError,
    OptionsError,
    OrderFileError,
    SourceError,
)
from .export import write_problem_csv, write_problem_xlsx
from .mapping import FIELDS, Mapping, suggest_mapping
from .pipeline import KEEP_ALL, KEEP_FIRST, KEEP_LAST, Options, process, validate
from .reader import CsvSource, ExcelSource, open_source
from .report import Problem, Report
from .sniff import Limits
from .statuses import StatusDictionary, count_statuses

__all__ = [
    "FIELDS",
    "KEEP_ALL",
    "KEEP_FIRST",
    "KEEP_LAST",
    "CsvSource",
    "ExcelSource",
    "LimitExceededError",
    "Limits",
    "Mapping",
    "MappingError",
    "Options",
    "OptionsError",
    "OrderFileError",
    "Problem",
    "Report",
    "SourceError",
    "StatusDictionary",
    "count_statuses",
    "open_source",
    "process",
    "suggest_mapping",
    "validate",
    "write_problem_csv",
    "write_problem_xlsx",
]
