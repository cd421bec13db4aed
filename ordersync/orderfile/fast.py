"""The vectorised fast path: polars expressions for the common value shapes.

Each field's expression recognises only shapes whose normalisation is obviously the
same as the reference rules in ``rules.py`` (``+7 (912) 345-67-89``, ``1 234,50``,
``10.01.2024 11:56``...). A row with any other value, any error or any repair is
sent to :class:`RowRules` untouched, so results are identical by construction; the
tests in ``tests/orderfile/test_fast.py`` check that on messy data.
"""

from __future__ import annotations

import datetime as dt
import io
from array import array
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from operator import itemgetter
from typing import Any, NamedTuple

import polars as pl

from . import rules
from .mapping import IDENTIFIER_FIELDS
from .reader import Batch, cell_to_text
from .report import ProblemLog, Report

_PLAIN = r"^[!-~](?:[ -~]*[!-~])?$"
_EMAIL = (
    r"[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*"
    r"\.[a-z]{2,}"
)
_GOAL = r"[A-Za-z0-9_.\-]{1,100}(?::\d{1,15}(?:\.\d{1,6})?)?"
_MD5 = r"[0-9a-fA-F]{32}"


def _two_items(text: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Return (has a comma, first item, the rest) of a list cell.

    Lists are rare: the items are cut only where there is a comma (null
    elsewhere, which costs next to nothing), and not split: splitting costs more
    than the rules.
    """
    comma = text.str.contains(",", literal=True)
    two = pl.when(comma).then(text)
    cut = two.str.find(",", literal=True)
    return comma, two.str.slice(0, cut), two.str.slice(cut + 1)


def _unique_items(text: pl.Expr) -> pl.Expr:
    # One item, or two different ones; longer lists go to the reference.
    comma, first, rest = _two_items(text)
    two = ~rest.str.contains(",", literal=True) & (first != rest)
    return pl.when(comma).then(two).otherwise(True)


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr != "").then(expr)


def _shown(raw: Any) -> str:
    # The value rules.normalize_date quotes in its warnings.
    if isinstance(raw, dt.datetime):
        return raw.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return rules.clean_text(raw)[0]


class Checked(NamedTuple):
    """What :meth:`FastRules.check` found in a batch."""

    frame: pl.DataFrame
    warnings: list[str]
    originals: dict[int, list[Any]] | None  # Python rows, by row number


class FastRules:
    """Run a batch through polars, and its unusual rows through the reference."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.options = engine.options
        self.russian = self.options.region in ("RU", "KZ")
        now = engine.ctx.now
        self.now = now
        self.today = now.date()
        self.oldest = self.today - dt.timedelta(days=90)
        self._stage: list[dict[str, pl.Expr]] = [{}, {}, {}]
        self._memo: dict[tuple, tuple[str, list]] = {}

    # -- expressions, one per field: (normalised value, ok flag)

    def _pre(self, name: str, expr: pl.Expr, level: int = 0) -> pl.Expr:
        # Intermediate columns are computed once before the rules that share
        # them; polars would otherwise evaluate them once per use. A column may
        # use those of lower levels.
        self._stage[level][f"_{name}"] = expr
        return pl.col(f"_{name}")

    def _cell(self, index: int) -> pl.Expr:
        return pl.col(f"c{index}").fill_null("")

    def _plain(self, index: int) -> tuple[pl.Expr, pl.Expr]:
        s = self._cell(index)
        ok = (s == "") | (s.str.contains(_PLAIN) & (s.str.len_chars() <= 100))
        return s, ok

    def _date(self, index: int) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
        s = self._cell(index)
        shape = s.str.contains(
            # Seconds stop at 59: polars reads a leap second ":60" as the next
            # minute, where the reference refuses it.
            r"^(?:\d{4}-\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4})(?: \d{2}:\d{2}(?::[0-5]\d)?)?$"
            r"|^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(?:Z|[+-]\d{2}:\d{2})$"
        )
        # The shapes above without an offset are rewritten into "YYYY-MM-DD
        # HH:MM:SS" in one concatenation (a dotted date's parts sit at other
        # offsets; a missing time takes the tail of " 00:00:00") and parsed once:
        # the same datetime as parsing each with its own format, for a fraction of
        # the cost. That text is also the output, so no strftime is needed.
        size = s.str.len_bytes().cast(pl.Int32)
        has_time = size > 10
        dot = (s.str.slice(2, 1) == ".").cast(pl.Int32)
        full = self._pre(
            f"f{index}",
            pl.concat_str(
                s.str.slice(6 * dot, 4),
                pl.lit("-"),
                s.str.slice(5 - 2 * dot, 2),
                pl.lit("-"),
                s.str.slice(8 - 8 * dot, 2),
                s.str.slice(10),
                pl.lit(" 00:00:00").str.slice((size - 10).clip(0)),
            ),
        )
        # ISO with an offset (the only shape longer than 19) is moved into the
        # counter's zone, as rules.py does; other rows are null here, which costs
        # polars next to nothing.
        zoned = self._pre(
            f"z{index}",
            pl.when(size > 19)
            .then(s)
            .str.replace(r"Z$", "+00:00")
            .str.strptime(
                pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%:z", strict=False
            )
            .dt.convert_time_zone(self.options.timezone)
            .dt.replace_time_zone(None),
        )
        parsed = self._pre(
            f"p{index}",
            pl.coalesce(
                full.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False),
                zoned,
            ),
            1,
        )
        # Dates without a time compare at midnight: "day > today" and "day <
        # oldest" without taking the date part of every value.
        tomorrow = dt.datetime.combine(self.today + dt.timedelta(days=1), dt.time())
        oldest = dt.datetime.combine(self.oldest, dt.time())
        future = pl.when(has_time).then(parsed > self.now).otherwise(parsed >= tomorrow)
        ok = (
            shape & parsed.is_not_null() & (parsed >= dt.datetime(1970, 1, 1)) & ~future
        )
        text = (
            pl.when(size > 19)
            .then(zoned.dt.strftime("%Y-%m-%d %H:%M:%S"))
            .when(has_time)
            .then(full)
            .otherwise(full.str.slice(0, 10))
        )
        old = ok & (parsed < oldest)
        return text, ok.fill_null(False), old.fill_null(False)

    def _client_ids(self, index: int) -> tuple[pl.Expr, pl.Expr]:
        s = self._cell(index)
        shape = s.str.contains(r"^[1-9]\d{0,19}(?:,[1-9]\d{0,19})?$")
        comma, first, second = _two_items(s)

        def fits(item: pl.Expr) -> pl.Expr:
            # Digits without a leading zero: u64 takes exactly 1..MAX_CLIENT_ID.
            return item.cast(pl.UInt64, strict=False).is_not_null()

        items = (
            pl.when(comma)
            .then(fits(first) & fits(second) & (first != second))
            .otherwise(fits(s))
        )
        return s, (s == "") | (shape & items).fill_null(False)

    def _emails(self, index: int) -> tuple[pl.Expr, pl.Expr]:
        s = self._pre(f"s{index}", self._cell(index).str.strip_chars())
        text = self._pre(
            f"e{index}", s.str.to_lowercase().str.replace(r"\s*[,;]\s*", ","), 1
        )
        shape = text.str.contains(f"^{_EMAIL}(?:,{_EMAIL})?$") & (
            s.str.len_bytes() <= 254
        )
        ok = (s == "") | (shape & _unique_items(text))
        return text, ok.fill_null(False)

    def _phones(self, index: int) -> tuple[pl.Expr, pl.Expr]:
        # One phone per cell here; several in one cell go to the reference. The
        # shapes taken are those the reference turns into 7 and the last ten
        # digits without phonenumbers: +7, 7 or 8 (Russian region only) before
        # ten digits, or ten digits starting with 9 (Russian region only).
        s = self._pre(f"s{index}", self._cell(index).str.strip_chars())
        compact = self._pre(f"n{index}", s.str.replace_all(r"[ ()\-]", ""), 1)
        if self.russian:
            shape = r"^(?:(?:\+7|[78])[3-9]\d{9}|9\d{9})$"
        else:
            shape = r"^\+7[3-9]\d{9}$"
        # The reference reads "+" only as the first character: "(+7) 912..." is
        # not a phone there.
        plus = compact.str.starts_with("+") & ~s.str.starts_with("+")
        normal = pl.when(s != "").then(pl.lit("7") + compact.str.slice(-10))
        ok = (s == "") | (
            compact.str.contains(shape) & ~plus & (s.str.len_bytes() <= 32)
        )
        return normal.fill_null(""), ok.fill_null(False)

    def _money(self, index: int) -> tuple[pl.Expr, pl.Expr]:
        s = self._pre(f"s{index}", self._cell(index).str.strip_chars())
        # Empty, plain ("1234.5"), grouped ("1 234,50") or a decimal comma
        # ("1234,5"), in one regex: one pass over the text instead of three.
        ok = s.str.contains(
            r"^(?:(?:0|[1-9]\d*)(?:\.\d+)?"
            r"|[1-9]\d{0,2}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?"
            r"|(?:0|[1-9]\d*),\d{1,2})?$"
        )
        text = s.str.replace_all(r"[ \u00a0\u202f]", "").str.replace(",", ".")
        # Cost and revenue are compared as floats here, as decimals there: the same
        # order for at most 15 digits.
        return text, ok & (s.str.len_bytes() <= 15)

    def _goals(self, index: int) -> tuple[pl.Expr, pl.Expr]:
        s = self._cell(index)
        ok = (s == "") | (s.str.contains(f"^{_GOAL}(?:,{_GOAL})?$") & _unique_items(s))
        return s, ok

    def _md5(self, index: int) -> tuple[pl.Expr, pl.Expr]:
        s = self._cell(index)
        ok = (s == "") | (s.str.contains(f"^{_MD5}(?:,{_MD5})?$") & _unique_items(s))
        return s.str.to_lowercase(), ok

    def _lookup(
        self, frame: pl.DataFrame, index: int, name: str
    ) -> tuple[pl.Expr, pl.Expr]:
        # Few distinct values: apply the reference rule once per value.
        s = self._cell(index)
        values = frame.get_column(f"c{index}").fill_null("").unique().to_list()
        table: dict[str, str] = {}
        for value in values:
            text, issues = rules.clean_text(value)
            if issues:
                continue
            if not text:
                table[value] = ""
            elif name == "order_status":
                status = self.options.statuses.lookup(text)
                if status is not None:
                    table[value] = status
            else:
                normal, more = rules.normalize_currency(text)
                if normal is not None and not more:
                    table[value] = normal
        mapped = s.replace_strict(
            list(table), list(table.values()), default=None, return_dtype=pl.String
        )
        return mapped, mapped.is_not_null()

    # -- running a batch

    def ahead(self, batches: Iterable[Batch]) -> Iterator[tuple[Batch, Checked]]:
        """Yield each batch with its :meth:`check`, checking the next batch in a
        thread meanwhile: polars works there while Python reads the file and runs
        the unusual rows of the previous batch.
        """
        with ThreadPoolExecutor(1, thread_name_prefix="orderfile") as pool:
            pending: tuple[Batch, Future[Checked]] | None = None
            for batch in batches:
                future = pool.submit(self.check, batch)
                if pending is not None:
                    yield pending[0], pending[1].result()
                pending = (batch, future)
            if pending is not None:
                yield pending[0], pending[1].result()

    def check(self, batch: Batch) -> Checked:
        """Run the batch's expressions: flags, warnings and values of every row.

        Calls do not overlap (``ahead`` has one thread); nothing here touches
        what :meth:`run` uses.
        """
        if batch.frame is not None:
            originals = None
            data = list(batch.frame.columns)
            rows = pl.int_range(0, batch.frame.height, dtype=pl.UInt32)
            frame = batch.frame.with_columns(
                _row=(rows + batch.first_row).cast(pl.UInt32), _force=pl.lit(False)
            )
            plan = frame.lazy().filter(
                ~pl.all_horizontal(
                    [pl.col(c).is_null() | (pl.col(c) == "") for c in data]
                )
            )
        else:
            frame, originals = self._frame_from_rows(batch.rows, batch.nonempty)
            plan = frame.lazy()
        self._stage = [{}, {}, {}]
        out, oks, warnings = self._expressions(frame)
        for stage in self._stage:
            if stage:
                plan = plan.with_columns(**stage)
        checked = plan.select(
            "_row",
            "_force",
            **{f"k_{name}": pl.all_horizontal(flags) for name, flags in oks.items()},
            **{f"w_{code}": flag for code, flag in warnings.items()},
            **{f"o_{name}": expr for name, expr in out.items()},
        )
        ok = pl.all_horizontal([pl.col(f"k_{name}") for name in oks])
        checked = checked.with_columns(ok=ok).with_columns(
            pl.col(f"w_{code}") & pl.col("ok") for code in warnings
        )
        warned = pl.any_horizontal([pl.col(f"w_{c}") for c in warnings])
        checked = checked.with_columns(
            warned=warned,
            problems=(~pl.col("ok") | warned).cast(pl.UInt32).cum_sum(),
        )
        return Checked(checked.collect(), list(warnings), originals)

    def run(
        self,
        batch: Batch,
        found: Checked,
        log: ProblemLog,
        report: Report,
        writer: Any,
        tracker: Any,
        id_index: int | None,
    ) -> None:
        """Process one checked batch: log problems, write, track ids."""
        checked, warnings, originals = found
        if checked.is_empty():
            return
        # Rows with warnings go through the reference while the problem list has
        # room for them; past it, their warnings are only counted.
        slow = ~pl.col("ok")
        if room := log.room:
            slow = slow | (pl.col("warned") & (pl.col("problems") <= room))
        checked = checked.with_columns(slow=slow)
        fast = ~pl.col("slow")
        counts = checked.select(
            rows=fast.sum(),
            warned=(pl.col("warned") & fast).sum(),
            **{code: (pl.col(f"w_{code}") & fast).sum() for code in warnings},
        ).row(0, named=True)
        for code in warnings:
            log.count(code, counts[code])
        report.rows_with_warnings += counts["warned"]
        report.rows_total += counts["rows"]
        report.rows_valid += counts["rows"]
        report.fast_rows += counts["rows"]

        slow = checked.filter(pl.col("slow"))
        slow_out: list[tuple[int, list[str]]] = []
        if not slow.is_empty():
            numbers = slow.get_column("_row").to_list()
            if originals is None:
                wanted = batch.frame[[n - batch.first_row for n in numbers]]
                originals = {
                    n: ["" if v is None else v for v in r]
                    for n, r in zip(numbers, wanted.iter_rows(), strict=True)
                }
            known = self._known(slow, originals)
            for number in numbers:
                report.rows_total += 1
                result, warned = self.engine.apply(
                    number, originals[number], log, known.get(number), self._memo
                )
                report.rows_with_warnings += warned
                if result is None:
                    report.rows_invalid += 1
                else:
                    report.rows_valid += 1
                    slow_out.append((number, result))

        columns = self.engine.columns
        # The CSV writer quotes an empty string; a null is written as nothing, as
        # csv.writer writes "".
        outputs = [self._output(name).alias(name) for name in columns]
        if not self.options.hash_pii:
            outputs = [_blank_to_null(e) for e in outputs]
        good = checked.lazy().filter(fast).select("_row", *outputs).collect()
        if self.options.hash_pii:
            good = self._hash(good).select(
                "_row", *[_blank_to_null(pl.col(c)) for c in columns]
            )
        if slow_out:
            extra = pl.DataFrame(
                {
                    "_row": [n for n, _ in slow_out],
                    **{
                        name: [v[i] or None for _, v in slow_out]
                        for i, name in enumerate(columns)
                    },
                },
                schema={"_row": pl.UInt32, **dict.fromkeys(columns, pl.String)},
            )
            good = good.merge_sorted(extra, key="_row")
        if good.is_empty():
            return
        body = io.BytesIO()
        good.drop("_row").write_csv(
            body, include_header=False, null_value="", line_terminator="\n"
        )
        numbers = array("I", good.get_column("_row").to_list())
        writer.write_block(body.getvalue(), numbers)
        if id_index is not None:
            tracker.add_frame(good.select(row="_row", id=pl.col("id")))

    def _known(
        self, slow: pl.DataFrame, originals: dict[int, list[Any]]
    ) -> dict[int, dict[str, tuple[str, Sequence[rules.Issue]]]]:
        """Return, per slow row, the fields the fast path already got right.

        Only the other fields go through the reference rules, with the reference's
        row checks on top; a fast field carries the warnings it would have there.
        """
        names = list(self.engine.index)
        width = len(names)
        columns = [f"k_{n}" for n in names] + [f"o_{n}" for n in names]
        known: dict[int, dict[str, tuple[str, Sequence[rules.Issue]]]] = {}
        for row in slow.select("_row", "_force", *columns).iter_rows():
            if not row[1]:
                flags, values = row[2 : 2 + width], row[2 + width :]
                known[row[0]] = {
                    n: (v, ())
                    for n, f, v in zip(names, flags, values, strict=True)
                    if f
                }
        # The warnings a known field would get in the reference.
        usable = ~pl.col("_force")
        if "id" in names:
            missing = usable & pl.col("k_id") & (pl.col("o_id") == "")
            for number in slow.filter(missing).get_column("_row"):
                known[number]["id"] = ("", [rules.Issue("id_missing", "", {})])
        if "create_date_time" in names:
            name, index = "create_date_time", self.engine.index["create_date_time"][0]
            old = pl.col(f"o_{name}").str.slice(0, 10) < self.oldest.isoformat()
            for number, value in (
                slow.filter(usable & pl.col(f"k_{name}") & old)
                .select("_row", f"o_{name}")
                .iter_rows()
            ):
                # A date the fast path took is the text it shows, untouched.
                raw = originals[number][index]
                shown = raw if raw.__class__ is str else _shown(raw)
                issue = rules.Issue("date_older_than_90_days", shown, {})
                known[number][name] = (value, [issue])
        return known

    def _output(self, name: str) -> pl.Expr:
        if name in self.engine.constants:
            return pl.lit(self.engine.constants[name], dtype=pl.String)
        if self.options.hash_pii and name in ("emails_md5", "phones_md5"):
            raw = name[:-4]
            if raw in self.engine.index:
                # "given hashes \x1f raw values"; _hash() turns it into digests.
                given = (
                    pl.col(f"o_{name}")
                    if name in self.engine.index
                    else pl.lit("", dtype=pl.String)
                )
                return pl.concat_str([given, pl.col(f"o_{raw}")], separator="\x1f")
        if name not in self.engine.index:
            return pl.lit("", dtype=pl.String)
        return pl.col(f"o_{name}")

    def _hash(self, good: pl.DataFrame) -> pl.DataFrame:
        # hashlib has no polars counterpart; values are hashed once each, here.
        updates = {}
        for name in ("emails_md5", "phones_md5"):
            raw = name[:-4]
            if name not in good.columns or raw not in self.engine.index:
                continue
            hashed = []
            for value in good.get_column(name).to_list():
                given, _, plain = value.partition("\x1f")
                digests = [rules.md5_hex(v) for v in plain.split(",")] if plain else []
                hashed.append(",".join([given, *digests] if given else digests))
            updates[name] = pl.Series(name, hashed, dtype=pl.String)
        return good.with_columns(**updates) if updates else good

    def _expressions(
        self, frame: pl.DataFrame
    ) -> tuple[dict[str, pl.Expr], dict[str, list[pl.Expr]], dict[str, pl.Expr]]:
        out: dict[str, pl.Expr] = {}
        oks: dict[str, list[pl.Expr]] = {}
        warnings: dict[str, pl.Expr] = {}
        for name, indexes in self.engine.index.items():
            if len(indexes) > 1:
                parts = [self._one(frame, name, i) for i in indexes]
                texts = [_blank_to_null(t) for t, _, _ in parts]
                joined = pl.concat_str(texts, separator=",", ignore_nulls=True)
                out[name] = self._pre(f"o_{name}", joined.fill_null(""), 2)
                oks[name] = [ok for _, ok, _ in parts]
                oks[name].append(_unique_items(out[name]))
                continue
            text, ok, old = self._one(frame, name, indexes[0])
            # Outputs are also read by the row checks below: one column each.
            out[name] = self._pre(f"o_{name}", text, 2)
            oks[name] = [ok]
            if name == "id":
                warnings["id_missing"] = self._cell(indexes[0]) == ""
            if old is not None:
                warnings["date_older_than_90_days"] = old
        identifiers = [out[f] != "" for f in IDENTIFIER_FIELDS if f in out] or [
            pl.lit(False)
        ]
        constants_identify = any(f in self.engine.constants for f in IDENTIFIER_FIELDS)
        oks[""] = [pl.any_horizontal(identifiers) | pl.lit(constants_identify)]
        if "cost" in out and "revenue" in out:
            cost = out["cost"].cast(pl.Float64, strict=False)
            revenue = out["revenue"].cast(pl.Float64, strict=False)
            warnings["cost_above_revenue"] = (cost > revenue).fill_null(False)
        oks["_force"] = [~pl.col("_force")]
        return out, oks, warnings

    def _one(
        self, frame: pl.DataFrame, name: str, index: int
    ) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
        if name == "create_date_time":
            return self._date(index)
        if name in ("id", "client_uniq_id"):
            return (*self._plain(index), None)
        if name in ("order_status", "currency"):
            return (*self._lookup(frame, index, name), None)
        method = {
            "client_ids": self._client_ids,
            "emails": self._emails,
            "phones": self._phones,
            "revenue": self._money,
            "cost": self._money,
            "goals": self._goals,
            "emails_md5": self._md5,
            "phones_md5": self._md5,
        }[name]
        return (*method(index), None)

    def _frame_from_rows(
        self, rows: list[tuple[int, list[Any]]], nonempty: bool = False
    ) -> tuple[pl.DataFrame, dict[int, list[Any]]]:
        indexes = sorted({i for ix in self.engine.index.values() for i in ix})
        width = self.engine.width
        formula_rows = {r for r, _ in self.engine.formulas}
        kept = (
            rows
            if nonempty
            else [(n, v) for n, v in rows if len(v) != v.count("") + v.count(None)]
        )
        originals = dict(kept)
        numbers = list(originals)
        cells = list(originals.values())
        lengths = list(map(len, cells))
        # Extra values past the header and formulas without a result are errors
        # only the reference reports.
        if not formula_rows and (not lengths or max(lengths) <= width):
            force = [False] * len(kept)
        else:
            force = [
                n in formula_rows
                or (
                    len(v) > width
                    and any(str(x).strip() for x in v[width:] if x is not None)
                )
                for n, v in kept
            ]
        columns: dict[str, list[str]] = {}
        need = indexes[-1] + 1
        if not lengths or min(lengths) >= need:
            # One pass over the rows picks every mapped cell.
            picked = list(map(itemgetter(*indexes), cells))
            if len(indexes) == 1:
                picked = [(cell,) for cell in picked]
            cells_by_column = list(zip(*picked, strict=True)) or [()] * len(indexes)
        else:
            cells_by_column = [
                [v[i] if i < len(v) else "" for v in cells] for i in indexes
            ]
        for i, column in zip(indexes, cells_by_column, strict=True):
            if set(map(type, column)) <= {str}:
                columns[f"c{i}"] = list(column)  # text cells need no conversion
            else:
                columns[f"c{i}"] = [
                    x if x.__class__ is str else cell_to_text(x) for x in column
                ]
        frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
        frame = frame.with_columns(
            _row=pl.Series(numbers, dtype=pl.UInt32),
            _force=pl.Series(force, dtype=pl.Boolean),
        )
        return frame, originals
