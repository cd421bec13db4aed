"""Strict validation of a simple-orders CSV, as CONTRACT.md §5 describes it.

Two kinds of failure, because the contract's Decision treats them differently: a
*structure* error (not UTF-8, broken quoting, bad header) means the file cannot be
parsed at all; *row* errors mean it parsed but rows break the column rules.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TextIO
from zoneinfo import ZoneInfo

REQUIRED_COLUMNS = ("create_date_time", "id")
IDENTIFIER_COLUMNS = ("client_ids", "emails", "phones", "emails_md5", "phones_md5")
OPTIONAL_COLUMNS = (
    "client_uniq_id",
    "order_status",
    "revenue",
    "cost",
    "goals",
    "currency",
)
ALL_COLUMNS = frozenset((*REQUIRED_COLUMNS, *IDENTIFIER_COLUMNS, *OPTIONAL_COLUMNS))
LIST_COLUMNS = frozenset((*IDENTIFIER_COLUMNS, "goals"))
ORDER_STATUSES = frozenset({"PAID", "IN_PROGRESS", "CANCELLED", "SPAM"})
DELIMITERS = {"COMMA": ",", "SEMICOLON": ";"}
MAX_ROW_ERRORS = 100
MAX_TEXT = 255
UINT64_MAX = 18446744073709551615
# The research found int64 micro-units as the practical cap on amounts.
MAX_AMOUNT = Decimal("9223372036854")
EPOCH = datetime(1970, 1, 1)

DOTTED_DATE = re.compile(
    r"(\d{2})\.(\d{2})\.(\d{4}|\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?"
)
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?")
EMAIL = re.compile(r"[^@\s,A-Z\"]+@[^@\s,A-Z\"]+\.[^@\s,A-Z\".]+")
PHONE = re.compile(r"[1-9]\d{9,14}")
MD5 = re.compile(r"[0-9a-f]{32}")
CLIENT_ID = re.compile(r"[1-9]\d{0,19}")
AMOUNT = re.compile(r"\d+(?:\.\d+)?")
GOAL = re.compile(r"[A-Za-z0-9_.\-]{1,255}(?::\d+(?:\.\d+)?)?")
# ISO 4217 active codes.
ISO_4217 = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP
ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
"""
CURRENCIES = frozenset(ISO_4217.split())


@dataclass
class CsvReport:
    """What validation found; ``orders`` is kept only up to ``keep_rows`` rows."""

    columns: list[str] = field(default_factory=list)
    structure_error: str | None = None
    rows: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    orders: list[dict] | None = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Return True when the file parsed and every row kept the rules."""
        return self.structure_error is None and self.error_count == 0


def parse_create_date_time(value: str) -> tuple[datetime, bool] | None:
    """Return ``(naive datetime, has_time)`` for an accepted form, else None."""
    match = DOTTED_DATE.fullmatch(value)
    if match:
        day, month, year, hour, minute, second = match.groups()
        # Java's "yy" reads two digits as 2000-2099.
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        parts = (full_year, int(month), int(day))
    else:
        match = ISO_DATE.fullmatch(value)
        if not match:
            return None
        year, month, day, hour, minute, second = match.groups()
        parts = (int(year), int(month), int(day))
    try:
        if hour is None:
            # A bare date means 23:59 of that day.
            return datetime(*parts, 23, 59), False
        return datetime(*parts, int(hour), int(minute), int(second or 0)), True
    except ValueError:
        return None


def _split_list(value: str) -> list[str] | None:
    items = value.split(",")
    if any(not item or item != item.strip() for item in items):
        return None
    return items


def _check_amount(value: str) -> bool:
    if not AMOUNT.fullmatch(value):
        return False
    try:
        return Decimal(value) <= MAX_AMOUNT
    except InvalidOperation:
        return False


def _check_client_id(value: str) -> bool:
    return bool(CLIENT_ID.fullmatch(value)) and int(value) <= UINT64_MAX


LIST_CHECKS = {
    "client_ids": _check_client_id,
    "emails": lambda v: bool(EMAIL.fullmatch(v)),
    "phones": lambda v: bool(PHONE.fullmatch(v)),
    "emails_md5": lambda v: bool(MD5.fullmatch(v)),
    "phones_md5": lambda v: bool(MD5.fullmatch(v)),
    "goals": lambda v: bool(GOAL.fullmatch(v)),
}


class RowChecker:
    """Check one row's cells against the column rules."""

    def __init__(self, columns: list[str], zone: ZoneInfo, now: datetime):
        self.columns = columns
        self.now_local = now.astimezone(zone).replace(tzinfo=None)
        self.today_local: date = self.now_local.date()
        # Only the columns the header has are checked, for speed on big files.
        self.identifiers = [c for c in IDENTIFIER_COLUMNS if c in columns]
        self.list_checks = [(c, LIST_CHECKS[c]) for c in LIST_CHECKS if c in columns]

    def check(self, row: dict[str, str]) -> list[str]:
        """Return the problems of one row, each naming the column and the value."""
        problems = []
        created = row["create_date_time"]
        parsed = parse_create_date_time(created)
        if not created:
            problems.append("'create_date_time' is empty")
        elif parsed is None:
            problems.append(f"invalid 'create_date_time' value '{created}'")
        else:
            moment, has_time = parsed
            if moment < EPOCH:
                problems.append(f"'create_date_time' '{created}' is before 1970")
            elif (has_time and moment > self.now_local) or (
                not has_time and moment.date() > self.today_local
            ):
                problems.append(f"'create_date_time' '{created}' is in the future")
        if not any(row[name] for name in self.identifiers):
            problems.append("Missing field with identifiers")
        for name, check in self.list_checks:
            value = row[name]
            if not value:
                continue
            items = _split_list(value)
            if items is None:
                problems.append(f"invalid '{name}' list '{value}'")
                continue
            problems.extend(
                f"invalid '{name}' value '{item}'" for item in items if not check(item)
            )
        status = row.get("order_status")
        if status and status not in ORDER_STATUSES:
            problems.append(f"Invalid 'order_status' value '{status}'")
        for name in ("revenue", "cost"):
            value = row.get(name)
            if value and not _check_amount(value):
                problems.append(f"invalid '{name}' value '{value}'")
        currency = row.get("currency")
        if currency and currency not in CURRENCIES:
            problems.append(f"invalid 'currency' value '{currency}'")
        for name in ("id", "client_uniq_id"):
            if len(row.get(name, "")) > MAX_TEXT:
                problems.append(f"'{name}' is longer than {MAX_TEXT} characters")
        return problems


def check_header(columns: list[str], delimiter: str) -> str | None:
    """Return why a header row is unusable, or None when it is fine."""
    if columns and columns[0].startswith("\ufeff"):
        return "The file starts with a byte order mark; send UTF-8 without BOM"
    seen = set()
    for name in columns:
        if name not in ALL_COLUMNS:
            other = ";" if delimiter == "," else ","
            hint = " (check delimiter_type)" if other in name else ""
            return f"Unknown column '{name}'{hint}"
        if name in seen:
            return f"Duplicate column '{name}'"
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            return f"Missing column '{name}'"
    if not seen & set(IDENTIFIER_COLUMNS):
        return "Missing column with identifiers"
    return None


def validate_simple_orders(
    text: TextIO | Iterable[str],
    *,
    delimiter_type: str,
    zone: ZoneInfo,
    now: datetime,
    validate_rows: bool = True,
    keep_rows: int = 0,
) -> CsvReport:
    """Read a simple-orders CSV stream and report structure and row errors.

    ``text`` must be opened with ``newline=""``. Keep parsed rows (for the order
    store) only while there are at most ``keep_rows`` of them.
    """
    report = CsvReport()
    delimiter = DELIMITERS[delimiter_type]
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header or header == [""]:
            report.structure_error = "The file is empty: a header row is required"
            return report
        report.columns = header
        report.structure_error = check_header(header, delimiter)
        if report.structure_error:
            return report
        checker = RowChecker(header, zone, now)
        width = len(header)
        for record in reader:
            report.rows += 1
            line = report.rows + 1
            if len(record) != width:
                problems = [
                    f"has {len(record)} fields, the header has {width}"
                    if record
                    else "is empty"
                ]
                row = None
            elif validate_rows or report.orders is not None:
                row = dict(zip(header, record, strict=True))
                problems = checker.check(row) if validate_rows else []
            else:
                row, problems = None, []
            if problems:
                report.error_count += len(problems)
                room = MAX_ROW_ERRORS - len(report.errors)
                report.errors.extend(f"Row {line}: {p}" for p in problems[:room])
            if report.orders is not None and row is not None:
                if report.rows > keep_rows:
                    report.orders = None
                else:
                    report.orders.append(row)
    except UnicodeDecodeError:
        report.structure_error = f"The file is not UTF-8 near row {report.rows + 2}"
    except csv.Error as exc:
        report.structure_error = f"Bad CSV quoting near row {report.rows + 2}: {exc}"
    return report
