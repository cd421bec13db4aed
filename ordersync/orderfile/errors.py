"""Exceptions of the order-file engine.

Each carries a stable ``code`` and the parameters of its message, so the app can show
it in Russian or English without this package knowing about Django.
"""

from __future__ import annotations

from typing import Any

from .messages import render


class OrderFileError(Exception):
    """Base class: something the user has to fix before the file can be used."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message_en)

    def message(self, lang: str = "ru") -> str:
        """Return the message in ``lang`` ("ru" or "en")."""
        return render(self.code, lang, self.params)

    @property
    def message_en(self) -> str:
        return self.message("en")

    @property
    def message_ru(self) -> str:
        return self.message("ru")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "code": self.code,
            "params": {k: str(v) for k, v in self.params.items()},
            "message_en": self.message_en,
            "message_ru": self.message_ru,
        }


class SourceError(OrderFileError):
    """The file cannot be read as a table (wrong type, damaged, too big, ...)."""


class LimitExceededError(SourceError):
    """The file is readable but goes past a size limit (rows, columns, bytes)."""


class MappingError(OrderFileError):
    """The column mapping does not fit the file or misses required fields."""


class OptionsError(OrderFileError):
    """An option (time zone, phone region, encoding, delimiter) is not valid."""
