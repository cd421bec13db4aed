import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.orderfile import rules

CTX = rules.DateContext(
    ZoneInfo("Europe/Moscow"), dt.datetime(2024, 3, 1, 12, 0), "Europe/Moscow"
)


def codes(issues):
    return [i.code for i in issues]


@pytest.mark.parametrize(
    "raw",
    ["+7 (912) 345-67-89", "8 912 345 67 89", "9123456789", "79123456789",
     "8-912-345-67-89", "+79123456789", 79123456789.0, "７９１２３４５６７８９"],
)  # fmt: skip
def test_russian_phones_in_common_formats_become_digits_with_7(raw):
    assert rules.normalize_phone(raw, "RU")[0] == "79123456789"


def test_excel_float_suffix_on_a_phone_is_repaired_with_a_warning():
    value, issues = rules.normalize_phone("79161234570.0", "RU")
    assert value == "79161234570"
    assert codes(issues) == ["value_repaired"]


def test_phone_in_scientific_notation_is_an_error():
    assert codes(rules.normalize_phone("7.91612E+10", "RU")[1]) == [
        "phone_excel_exponent"
    ]


def test_foreign_phone_uses_phonenumbers_and_the_default_region():
    assert rules.normalize_phone("+375 29 123-45-67", "RU")[0] == "375291234567"
    assert rules.normalize_phone("029 123 45 67", "BY")[0] == "375291234567"
    assert rules.normalize_phone("12345", "RU")[0] is None


@settings(max_examples=60)
@given(
    st.from_regex(r"9[0-9]{9}", fullmatch=True), st.sampled_from(["+7 ", "8", "7", ""])
)
def test_any_russian_mobile_keeps_its_ten_digits(national, prefix):
    assert rules.normalize_phone(prefix + national, "RU") == ("7" + national, [])


def test_emails_are_trimmed_and_lower_cased():
    assert rules.normalize_email("  Ivan.Petrov@Example.RU ") == (
        "ivan.petrov@example.ru",
        [],
    )
    assert rules.normalize_email("ivan@@example")[0] is None


def test_zero_width_space_in_an_email_is_removed_with_a_warning():
    value, issues = rules.normalize_email("ivan@ex\u200bample.com")
    assert value == "ivan@example.com"
    assert codes(issues) == ["value_repaired"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12 345,67", "12345.67"), ("1 234.50 ₽", "1234.50"), ("1,234.50", "1234.50"),
     ("1\u00a0234,00", "1234.00"), ("200", "200"), ("0200", "200"),
     ("1,234,567", "1234567"), (1234.5, "1234.5")],
)  # fmt: skip
def test_money_in_real_world_formats(raw, expected):
    assert rules.normalize_money(raw) == (expected, [])


@pytest.mark.parametrize(
    ("raw", "code"),
    [("abc", "money_invalid"), ("1.234.567,00", "money_invalid"),
     ("-500", "money_negative"), ("1,234", "money_ambiguous"), ("NaN", "money_invalid"),
     ("1e309", "money_invalid"), ("Inf", "money_invalid")],
)  # fmt: skip
def test_bad_money_is_an_error(raw, code):
    assert codes(rules.normalize_money(raw)[1]) == [code]


@settings(max_examples=60)
@given(st.decimals(min_value=0, max_value=10**9, places=2))
def test_any_amount_with_a_decimal_comma_and_grouping_round_trips(amount):
    whole, frac = f"{amount:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", " ")
    assert rules.normalize_money(f"{grouped},{frac}") == (f"{int(whole)}.{frac}", [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("10.01.2024 11:56", "2024-01-10 11:56:00"), ("10.01.24", "2024-01-10"),
     ("2024-01-10", "2024-01-10"), ("2024-01-10 11:56:07", "2024-01-10 11:56:07"),
     ("2024-01-10T11:56:00+03:00", "2024-01-10 11:56:00"),
     ("2024-01-10T08:56:00Z", "2024-01-10 11:56:00"),
     ("2024-01-10T11:56:00.123", "2024-01-10 11:56:00"),
     (dt.datetime(2024, 1, 10, 11, 56), "2024-01-10 11:56:00"),
     (dt.date(2024, 1, 10), "2024-01-10")],
)  # fmt: skip
def test_dates_become_canonical_counter_local_time(raw, expected):
    assert rules.normalize_date(raw, CTX) == (expected, [])


def test_offset_dates_are_converted_into_the_counter_zone():
    ctx = rules.DateContext(ZoneInfo("Asia/Yekaterinburg"), CTX.now, "x")
    assert rules.normalize_date("2024-01-10T11:56:00+03:00", ctx)[0] == (
        "2024-01-10 13:56:00"
    )


def test_excel_serial_date_is_repaired():
    value, issues = rules.normalize_date(45301.5, CTX)
    assert value == "2024-01-10 12:00:00"
    assert codes(issues) == ["value_repaired"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [("31.02.2024", "date_impossible"), ("вчера", "date_invalid"),
     ("2024/05/06", "date_invalid"), ("", "date_missing"),
     ("1700000000", "date_unix_time"), ("31.12.1969", "date_before_1970"),
     (60, "date_before_1970"), ("02.03.2024", "date_in_future"),
     ("2024-03-01 12:00:01", "date_in_future")],
)  # fmt: skip
def test_bad_dates_are_errors(raw, code):
    assert codes(rules.normalize_date(raw, CTX)[1]) == [code]


def test_date_only_today_is_not_in_the_future():
    assert rules.normalize_date("01.03.2024", CTX) == ("2024-03-01", [])


def test_dates_older_than_90_days_get_a_warning():
    assert codes(rules.normalize_date("01.11.2023", CTX)[1]) == [
        "date_older_than_90_days"
    ]


@settings(max_examples=60)
@given(st.integers(min_value=1, max_value=rules.MAX_CLIENT_ID))
def test_any_unsigned_64_bit_client_id_is_kept_exactly(number):
    assert rules.normalize_client_id(str(number)) == (str(number), [])


@pytest.mark.parametrize(
    ("raw", "code"),
    [("0", "client_id_invalid"), ("18446744073709551616", "client_id_invalid"),
     ("12ab34", "client_id_invalid"), ("1.23456789012346E+18", "client_id_rounded")],
)  # fmt: skip
def test_bad_client_ids_are_errors(raw, code):
    assert codes(rules.normalize_client_id(raw)[1]) == [code]


def test_md5_test_vectors_from_the_contract():
    assert rules.md5_hex("mail@yandex.ru") == "3c56ff8fef0f6c65b36b2d25720fe276"
    assert rules.md5_hex("79995551111") == "f09f2c3d48f31e2a802944ade2e5aec5"


def test_goals_follow_the_id_price_grammar():
    assert rules.normalize_goal("oplata_cash:200") == ("oplata_cash:200", [])
    assert codes(rules.normalize_goal("goal_a:abc")[1]) == ["goal_invalid"]


def test_currency_codes_and_rouble_spellings():
    assert rules.normalize_currency("eur") == ("EUR", [])
    value, issues = rules.normalize_currency("руб.")
    assert (value, codes(issues)) == ("RUB", ["value_repaired"])
    assert codes(rules.normalize_currency("USDT")[1]) == ["currency_invalid"]


def test_several_values_in_a_cell_are_split_on_commas_and_semicolons():
    assert rules.split_list("a@b.ru; c@d.ru,a@b.ru", spaces=True) == [
        "a@b.ru",
        "c@d.ru",
    ]


@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-1, max_value=3_000_000_000).map(float),
    )
)
@settings(max_examples=300)
def test_a_number_and_the_same_number_as_text_read_alike_as_dates(number):
    # The fast workbook read hands number cells to the rules as their text.
    from ordersync.orderfile.reader import cell_to_text

    def outcome(value):
        normal, issues = rules.normalize_date(value, CTX)
        return normal, [(i.code, i.value) for i in issues]

    assert outcome(number) == outcome(cell_to_text(number))
