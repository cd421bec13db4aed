"""The value rules of the Metrika contract, one readable function per field.

These functions are the reference: the vectorised fast path in ``fast.py`` handles
only value shapes it can normalise exactly as these do, and sends everything else
here. Each returns the normalised value (or None when the value is unusable) and a
list of :class:`Issue` describing errors, warnings and repairs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import phonenumbers

from .reader import cell_to_text

MAX_CLIENT_ID = 18446744073709551615
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# Excel serials for 1970-01-01 and 9999-12-31.
_SERIAL_MIN, _SERIAL_MAX = 25569, 2958466

LENGTH_LIMITS = {
    "id": 100,
    "client_uniq_id": 100,
    "emails": 254,
    "phones": 32,
}


class Issue(NamedTuple):
    """A problem with one value; the pipeline adds the row and column."""

    code: str
    value: str
    params: dict[str, Any]


def _repair(value: str, repaired: str, how: str, how_ru: str) -> Issue:
    return Issue(
        "value_repaired", value, {"repaired": repaired, "how": how, "how_ru": how_ru}
    )


# --------------------------------------------------------------------------- text

_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069\u00ad]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s")


def clean_text(value: Any, *, nfkc: bool = False) -> tuple[str, list[Issue]]:
    """Return the trimmed text of a cell with invisible characters removed.

    Zero-width spaces, bidi marks and NUL bytes come from copy-pasting and are
    removed with a "repaired" warning; full-width digits are folded when ``nfkc``.
    """
    raw = value if isinstance(value, str) else cell_to_text(value)
    text = raw.strip()
    issues: list[Issue] = []
    if "\x00" in text or _INVISIBLE.search(text):
        fixed = _INVISIBLE.sub("", text.replace("\x00", "")).strip()
        issues.append(
            _repair(
                text,
                fixed,
                "invisible characters removed",
                "удалены невидимые символы",
            )
        )
        text = fixed
    if nfkc and not text.isascii():
        folded = unicodedata.normalize("NFKC", text)
        # Non-breaking spaces between digit groups are formatting, not damage.
        if _SPACE.sub("", folded) != _SPACE.sub("", text):
            issues.append(
                _repair(text, folded, "full-width characters", "полноширинные символы")
            )
            text = folded
    return text, issues


def check_plain(text: str, field: str) -> list[Issue]:
    """Return errors for control characters or a value longer than the field allows."""
    issues = []
    if _CONTROL.search(text):
        issues.append(Issue("value_control_chars", text, {}))
    limit = LENGTH_LIMITS.get(field, 32_767)
    if len(text) > limit:
        issues.append(
            Issue("value_too_long", text, {"length": len(text), "limit": limit})
        )
    return issues


def split_list(text: str, *, spaces: bool) -> list[str]:
    """Split a cell holding several values on commas, semicolons (and spaces)."""
    pattern = r"[,;\s]+" if spaces else r"[,;]"
    seen: list[str] = []
    for item in re.split(pattern, text):
        item = item.strip()
        if item and item not in seen:
            seen.append(item)
    return seen


# --------------------------------------------------------------------------- dates

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?"
)
_DOTTED = re.compile(
    r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


class DateContext(NamedTuple):
    """What date checks depend on: the counter's zone and its current time."""

    zone: dt.tzinfo
    now: dt.datetime  # naive, local to ``zone``
    zone_name: str


def normalize_date(value: Any, ctx: DateContext) -> tuple[str | None, list[Issue]]:
    """Return the date as ``yyyy-MM-dd HH:mm:ss`` (or ``yyyy-MM-dd``) in the zone."""
    issues: list[Issue] = []
    has_time = True
    if isinstance(value, dt.datetime):
        local = value.replace(tzinfo=None)
        shown = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, dt.date):
        local, has_time = dt.datetime(value.year, value.month, value.day), False
        shown = value.isoformat()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(value, cell_to_text(value), ctx)
    else:
        text, issues = clean_text(value, nfkc=True)
        shown = text
        if not text:
            return None, [*issues, Issue("date_missing", "", {})]
        parsed = _parse_date_text(text, ctx)
        if isinstance(parsed, Issue):
            if parsed.code == "date_invalid" and _NUMBER.fullmatch(text):
                # A number written as text reads as the same number in a cell, so
                # an Excel file gives the same result whichever way it stores it.
                normal, more = _serial(float(text.replace(",", ".")), text, ctx)
                return normal, issues + more
            return None, [*issues, parsed]
        local, has_time = parsed
    return _checked(local, has_time, shown, issues, ctx)


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")


def _parse_date_text(text: str, ctx: DateContext) -> tuple[dt.datetime, bool] | Issue:
    match = _ISO.fullmatch(text)
    dotted = None if match else _DOTTED.fullmatch(text)
    if not match and not dotted:
        return Issue("date_invalid", text, {})
    if match:
        year, month, day = int(match[1]), int(match[2]), int(match[3])
        hour, minute, second, zone = match[4], match[5], match[6], match[7]
    else:
        day, month = int(dotted[1]), int(dotted[2])
        year = int(dotted[3])
        if len(dotted[3]) == 2:
            year += 2000 if year < 70 else 1900
        hour, minute, second, zone = dotted[4], dotted[5], dotted[6], None
    try:
        moment = dt.datetime(
            year,
            month,
            day,
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:
        return Issue("date_impossible", text, {})
    if zone:
        offset = _offset(zone)
        moment = moment.replace(tzinfo=offset).astimezone(ctx.zone).replace(tzinfo=None)
    return moment, hour is not None


def _offset(zone: str) -> dt.timezone:
    if zone == "Z":
        return dt.UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return dt.timezone(sign * dt.timedelta(minutes=minutes))


def _serial(number: float, shown: str, ctx: DateContext) -> tuple[str | None, list]:
    if not _SERIAL_MIN <= number < _SERIAL_MAX:
        if number >= 1e8:
            return None, [Issue("date_unix_time", shown, {})]
        if number < _SERIAL_MIN and number > 0:
            # An Excel serial before 1970 (including Excel's fictional 29 Feb 1900).
            return None, [Issue("date_before_1970", shown, {})]
        return None, [Issue("date_invalid", shown, {})]
    whole = int(number)
    seconds = round((number - whole) * 86400)
    moment = EXCEL_EPOCH + dt.timedelta(days=whole, seconds=seconds)
    has_time = seconds != 0
    normal = moment.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")
    issues = [_repair(shown, normal, "Excel date number", "число-дата Excel")]
    checked, more = _checked(moment, has_time, normal, [], ctx)
    return checked, issues + more


def _checked(
    local: dt.datetime,
    has_time: bool,
    shown: str,
    issues: list[Issue],
    ctx: DateContext,
) -> tuple[str | None, list[Issue]]:
    if local.year < 1970:
        return None, [*issues, Issue("date_before_1970", shown, {})]
    if (local > ctx.now) if has_time else (local.date() > ctx.now.date()):
        return None, [
            *issues,
            Issue("date_in_future", shown, {"timezone": ctx.zone_name}),
        ]
    if local.date() < ctx.now.date() - dt.timedelta(days=90):
        issues = [*issues, Issue("date_older_than_90_days", shown, {})]
    if has_time:
        return local.strftime("%Y-%m-%d %H:%M:%S"), issues
    return local.strftime("%Y-%m-%d"), issues


# --------------------------------------------------------------------------- phones

_PHONE_NOISE = re.compile(r"[\s()\-.\u2010-\u2015]")
_EXPONENT = re.compile(r"\d[.,]\d+[eE]\+?\d+")


def normalize_phone(value: Any, region: str) -> tuple[str | None, list[Issue]]:
    """Return one phone as digits with the country code (``79995551111``)."""
    text, issues = clean_text(value, nfkc=True)
    if len(text) > LENGTH_LIMITS["phones"]:
        return None, [
            *issues,
            Issue("value_too_long", text, {"length": len(text), "limit": 32}),
        ]
    if _EXPONENT.fullmatch(text):
        return None, [*issues, Issue("phone_excel_exponent", text, {})]
    if re.fullmatch(r"\+?\d{10,15}\.0", text):
        fixed = text[:-2]
        issues.append(_repair(text, fixed, "Excel's .0 removed", "убрано .0 от Excel"))
        text = fixed
    plus = text.startswith("+")
    digits = _PHONE_NOISE.sub("", text[1:] if plus else text)
    if not digits.isdigit() or not digits.isascii():
        return None, [*issues, Issue("phone_invalid", text, {})]
    russian = region in ("RU", "KZ")
    if (
        len(digits) == 11
        and digits[0] == "7"
        and digits[1] in "3456789"
        and (plus or russian)
    ):
        return digits, issues
    if not plus and russian:
        if len(digits) == 11 and digits[0] == "8" and digits[1] in "3456789":
            return "7" + digits[1:], issues
        if len(digits) == 10 and digits[0] == "9":
            return "7" + digits, issues
    attempts = ["+" + digits] if plus else [digits, "+" + digits]
    for candidate in attempts:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164
            )
            return e164[1:], issues
    return None, [*issues, Issue("phone_invalid", text, {})]


# --------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(
    r"[^\s@\"(),:;<>\[\]\\.]+(?:\.[^\s@\"(),:;<>\[\]\\.]+)*"
    r"@[^\s@\"(),:;<>\[\]\\._\-][^\s@\"(),:;<>\[\]\\]*\.[^\s@\"(),:;<>\[\]\\.\d]{2,}"
)


def normalize_email(value: Any) -> tuple[str | None, list[Issue]]:
    """Return one e-mail trimmed and lower-cased, or None if it is not an address."""
    text, issues = clean_text(value, nfkc=True)
    if text.lower().startswith("mailto:"):
        fixed = text[7:].strip()
        issues.append(_repair(text, fixed, "mailto: removed", "убрано mailto:"))
        text = fixed
    lowered = text.lower()
    if len(lowered) > LENGTH_LIMITS["emails"]:
        return None, [
            *issues,
            Issue("value_too_long", text, {"length": len(text), "limit": 254}),
        ]
    if not _EMAIL.fullmatch(lowered) or ".." in lowered:
        return None, [*issues, Issue("email_invalid", text, {})]
    return lowered, issues


# --------------------------------------------------------------------------- ids


def normalize_client_id(value: Any) -> tuple[str | None, list[Issue]]:
    """Return a ClientID as exact decimal digits (unsigned 64-bit, positive)."""
    text, issues = clean_text(value, nfkc=True)
    if re.fullmatch(r"\d+(\.\d+)?[eE]\+?\d+", text):
        return None, [*issues, Issue("client_id_rounded", text, {})]
    if re.fullmatch(r"\d{1,20}\.0", text):
        fixed = text[:-2]
        issues.append(_repair(text, fixed, "Excel's .0 removed", "убрано .0 от Excel"))
        text = fixed
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        return None, [*issues, Issue("client_id_invalid", text, {})]
    number = int(text)
    if not 0 < number <= MAX_CLIENT_ID:
        return None, [*issues, Issue("client_id_invalid", text, {})]
    return str(number), issues


def normalize_md5(value: Any) -> tuple[str | None, list[Issue]]:
    """Return an already hashed value as 32 lower-case hex characters."""
    text, issues = clean_text(value)
    lowered = text.lower()
    if not re.fullmatch(r"[0-9a-f]{32}", lowered):
        return None, [*issues, Issue("md5_invalid", text, {})]
    return lowered, issues


def md5_hex(text: str) -> str:
    """Return the MD5 Metrika expects for a normalised e-mail or phone."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------- money

_MONEY_MARKS = re.compile(
    r"^(?:₽|руб\.?|р\.|rub|rur|\$|€|usd|eur)\s*|\s*(?:₽|руб\.?|р\.?|rub|rur|\$|€|usd|eur)$",
    re.IGNORECASE,
)
_GROUP_SPACES = re.compile(r"(?<=\d)[\s\u00a0\u202f\u2009']+(?=\d{3}(?:\D|$))")


def normalize_money(value: Any) -> tuple[str | None, list[Issue]]:
    """Return an amount as a plain decimal with a dot (``1234.50``)."""
    if isinstance(value, float) and value != value:  # NaN from a spreadsheet
        return None, [Issue("money_invalid", "NaN", {})]
    text, issues = clean_text(value, nfkc=True)
    shown = text
    text = _MONEY_MARKS.sub("", text).strip()
    if text.startswith(("-", "−", "(")):
        return None, [*issues, Issue("money_negative", shown, {})]
    grouped = bool(_GROUP_SPACES.search(text))
    compact = _GROUP_SPACES.sub("", text)
    if re.fullmatch(r"\d+", compact):
        whole, frac = compact, ""
    elif match := re.fullmatch(r"(\d+)\.(\d+)", compact):
        whole, frac = match[1], match[2]
    elif match := re.fullmatch(r"(\d+),(\d+)", compact):
        if len(match[2]) == 3 and not grouped:
            return None, [*issues, Issue("money_ambiguous", shown, {})]
        whole, frac = match[1], match[2]
    elif match := re.fullmatch(r"(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?", compact):
        if match[2] is None and compact.count(",") == 1:
            return None, [*issues, Issue("money_ambiguous", shown, {})]
        whole, frac = match[1].replace(",", ""), match[2] or ""
    else:
        return None, [*issues, Issue("money_invalid", shown, {})]
    whole = whole.lstrip("0") or "0"
    return (f"{whole}.{frac}" if frac else whole), issues


def money_value(text: str) -> Decimal:
    """Return the Decimal of a normalised amount."""
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - normalised amounts always parse
        return Decimal(0)


# --------------------------------------------------------------------------- goals

_GOAL = re.compile(r"[A-Za-z0-9_.\-]{1,100}(?::\d{1,15}(?:\.\d{1,6})?)?")


def normalize_goal(value: str) -> tuple[str | None, list[Issue]]:
    """Return one ``goal_id[:price]`` item, or None if it breaks the grammar."""
    text, issues = clean_text(value)
    if not _GOAL.fullmatch(text):
        return None, [*issues, Issue("goal_invalid", text, {})]
    return text, issues


# --------------------------------------------------------------------------- currency

_ISO_4217 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB "
    "BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP "
    "DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF "
    "IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK "
    "LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN "
    "NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF "
    "SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT "
    "TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF "
    "YER ZAR ZMW ZWL "
)
CURRENCIES = frozenset(_ISO_4217.split())
_CURRENCY_NAMES = {
    "₽": "RUB",
    "р": "RUB",
    "р.": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "рубль": "RUB",
    "рублей": "RUB",
    "rur": "RUB",
    "$": "USD",
    "€": "EUR",
    "тенге": "KZT",
    "₸": "KZT",
}


def normalize_currency(value: Any) -> tuple[str | None, list[Issue]]:
    """Return a three-letter ISO 4217 code; rouble spellings become RUB."""
    text, issues = clean_text(value)
    upper = text.upper()
    if upper in CURRENCIES:
        return upper, issues
    code = _CURRENCY_NAMES.get(text.lower())
    if code:
        return code, [
            *issues,
            _repair(
                text, code, "currency name to ISO code", "название валюты → код ISO"
            ),
        ]
    return None, [*issues, Issue("currency_invalid", text, {})]
