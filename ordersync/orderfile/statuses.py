"""CRM order statuses mapped to Metrika's four: PAID, IN_PROGRESS, CANCELLED, SPAM."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .sniff import CSV

PAID = "PAID"
IN_PROGRESS = "IN_PROGRESS"
CANCELLED = "CANCELLED"
SPAM = "SPAM"
STATUSES = (PAID, IN_PROGRESS, CANCELLED, SPAM)

BUILTIN: dict[str, tuple[str, ...]] = {
    PAID: (
        "paid", "оплачен", "оплачено", "оплачена", "оплата", "оплата получена",
        "выполнен", "выполнено", "выполнена", "завершен", "завершено", "завершена",
        "успешно реализовано", "успешно", "продажа", "completed", "complete",
        "done", "success", "won", "closed won",
    ),
    IN_PROGRESS: (
        "in progress", "inprogress", "new", "новый", "новая", "новое",
        "в работе", "в обработке", "обрабатывается", "принят", "принята",
        "создан", "создана", "ожидает оплаты", "pending", "processing", "open",
    ),
    CANCELLED: (
        "cancelled", "canceled", "отменен", "отменена", "отменено", "отмена",
        "отказ", "закрыто и не реализовано", "не реализовано", "declined", "lost",
        "closed lost",
    ),
    SPAM: ("spam", "спам", "мусор", "junk", "fake", "фейк"),
}  # fmt: skip

_SPACES = re.compile(r"[\s_\-]+")


def status_key(raw: str) -> str:
    """Return the comparison key of a status: case, ё, spacing and dots ignored."""
    text = raw.replace("\u0451", "\u0435").replace("\u0401", "\u0415").casefold()
    return _SPACES.sub(" ", text).strip(" .!")


class StatusDictionary:
    """Map raw CRM statuses to Metrika statuses: built-ins plus the user's own."""

    def __init__(self, custom: Mapping[str, str] | None = None) -> None:
        self._map: dict[str, str] = {}
        for status, words in BUILTIN.items():
            self._map[status_key(status)] = status
            for word in words:
                self._map[status_key(word)] = status
        self.custom: dict[str, str] = {}
        for raw, status in (custom or {}).items():
            self.add(raw, status)

    def add(self, raw: str, status: str) -> None:
        """Map ``raw`` to ``status`` (one of PAID, IN_PROGRESS, CANCELLED, SPAM)."""
        status = status.strip().upper()
        if status not in STATUSES:
            raise ValueError(f"unknown Metrika status {status!r}")
        self.custom[raw] = status
        self._map[status_key(raw)] = status

    def lookup(self, raw: str) -> str | None:
        """Return the Metrika status for ``raw``, "" for an empty one, or None."""
        key = status_key(raw)
        if not key:
            return ""
        return self._map.get(key)

    def to_dict(self) -> dict[str, str]:
        """Return the user's additions as plain JSON."""
        return dict(self.custom)

    @classmethod
    def from_dict(cls, data: Mapping[str, str] | None) -> StatusDictionary:
        """Build a dictionary from :meth:`to_dict` output."""
        return cls(data)


def count_statuses(
    source: Any, column: str, dictionary: StatusDictionary | None = None
) -> list[dict[str, Any]]:
    """Count the distinct raw values of the status ``column`` in ``source``.

    Return one dict per value, most frequent first: ``value`` (as first seen),
    ``rows`` and ``status`` (the Metrika status it maps to, "" or None).
    """
    dictionary = dictionary or StatusDictionary()
    index = source.columns.index(column)
    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    # CSV frames hold exactly the cells csv.reader gives; workbook cells keep
    # their types here, so workbooks are read row by row.
    for batch in source.iter_batches(fast=getattr(source, "kind", None) == CSV):
        if batch.frame is not None:
            # polars counts equal cells, first seen first; the key is then taken
            # once per distinct cell.
            cells = batch.frame.get_column(f"c{index}").fill_null("").to_frame("v")
            seen = cells.group_by("v", maintain_order=True).len().iter_rows()
        else:
            seen = (
                (values[index] if index < len(values) else "", 1)
                for _, values in batch.rows
            )
        for raw, rows in seen:
            text = raw.strip() if isinstance(raw, str) else str(raw)
            key = status_key(text)
            counts[key] += rows
            spelling.setdefault(key, text)
    return [
        {
            "value": spelling[key],
            "rows": rows,
            "status": dictionary.lookup(spelling[key]),
        }
        for key, rows in counts.most_common()
    ]


def distinct_statuses(values: Iterable[str]) -> Counter[str]:
    """Count raw values by their comparison key."""
    return Counter(status_key(v) for v in values)
