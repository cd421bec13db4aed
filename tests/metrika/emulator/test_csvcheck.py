import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ordersync.metrika.emulator.csvcheck import (
    parse_create_date_time,
    validate_simple_orders,
)
from tests.metrika.conftest import DOC_EXAMPLE

NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, 14:00 in Yekaterinburg
MOSCOW = ZoneInfo("Europe/Moscow")
HEADER = "id,create_date_time,client_ids,emails,phones,emails_md5,phones_md5"
HEADER += ",order_status,revenue,cost,goals,currency,client_uniq_id\n"


def check(text, *, delimiter="COMMA", zone=MOSCOW, keep_rows=100, raw=None):
    stream = io.TextIOWrapper(
        io.BytesIO(raw if raw is not None else text.encode()),
        encoding="utf-8",
        newline="",
    )
    return validate_simple_orders(
        stream, delimiter_type=delimiter, zone=zone, now=NOW, keep_rows=keep_rows
    )


def row(**cells):
    values = {"id": "o1", "create_date_time": "2024-05-01 10:00:00", "emails": "a@b.ru"}
    values.update(cells)
    names = HEADER.strip().split(",")
    return HEADER + ",".join(_quote(values.get(n, "")) for n in names) + "\n"


def _quote(value):
    return f'"{value}"' if any(c in value for c in ',"\n') else value


def test_documented_example_passes():
    report = check(DOC_EXAMPLE)

    assert report.passed
    assert report.rows == 3
    assert report.orders[0]["goals"] == "oplata_cash:200,filial_1"


def test_crlf_line_ends_and_quoted_newlines_parse():
    report = check(row(client_uniq_id="line1\nline2").replace("\n", "\r\n", 1))

    assert report.passed and report.rows == 1


@pytest.mark.parametrize(
    "value",
    [
        "21.04.2020",
        "21.04.20",
        "2020-04-21",
        "21.04.2020 10:30",
        "21.04.20 10:30",
        "2020-04-21 10:30",
        "21.04.2020 10:30:15",
        "21.04.20 10:30:15",
        "2020-04-21 10:30:15",
    ],
)
def test_nine_documented_date_forms_are_accepted(value):
    assert check(row(create_date_time=value)).passed


def test_date_without_time_means_2359():
    assert parse_create_date_time("12.02.2024") == (
        datetime(2024, 2, 12, 23, 59),
        False,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "2024-01-10T11:56:00",
            "invalid 'create_date_time' value '2024-01-10T11:56:00'",
        ),
        ("2024-01-10 11:56:00+03:00", "invalid 'create_date_time' value"),
        ("2024-01-10 11:56:00.5", "invalid 'create_date_time' value"),
        ("21-04-2020", "invalid 'create_date_time' value '21-04-2020'"),
        ("1.4.2020", "invalid 'create_date_time' value"),
        ("1704880560", "invalid 'create_date_time' value"),
        ("31.02.2024", "invalid 'create_date_time' value"),
        (
            "1969-12-31 23:59:59",
            "'create_date_time' '1969-12-31 23:59:59' is before 1970",
        ),
        ("2024-06-01 12:30", "'create_date_time' '2024-06-01 12:30' is in the future"),
        ("02.06.2024", "is in the future"),
        ("", "'create_date_time' is empty"),
    ],
)
def test_bad_dates_are_row_errors(value, message):
    report = check(row(create_date_time=value))

    assert report.structure_error is None
    assert report.errors[0].startswith("Row 2: ")
    assert message in report.errors[0]


def test_future_is_judged_in_the_counter_zone():
    value = "2024-06-01 13:30"  # 13:30 is past in Yekaterinburg, future in Moscow

    assert check(
        row(create_date_time=value), zone=ZoneInfo("Asia/Yekaterinburg")
    ).passed
    assert not check(row(create_date_time=value), zone=MOSCOW).passed


def test_todays_date_without_time_is_accepted():
    assert check(row(create_date_time="01.06.2024")).passed


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"emails": ""}, "Missing field with identifiers"),
        ({"emails": "Mail@yandex.ru"}, "invalid 'emails' value 'Mail@yandex.ru'"),
        ({"emails": "no-at-sign"}, "invalid 'emails' value"),
        ({"emails": "a@b.ru, c@d.ru"}, "invalid 'emails' list 'a@b.ru, c@d.ru'"),
        ({"emails": "a@b.ru,"}, "invalid 'emails' list"),
        ({"phones": "+79995551111"}, "invalid 'phones' value '+79995551111'"),
        ({"phones": "7 999 555"}, "invalid 'phones' value"),
        ({"phones": "12345"}, "invalid 'phones' value '12345'"),
        ({"client_ids": "0"}, "invalid 'client_ids' value '0'"),
        (
            {"client_ids": "18446744073709551616"},
            "invalid 'client_ids' value '18446744073709551616'",
        ),
        ({"client_ids": "1.5e10"}, "invalid 'client_ids' value"),
        ({"emails_md5": "NOT_AN_MD5"}, "invalid 'emails_md5' value 'NOT_AN_MD5'"),
        (
            {"phones_md5": "F09F2C3D48F31E2A802944ADE2E5AEC5"},
            "invalid 'phones_md5' value",
        ),
        ({"order_status": "CANCELED"}, "Invalid 'order_status' value 'CANCELED'"),
        ({"order_status": "Оплачен"}, "Invalid 'order_status' value 'Оплачен'"),
        ({"revenue": "1,5"}, "invalid 'revenue' value '1,5'"),
        ({"revenue": "-1"}, "invalid 'revenue' value '-1'"),
        ({"cost": "1 000"}, "invalid 'cost' value '1 000'"),
        ({"revenue": "9223372036855"}, "invalid 'revenue' value"),
        ({"goals": "Оплата наличными"}, "invalid 'goals' value 'Оплата наличными'"),
        ({"goals": "goal:abc"}, "invalid 'goals' value 'goal:abc'"),
        ({"currency": "rub"}, "invalid 'currency' value 'rub'"),
        ({"currency": "XYZ"}, "invalid 'currency' value 'XYZ'"),
        ({"id": "x" * 256}, "'id' is longer than 255 characters"),
    ],
)
def test_column_rules(cells, message):
    report = check(row(**cells))

    assert report.structure_error is None
    assert not report.passed
    assert message in report.errors[0]


@pytest.mark.parametrize(
    "cells",
    [
        {"client_ids": "18446744073709551615"},
        {"emails_md5": "3c56ff8fef0f6c65b36b2d25720fe276"},
        {"phones_md5": "f09f2c3d48f31e2a802944ade2e5aec5"},
        {"phones": "79995551111,79876543210"},
        {"order_status": "IN_PROGRESS", "revenue": "10.50", "cost": "0"},
        {"goals": "oplata_cash:200,filial_1", "currency": "RUB"},
        {"id": ""},
    ],
)
def test_valid_values(cells):
    assert check(row(**cells)).passed


def test_row_with_wrong_field_count_is_a_row_error():
    report = check(HEADER + "o1,2024-05-01\n")

    assert report.errors == ["Row 2: has 2 fields, the header has 13"]


def test_error_list_is_capped_but_counted():
    text = HEADER + "".join(
        row(emails="BAD@x.ru").split("\n", 1)[1] for _ in range(150)
    )

    report = check(text)

    assert report.error_count == 150
    assert len(report.errors) == 100


@pytest.mark.parametrize(
    ("text", "raw", "message"),
    [
        ("", None, "The file is empty: a header row is required"),
        ("\ufeff" + DOC_EXAMPLE, None, "The file starts with a byte order mark"),
        ("id,create_date_time,emails,extra\n", None, "Unknown column 'extra'"),
        ("id,create_date_time,emails,id\n", None, "Duplicate column 'id'"),
        ("id,emails\n", None, "Missing column 'create_date_time'"),
        ("create_date_time,emails\n", None, "Missing column 'id'"),
        ("id,create_date_time,revenue\n", None, "Missing column with identifiers"),
        (
            "id;create_date_time;emails\n",
            None,
            "Unknown column 'id;create_date_time;emails' (check delimiter_type)",
        ),
        (None, HEADER.encode() + "o1,Ж".encode("cp1251"), "The file is not UTF-8"),
        (HEADER + 'o1,"2024-05-01"x\n', None, "Bad CSV quoting near row 2"),
        (HEADER + 'o1,"2024-05-01\n', None, "Bad CSV quoting near row 2"),
    ],
)
def test_structure_errors(text, raw, message):
    report = check(text or "", raw=raw)

    assert report.structure_error.startswith(message)


def test_semicolon_delimiter():
    text = 'id;create_date_time;emails\no1;2024-05-01;"a@b.ru,c@d.ru"\n'

    report = check(text, delimiter="SEMICOLON")

    assert report.passed
    assert check(text).structure_error.startswith("Unknown column")


def test_rows_are_kept_only_up_to_the_limit():
    assert check(DOC_EXAMPLE, keep_rows=3).orders is not None
    assert check(DOC_EXAMPLE, keep_rows=2).orders is None
