"""The order-file engine: read a CRM export, map it, normalise and validate it.

Pure Python, no Django. Every problem and error carries a stable ``code``, its
parameters, and ``message(lang)`` / ``message_en`` / ``message_ru``.

``open_source(path, *, encoding=None, delimiter=None, sheet=None, header_row=None,
limits=Limits()) -> CsvSource | ExcelSource``
    Open a file by its content (CSV/TXT/TSV; XLSX/XLSM without macros; XLS; ODS).
    The source has ``kind``, ``sheets``, ``sheet``, ``encoding``, ``delimiter``,
    ``header_row`` (1-based spreadsheet row), ``columns``, ``describe()``,
    ``preview(n)`` and ``iter_rows()`` yielding ``(row_number, values)``. Workbook
    cells keep their types (datetime, float...). Unreadable files raise
    :class:`SourceError`; size limits raise :class:`LimitExceededError`.

``suggest_mapping(columns, sample_rows) -> Mapping``
    Columns to Metrika fields (several columns may feed a list field), constants
    and ignored columns, with ``confidence`` per field: 1.0 exact Metrika name,
    0.9 synonym, 0.85 numbered variant ("Телефон 2"), up to 0.8 fuzzy, 0.6 guessed
    from values. ``Mapping.to_dict()`` / ``Mapping.from_dict()`` round-trip JSON.

``StatusDictionary(custom)`` and ``count_statuses(source, column, dictionary)``
    CRM statuses to PAID / IN_PROGRESS / CANCELLED / SPAM (built-in RU/EN synonyms
    plus the user's), and the wizard's value → row count list.

``process(source, mapping, options=Options(), *, output=None, progress=None)``
    Normalise and validate every row and write the exact CSV to submit (valid
    rows only; UTF-8, comma, RFC 4180, mapped columns, canonical dates) to a path
    or binary file object; ``Options.part_size`` splits a path into
    ``NAME.partNNN.csv``. ``progress(rows_done, fraction_of_input)`` is called
    every ``Options.progress_every`` rows. Returns a :class:`Report`: row counts,
    ``counts`` per code, the first ``Options.max_problems`` :class:`Problem` in
    full (row, column, field, value, code, severity, messages), the rest counted.
    ``validate(...)`` is the same without writing. ``Options`` holds the counter
    time zone, default phone region, ``hash_pii``, the duplicate-id policy
    (``KEEP_ALL`` / ``KEEP_FIRST`` / ``KEEP_LAST``), the status dictionary, ``now``
    (for the future and 90-day checks) and ``fast``.

``write_problem_csv`` / ``write_problem_xlsx`` (source, report, target, lang)
    Problem reports for people: the original columns plus the problems, escaped
    against formula injection. The file for Metrika is never escaped.

``cli.main(argv) -> int``
    ``check_orders FILE [--sheet] [--timezone] [--region] [--mapping] [--hash-pii]
    [--output] [--report] [--lang]``: 0 when the file was read, 2 when it was not.

The per-row rules live in ``rules.py`` and ``pipeline.RowRules`` (the reference);
``fast.py`` runs the common value shapes through polars and hands every other row,
and every field it cannot vouch for, to the reference, so both give the same file
and report (``tests/orderfile/test_fast.py``).
"""

from . import _runtime  # noqa: F401 - before polars is imported
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
