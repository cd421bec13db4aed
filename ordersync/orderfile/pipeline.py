"""Map, normalise, validate and write: the whole run over one source.

:func:`process` streams the source batch by batch. Each batch goes through the
vectorised fast path (``fast.py``) when allowed, and its unusual rows, or every row
when ``fast=False``, through :class:`RowRules`, the readable per-row reference.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from . import rules
from .errors import MappingError, OptionsError
from .mapping import FIELDS, IDENTIFIER_FIELDS, LIST_FIELDS, Mapping
from .report import ProblemLog, Report
from .statuses import StatusDictionary, status_key
from .writer import MetrikaWriter, temp_workdir

KEEP_ALL, KEEP_FIRST, KEEP_LAST = "keep_all", "keep_first", "keep_last"
Progress = Callable[[int, float], None]


@dataclass
class Options:
    """How to normalise and what to check, besides the mapping."""

    timezone: str = "Europe/Moscow"
    region: str = "RU"
    hash_pii: bool = False
    duplicates: str = KEEP_ALL
    statuses: StatusDictionary = field(default_factory=StatusDictionary)
    now: dt.datetime | None = None  # "today" for the future and 90-day checks
    max_problems: int = 1000
    part_size: int | None = None
    progress_every: int = 100_000
    fast: bool = True
    # Called with the row number and order id ("" if none) of every row with errors.
    on_invalid: Callable[[int, str], None] | None = None

    def date_context(self) -> rules.DateContext:
        """Return the counter's zone and its current local time."""
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise OptionsError("timezone_unknown", value=self.timezone) from exc
        now = self.now or dt.datetime.now(dt.UTC)
        if now.tzinfo is not None:
            now = now.astimezone(zone).replace(tzinfo=None)
        return rules.DateContext(zone, now, self.timezone)

    def check(self) -> None:
        """Raise OptionsError for an unknown region or duplicate policy."""
        region = self.region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise OptionsError("region_unknown", value=self.region)
        self.region = region
        if self.duplicates not in (KEEP_ALL, KEEP_FIRST, KEEP_LAST):
            raise ValueError(f"unknown duplicate policy {self.duplicates!r}")


def output_columns(mapping: Mapping, hash_pii: bool) -> list[str]:
    """Return the Metrika columns the output will have, in the contract's order."""
    present = set(mapping.fields) | set(mapping.constants)
    if hash_pii:
        for raw, hashed in (("emails", "emails_md5"), ("phones", "phones_md5")):
            if raw in present:
                present.discard(raw)
                present.add(hashed)
    return [f for f in FIELDS if f in present]


class RowRules:
    """Apply the contract to one row: the reference implementation."""

    def __init__(self, source: Any, mapping: Mapping, options: Options) -> None:
        mapping.check_against(source.columns)
        options.check()
        self.mapping = mapping
        self.options = options
        self.ctx = options.date_context()
        self.columns = output_columns(mapping, options.hash_pii)
        self.width = getattr(source, "width", None) or len(source.columns)
        self.index = {
            f: [source.columns.index(c) for c in cols]
            for f, cols in mapping.fields.items()
        }
        self.formulas: set[tuple[int, int]] = (
            source.formulas_without_value()
            if hasattr(source, "formulas_without_value")
            else set()
        )
        self.constants = self._constants()
        self.unmapped_statuses: Counter[str] = Counter()

    def _constants(self) -> dict[str, str]:
        out = {}
        for name, value in self.mapping.constants.items():
            if name == "currency":
                normal, issues = rules.normalize_currency(value)
            elif name == "order_status":
                normal = self.options.statuses.lookup(value)
                issues = [] if normal is not None else [rules.Issue("x", value, {})]
            else:
                items = [
                    rules.normalize_goal(v)
                    for v in rules.split_list(value, spaces=False)
                ]
                normal = ",".join(v for v, _ in items if v)
                issues = [i for _, more in items for i in more]
            if normal is None or any(i.code != "value_repaired" for i in issues):
                raise MappingError("mapping_invalid", detail=f"{name} = {value}")
            out[name] = normal
        return out

    def apply(
        self,
        number: int,
        values: list[Any],
        log: ProblemLog,
        known: dict[str, tuple[str, list[rules.Issue]]] | None = None,
        memo: dict[tuple, tuple[str, list]] | None = None,
    ) -> tuple[list[str] | None, bool]:
        """Return the output values of a row (None if it has errors) and whether
        it had warnings; record its problems in ``log``.

        ``known`` holds fields already normalised (by the fast path) with their
        issues; the row checks still run here. ``memo``, kept by the caller,
        reuses a field's result for text cells equal to ones seen before.
        """
        found: list[tuple[rules.Issue, str, str]] = []
        out: dict[str, str] = dict(self.constants)
        for name, indexes in self.index.items():
            if known and name in known:
                result, issues = known[name]
                if issues:
                    found.extend((i, name, indexes[0]) for i in issues)
                if result:
                    out[name] = result
                continue
            cells = [(i, values[i] if i < len(values) else "") for i in indexes]
            for i, value in cells:
                if (number, i + 1) in self.formulas and value in ("", None):
                    found.append(
                        (rules.Issue("formula_without_value", "", {}), name, i)
                    )
            if memo is None:
                result = self._field(name, cells, found)
            else:
                result = self._memo_field(name, cells, found, memo)
            if result:
                out[name] = result
        if len(values) > self.width and any(
            str(v).strip() for v in values[self.width :] if v is not None
        ):
            found.append(
                (
                    rules.Issue(
                        "row_extra_values",
                        "",
                        {"count": len(values), "limit": self.width},
                    ),
                    "",
                    None,
                )
            )
        has_error = any(i.code not in _WARN for i, _, _ in found)
        if not any(out.get(f) for f in IDENTIFIER_FIELDS) and not any(
            n in IDENTIFIER_FIELDS and i.code not in _WARN for i, n, _ in found
        ):
            found.append((rules.Issue("no_identifier", "", {}), "", None))
            has_error = True
        if (
            out.get("cost")
            and out.get("revenue")
            and rules.money_value(out["cost"]) > rules.money_value(out["revenue"])
        ):
            found.append(
                (
                    rules.Issue(
                        "cost_above_revenue",
                        "",
                        {"cost": out["cost"], "revenue": out["revenue"]},
                    ),
                    "cost",
                    self.index.get("cost", [None])[0],
                )
            )
        for issue, name, index in found:
            self._log(log, number, issue, name, index)
        if has_error:
            if self.options.on_invalid is not None:
                self.options.on_invalid(number, out.get("id", ""))
            return None, bool(found)
        if self.options.hash_pii:
            for raw, hashed in (("emails", "emails_md5"), ("phones", "phones_md5")):
                if raw in out:
                    digests = [rules.md5_hex(v) for v in out.pop(raw).split(",")]
                    if out.get(hashed):
                        digests = [out[hashed], *digests]
                    out[hashed] = ",".join(digests)
        return [out.get(c, "") for c in self.columns], bool(found)

    def _memo_field(
        self,
        name: str,
        cells: list[tuple[int, Any]],
        found: list[tuple[rules.Issue, str, int]],
        memo: dict[tuple, tuple[str, list]],
    ) -> str:
        # The rules are pure functions of the cells: text cells key the memo (an
        # Excel 1 and True are equal but read differently).
        if not all(value.__class__ is str for _, value in cells):
            return self._field(name, cells, found)
        key = (name, *cells)
        hit = memo.get(key)
        if hit is None:
            start = len(found)
            result = self._field(name, cells, found)
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            hit = memo[key] = (result, found[start:])
        else:
            found.extend(hit[1])
        return hit[0]

    def _log(
        self,
        log: ProblemLog,
        number: int,
        issue: rules.Issue,
        name: str,
        index: int | None,
    ) -> None:
        from .report import Problem

        if issue.code == "status_unmapped":
            self.unmapped_statuses[status_key(issue.value)] += 1
        if log.full:
            log.count(issue.code, 1)
            return
        column = self.source_column(index) if index is not None else ""
        params = dict(issue.params)  # issues may be shared through a memo
        log.add(Problem(issue.code, number, column, name, issue.value, params))

    def source_column(self, index: int) -> str:
        for name, indexes in self.index.items():
            if index in indexes:
                return self.mapping.fields[name][indexes.index(index)]
        return ""

    def _field(
        self,
        name: str,
        cells: list[tuple[int, Any]],
        found: list[tuple[rules.Issue, str, int]],
    ) -> str:
        if name in LIST_FIELDS:
            items: list[str] = []
            for index, value in cells:
                text, issues = rules.clean_text(value)
                found.extend((i, name, index) for i in issues)
                for item in rules.split_list(
                    text, spaces=name != "phones" and name != "goals"
                ):
                    normal, more = _LIST_RULES[name](item, self.options.region)
                    found.extend((i, name, index) for i in more)
                    if normal is not None and normal not in items:
                        items.append(normal)
            return ",".join(items)
        index, value = cells[0]
        if name == "create_date_time":
            normal, issues = rules.normalize_date(value, self.ctx)
            found.extend((i, name, index) for i in issues)
            return normal or ""
        text, issues = rules.clean_text(value)
        found.extend((i, name, index) for i in issues)
        if name in ("id", "client_uniq_id"):
            found.extend((i, name, index) for i in rules.check_plain(text, name))
            if name == "id" and not text:
                found.append((rules.Issue("id_missing", "", {}), name, index))
            return text
        if not text:
            return ""
        if name == "order_status":
            status = self.options.statuses.lookup(text)
            if status is None:
                found.append((rules.Issue("status_unmapped", text, {}), name, index))
                return ""
            return status
        if name in ("revenue", "cost"):
            normal, issues = rules.normalize_money(value)
        else:
            normal, issues = rules.normalize_currency(text)
        found.extend((i, name, index) for i in issues)
        return normal or ""

    def finish(self, log: ProblemLog) -> None:
        """Fill in the row counts of unmapped statuses, known only at the end."""
        for problem in log.kept:
            if problem.code == "status_unmapped":
                problem.params["count"] = self.unmapped_statuses[
                    status_key(problem.value)
                ]


# Distinct cells remembered by a memo before it starts over: bounded memory.
_MEMO_SIZE = 4096
_WARN = frozenset(
    {"id_missing", "cost_above_revenue", "date_older_than_90_days", "value_repaired"}
)
_LIST_RULES: dict[str, Callable[[str, str], tuple[str | None, list]]] = {
    "client_ids": lambda v, _r: rules.normalize_client_id(v),
    "emails": lambda v, _r: rules.normalize_email(v),
    "phones": rules.normalize_phone,
    "emails_md5": lambda v, _r: rules.normalize_md5(v),
    "phones_md5": lambda v, _r: rules.normalize_md5(v),
    "goals": lambda v, _r: rules.normalize_goal(v),
}


def process(
    source: Any,
    mapping: Mapping,
    options: Options | None = None,
    *,
    output: str | Path | IO[bytes] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Run the whole pipeline and write the file to submit (valid rows only).

    ``output`` is a path, a binary file object or None (validate only). With
    ``options.part_size`` the output path is split into ``NAME.partNNN.csv`` files.
    ``progress(rows_done, fraction_of_input)`` is called every
    ``options.progress_every`` rows.
    """
    options = options or Options()
    if options.part_size is not None and not isinstance(output, str | Path):
        raise ValueError("parts need an output path")
    engine = RowRules(source, mapping, options)
    log = ProblemLog(options.max_problems)
    report = Report(
        source=source.describe(), mapping=mapping.to_dict(), columns=engine.columns
    )
    id_index = engine.columns.index("id") if "id" in engine.columns else None
    with temp_workdir() as tmp:
        workdir = Path(tmp)
        writer = MetrikaWriter(
            output, engine.columns, part_size=options.part_size, workdir=workdir
        )
        tracker = DuplicateTracker(workdir)
        next_progress = options.progress_every
        batches = source.iter_batches(fast=options.fast)
        fast = None
        steps: Iterator[tuple[Any, Any]] = ((batch, None) for batch in batches)
        if options.fast:
            from .fast import FastRules

            fast = FastRules(engine)
            steps = fast.ahead(batches)
        for batch, checked in steps:
            if fast is not None:
                fast.run(batch, checked, log, report, writer, tracker, id_index)
            else:
                _reference_batch(
                    engine, batch.rows, log, report, writer, tracker, id_index
                )
            if progress and report.rows_total >= next_progress:
                progress(report.rows_total, batch.consumed)
                next_progress = report.rows_total + options.progress_every
        id_column = mapping.fields.get("id", [""])[0]
        drop = tracker.finish(log, options.duplicates, id_column)
        report.rows_dropped_duplicates = len(drop)
        report.parts = writer.finish(drop)
        report.rows_written = writer.rows - len(drop)
    engine.finish(log)
    log.kept.sort(key=lambda p: p.row)
    report.counts = dict(log.counts)
    report.problems = log.kept
    if progress:
        progress(report.rows_total, 1.0)
    return report


def validate(
    source: Any,
    mapping: Mapping,
    options: Options | None = None,
    *,
    progress: Progress | None = None,
) -> Report:
    """Check every row without writing the file to submit."""
    return process(source, mapping, options, output=None, progress=progress)


def _reference_batch(
    engine: RowRules,
    rows: list[tuple[int, list[Any]]],
    log: ProblemLog,
    report: Report,
    writer: MetrikaWriter,
    tracker: DuplicateTracker,
    id_index: int | None,
) -> None:
    good: list[tuple[int, list[str]]] = []
    for number, values in rows:
        if not any(v not in ("", None) for v in values):
            continue
        report.rows_total += 1
        out, warned = engine.apply(number, values, log)
        report.rows_with_warnings += warned
        if out is None:
            report.rows_invalid += 1
        else:
            report.rows_valid += 1
            good.append((number, out))
    writer.write_rows(good)
    if id_index is not None:
        tracker.add([n for n, _ in good], [v[id_index] for _, v in good])


class DuplicateTracker:
    """Find order ids that occur more than once, in bounded memory.

    Pairs of (row, id) are spilled to hash partitions on disk; at the end each
    partition is grouped on its own, so memory holds 1/16 of the ids at a time.
    """

    PARTITIONS = 16
    # Pairs held before a spill: a few MB, and 16 small writes per spill rather
    # than per batch.
    SPILL_ROWS = 250_000

    def __init__(self, workdir: Path) -> None:
        self._dir = workdir
        self._files = [
            (workdir / f"ids{i:02d}.csv").open("ab") for i in range(self.PARTITIONS)
        ]
        self._held: list[Any] = []
        self._held_rows = 0
        self.count = 0

    def add(self, rows: list[int], ids: list[str]) -> None:
        """Remember the ids of written rows (empty ids are not tracked)."""
        import polars as pl

        if not rows:
            return
        frame = pl.DataFrame(
            {"row": rows, "id": ids}, schema={"row": pl.UInt32, "id": pl.String}
        )
        self.add_frame(frame)

    def add_frame(self, frame: Any) -> None:
        import polars as pl

        frame = frame.filter(pl.col("id").is_not_null() & (pl.col("id") != ""))
        if frame.is_empty():
            return
        self.count += frame.height
        self._held.append(frame)
        self._held_rows += frame.height
        if self._held_rows >= self.SPILL_ROWS:
            self._spill()

    def _spill(self) -> None:
        import polars as pl

        if not self._held:
            return
        frame = pl.concat(self._held)
        self._held, self._held_rows = [], 0
        part = (frame["id"].hash(seed=7) % self.PARTITIONS).cast(pl.UInt8)
        for (index,), piece in frame.with_columns(part=part).group_by(
            "part", maintain_order=True
        ):
            piece.drop("part").write_csv(self._files[index], include_header=False)

    def _partitions(self) -> Iterator[Any]:
        """Yield frames of (row, id) in which every id has all its rows: the held
        pairs when nothing was spilled, else each partition read back."""
        import polars as pl

        spilled = self.count > self._held_rows
        if spilled:
            self._spill()
        for fh in self._files:
            fh.close()
        if not spilled:
            if self._held:
                yield pl.concat(self._held)
            return
        for i in range(self.PARTITIONS):
            path = self._dir / f"ids{i:02d}.csv"
            if path.stat().st_size:
                yield pl.read_csv(
                    path,
                    has_header=False,
                    schema={"row": pl.UInt32, "id": pl.String},
                    quote_char='"',
                )

    def finish(self, log: ProblemLog, policy: str, column: str) -> set[int]:
        """Log a warning on every repeated id; return the rows the policy drops."""
        import polars as pl

        from .report import Problem

        groups: list[tuple[str, list[int]]] = []
        for frame in self._partitions():
            dup = frame.filter(pl.col("id").is_duplicated())
            if dup.is_empty():
                continue
            for ident, rows in dup.group_by("id").agg(pl.col("row").sort()).iter_rows():
                groups.append((ident, rows))
        drop: set[int] = set()
        groups.sort(key=lambda g: g[1][0])
        for ident, rows in groups:
            for row in rows[1:]:
                log.add(
                    Problem(
                        "id_duplicate",
                        row,
                        column,
                        "id",
                        ident,
                        {"other_row": rows[0]},
                    )
                )
            if policy == KEEP_FIRST:
                drop.update(rows[1:])
            elif policy == KEEP_LAST:
                drop.update(rows[:-1])
        return drop


__all__ = [
    "KEEP_ALL",
    "KEEP_FIRST",
    "KEEP_LAST",
    "Options",
    "RowRules",
    "output_columns",
    "process",
    "validate",
]
