"""Which source column feeds which Metrika field, suggested and stored as JSON."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import MappingError

FIELDS = (
    "id",
    "create_date_time",
    "client_uniq_id",
    "client_ids",
    "emails",
    "phones",
    "emails_md5",
    "phones_md5",
    "order_status",
    "revenue",
    "cost",
    "goals",
    "currency",
)
LIST_FIELDS = frozenset(
    {"client_ids", "emails", "phones", "emails_md5", "phones_md5", "goals"}
)
IDENTIFIER_FIELDS = ("client_ids", "emails", "phones", "emails_md5", "phones_md5")
CONSTANT_FIELDS = frozenset({"currency", "order_status", "goals"})

SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": (
        "номер заказа", "№ заказа", "id заказа", "ид заказа", "заказ", "номер",
        "order id", "order", "order number", "order no", "номер сделки", "id сделки",
        "сделка", "deal id", "id",
    ),
    "create_date_time": (
        "дата создания", "дата заказа", "дата", "дата и время", "создан",
        "дата оформления", "created", "created at", "create date", "order date",
        "date", "datetime", "дата создания заказа",
    ),
    "client_uniq_id": (
        "id клиента", "ид клиента", "клиент id", "код клиента", "номер клиента",
        "customer id", "client id", "user id", "contact id", "id контакта",
    ),
    "client_ids": (
        "clientid", "client ids", "yandex clientid", "ym clientid", "_ym_uid",
        "ym uid", "метрика clientid", "clientid метрики", "идентификатор метрики",
    ),
    "emails": ("e-mail", "email", "почта", "эл почта", "электронная почта", "mail",
               "емейл", "имейл"),
    "phones": ("телефон", "тел", "phone", "мобильный", "мобильный телефон",
               "номер телефона", "phone number", "mobile", "контактный телефон"),
    "emails_md5": ("email md5", "md5 email", "хеш email"),
    "phones_md5": ("phone md5", "md5 phone", "хеш телефона"),
    "order_status": ("статус", "статус заказа", "этап", "стадия", "status",
                     "order status", "state", "stage", "этап сделки"),
    "revenue": ("сумма", "сумма заказа", "выручка", "стоимость", "итого", "цена",
                "бюджет", "revenue", "amount", "total", "sum", "price"),
    "cost": ("себестоимость", "затраты", "расходы", "закупка", "cost", "cogs"),
    "goals": ("цели", "цель", "goals", "goal"),
    "currency": ("валюта", "currency", "код валюты"),
}  # fmt: skip

_NUMBERED = re.compile(
    r"^(?:доп\.?\s*|дополнительный\s+|second\s+|alt\s+)?(.*?)\s*\d*$"
)


def _key(name: str) -> str:
    text = name.replace("ё", "е").casefold()
    text = re.sub(r"[\s_\-.:/\\]+", " ", text)
    return text.replace("№", "№ ").replace("  ", " ").strip(" ?*")


_EXACT = {field_name: field_name for field_name in FIELDS}
_LOOKUP: dict[str, str] = {}
for _field, _words in SYNONYMS.items():
    for _word in _words:
        _LOOKUP.setdefault(_key(_word), _field)
for _field in FIELDS:
    _LOOKUP[_key(_field)] = _field


def known_header_score(texts: Sequence[str]) -> int:
    """Return how many of ``texts`` are names of Metrika fields or their synonyms."""
    return sum(1 for text in texts if _match(text, fuzzy=False)[0] is not None)


def _match(column: str, *, fuzzy: bool = True) -> tuple[str | None, float]:
    if column in _EXACT:
        return column, 1.0
    key = _key(column)
    if key in _LOOKUP:
        return _LOOKUP[key], 0.9
    stripped = _key(_NUMBERED.sub(r"\1", key))
    if stripped and stripped in _LOOKUP and _LOOKUP[stripped] in LIST_FIELDS:
        return _LOOKUP[stripped], 0.85
    if not fuzzy:
        return None, 0.0
    best, score = None, 0.0
    for word, field_name in _LOOKUP.items():
        ratio = difflib.SequenceMatcher(None, key, word).ratio()
        if ratio > score:
            best, score = field_name, ratio
    if score >= 0.82:
        return best, round(score * 0.8, 2)
    return None, 0.0


@dataclass
class Mapping:
    """Source columns per Metrika field, constants, and ignored columns.

    ``fields`` maps a field to its source columns (list fields may take several);
    ``constants`` gives a field one value for every row (``{"currency": "RUB"}``);
    ``confidence`` holds the suggestion score per field (0..1).
    """

    fields: dict[str, list[str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    confidence: dict[str, float] = field(default_factory=dict)
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the mapping as plain JSON."""
        return {
            "name": self.name,
            "fields": {k: list(v) for k, v in self.fields.items()},
            "constants": dict(self.constants),
            "ignored": list(self.ignored),
            "confidence": dict(self.confidence),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mapping:
        """Build a mapping from :meth:`to_dict` output, checking its shape."""
        if not isinstance(data, dict):
            raise MappingError("mapping_invalid", detail="not an object")
        fields = data.get("fields", {})
        if not isinstance(fields, dict):
            raise MappingError("mapping_invalid", detail="fields is not an object")
        clean: dict[str, list[str]] = {}
        for name, columns in fields.items():
            if name not in FIELDS:
                raise MappingError("mapping_invalid", detail=f"unknown field {name}")
            if isinstance(columns, str):
                columns = [columns]
            if not isinstance(columns, list) or not all(
                isinstance(c, str) for c in columns
            ):
                raise MappingError("mapping_invalid", detail=f"columns of {name}")
            if columns:
                clean[name] = columns
        constants = data.get("constants") or {}
        if not isinstance(constants, dict):
            raise MappingError("mapping_invalid", detail="constants is not an object")
        ignored = data.get("ignored") or []
        if not isinstance(ignored, list):
            raise MappingError("mapping_invalid", detail="ignored is not a list")
        confidence = data.get("confidence") or {}
        if not isinstance(confidence, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool)
            for v in confidence.values()
        ):
            raise MappingError("mapping_invalid", detail="confidence")
        mapping = cls(
            fields=clean,
            constants={str(k): str(v) for k, v in constants.items()},
            ignored=[str(c) for c in ignored],
            confidence={str(k): float(v) for k, v in confidence.items()},
            name=str(data.get("name") or ""),
        )
        mapping.check_shape()
        return mapping

    def check_shape(self) -> None:
        """Raise MappingError if a field is misused, whatever the file."""
        for name, columns in self.fields.items():
            if name not in LIST_FIELDS and len(columns) > 1:
                raise MappingError(
                    "mapping_invalid", detail=f"{name} takes only one column"
                )
        for name in self.constants:
            if name not in CONSTANT_FIELDS:
                raise MappingError(
                    "mapping_invalid", detail=f"{name} cannot be a constant"
                )
            if name in self.fields:
                raise MappingError(
                    "mapping_invalid", detail=f"{name} has both a column and a constant"
                )
        used = [c for columns in self.fields.values() for c in columns]
        if len(used) != len(set(used)):
            raise MappingError(
                "mapping_invalid", detail="a column feeds more than one field"
            )

    def check_against(self, columns: Sequence[str]) -> None:
        """Raise MappingError if the mapping does not fit a file with ``columns``."""
        self.check_shape()
        for used in self.fields.values():
            for column in used:
                if column not in columns:
                    raise MappingError("mapping_column_missing", column=column)
        if "create_date_time" not in self.fields:
            raise MappingError("mapping_required_field", field="create_date_time")
        if not any(f in self.fields for f in IDENTIFIER_FIELDS):
            raise MappingError("mapping_no_identifier")


def suggest_mapping(
    columns: Sequence[str], sample_rows: Sequence[Sequence[Any]] = ()
) -> Mapping:
    """Suggest a mapping from column names, then from what the sample values look like.

    Exact Metrika names score 1.0, known synonyms 0.9, numbered variants of list
    fields ("Телефон 2") 0.85, fuzzy matches up to 0.8, and columns recognised only
    by their values 0.6.
    """
    scored: list[tuple[float, int, str, str]] = []
    for index, column in enumerate(columns):
        name, score = _match(column)
        if name is None:
            name, score = _guess_from_values(index, sample_rows)
        if name is not None:
            scored.append((score, -index, column, name))
    mapping = Mapping()
    for score, _, column, name in sorted(scored, reverse=True):
        taken = mapping.fields.get(name)
        if taken and name not in LIST_FIELDS:
            continue
        mapping.fields.setdefault(name, []).append(column)
        mapping.confidence[name] = min(mapping.confidence.get(name, 1.0), score)
    for used in mapping.fields.values():
        used.sort(key=list(columns).index)
    mapping.fields = {f: mapping.fields[f] for f in FIELDS if f in mapping.fields}
    mapped = {c for used in mapping.fields.values() for c in used}
    mapping.ignored = [c for c in columns if c not in mapped]
    return mapping


_LOOKS = (
    ("emails", re.compile(r"\s*[^@\s]+@[^@\s]+\.\w+\s*([,;].*)?")),
    (
        "phones",
        re.compile(r"\s*\+?[78]?[\s(]*\d{3}[\s)\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}\s*"),
    ),
    (
        "create_date_time",
        re.compile(r"\s*(\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2}\.\d{2,4}).*"),
    ),
    ("client_ids", re.compile(r"\s*\d{16,20}\s*")),
)


def _guess_from_values(
    index: int, rows: Sequence[Sequence[Any]]
) -> tuple[str | None, float]:
    values = [str(r[index]) for r in rows if index < len(r) and str(r[index]).strip()][
        :50
    ]
    if len(values) < 3:
        return None, 0.0
    for name, pattern in _LOOKS:
        hits = sum(1 for v in values if pattern.fullmatch(v))
        if hits >= 0.8 * len(values):
            return name, 0.6
    return None, 0.0
