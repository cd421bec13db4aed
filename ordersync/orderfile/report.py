"""Problems found in rows, and the summary of a whole run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from .messages import WARNING_CODES, render

ERROR = "error"
WARNING = "warning"


@dataclass(slots=True)
class Problem:
    """One error or warning, tied to a spreadsheet row and, usually, a column."""

    code: str
    row: int
    column: str = ""
    field: str = ""
    value: str = ""
    params: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def severity(self) -> str:
        return WARNING if self.code in WARNING_CODES else ERROR

    def message(self, lang: str = "ru") -> str:
        """Return the sentence a user reads, in ``lang`` ("ru" or "en")."""
        return render(
            self.code,
            lang,
            {
                **self.params,
                "row": self.row,
                "column": self.column,
                "field": self.field,
                "value": self.value,
            },
        )

    @property
    def message_en(self) -> str:
        return self.message("en")

    @property
    def message_ru(self) -> str:
        return self.message("ru")

    def to_dict(self, lang: str = "ru") -> dict[str, Any]:
        """Return a JSON-ready dict with ``message`` in ``lang`` and both languages."""
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "value": self.value,
            "code": self.code,
            "severity": self.severity,
            "message": self.message(lang),
            "message_en": self.message_en,
            "message_ru": self.message_ru,
        }


class ProblemLog:
    """Count every problem; keep the first ``limit`` in full so memory stays bounded."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.kept: list[Problem] = []
        self.counts: Counter[str] = Counter()

    @property
    def full(self) -> bool:
        return len(self.kept) >= self.limit

    @property
    def room(self) -> int:
        return max(0, self.limit - len(self.kept))

    def add(self, problem: Problem) -> None:
        self.counts[problem.code] += 1
        if len(self.kept) < self.limit:
            self.kept.append(problem)

    def count(self, code: str, n: int) -> None:
        """Count ``n`` problems that are not kept in full."""
        if n:
            self.counts[code] += n


@dataclass
class Report:
    """What a run found and wrote."""

    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    rows_written: int = 0
    rows_dropped_duplicates: int = 0
    rows_with_warnings: int = 0
    counts: dict[str, int] = dc_field(default_factory=dict)
    problems: list[Problem] = dc_field(default_factory=list)
    source: dict[str, Any] = dc_field(default_factory=dict)
    mapping: dict[str, Any] = dc_field(default_factory=dict)
    columns: list[str] = dc_field(default_factory=list)
    parts: list[str] = dc_field(default_factory=list)
    fast_rows: int = 0

    @property
    def errors_count(self) -> int:
        return sum(n for c, n in self.counts.items() if c not in WARNING_CODES)

    @property
    def warnings_count(self) -> int:
        return sum(n for c, n in self.counts.items() if c in WARNING_CODES)

    @property
    def problems_not_kept(self) -> int:
        return self.errors_count + self.warnings_count - len(self.problems)

    def to_dict(self, lang: str = "ru") -> dict[str, Any]:
        """Return the report as JSON (the CLI's REPORT.json)."""
        return {
            "rows_total": self.rows_total,
            "rows_valid": self.rows_valid,
            "rows_invalid": self.rows_invalid,
            "rows_written": self.rows_written,
            "rows_dropped_duplicates": self.rows_dropped_duplicates,
            "rows_with_warnings": self.rows_with_warnings,
            "kind": self.source.get("kind"),
            "encoding": self.source.get("encoding"),
            "delimiter": self.source.get("delimiter"),
            "sheet": self.source.get("sheet"),
            "header_row": self.source.get("header_row"),
            "mapping": self.mapping,
            "columns": self.columns,
            "parts": self.parts,
            "counts": dict(sorted(self.counts.items())),
            "errors_count": self.errors_count,
            "warnings_count": self.warnings_count,
            "problems_not_kept": self.problems_not_kept,
            "errors": [p.to_dict(lang) for p in self.problems if p.severity == ERROR],
            "warnings": [
                p.to_dict(lang) for p in self.problems if p.severity == WARNING
            ],
        }
