import csv
import io
from pathlib import Path

import pytest

from ordersync.orderfile import (
    KEEP_FIRST,
    KEEP_LAST,
    Mapping,
    Options,
    StatusDictionary,
    open_source,
    process,
    suggest_mapping,
    validate,
)

from .conftest import EXAMPLE, NOW

HEADER = "Номер заказа,Дата создания,Телефон,E-mail,Статус,Сумма,Себестоимость\n"


def run(path, options=None, mapping=None, **kwargs):
    source = open_source(path)
    mapping = mapping or suggest_mapping(source.columns, [])
    out = io.BytesIO()
    report = process(source, mapping, options or Options(now=NOW), output=out, **kwargs)
    return report, out.getvalue().decode()


@pytest.mark.parametrize("fast", [False, True])
def test_documented_example_file_is_accepted_as_is(write, fast):
    options = Options(now=NOW, fast=fast)
    report, out = run(write(EXAMPLE), options)
    assert out == (
        "id,create_date_time,client_uniq_id,client_ids,emails,phones,order_status,"
        "revenue,cost,goals,currency\n"
        's_ord1,2024-01-10 11:56:00,s_user1,,"mail@example.com,mail2@example.com",,'
        'PAID,200,150,"oplata_cash:200,filial_1",\n'
        "s_ord2,2024-01-20 11:59:00,,12345,mail3@example.com,,,200,150,,EUR\n"
        ",2024-02-12,,34456,,79876543210,SPAM,,,plohoy_lead,\n"
    )
    assert (report.rows_total, report.rows_valid, report.rows_invalid) == (3, 3, 0)
    assert report.counts == {"id_missing": 1}
    assert report.problems[0].message_en == (
        "Row 4: no order id. Metrika accepts it, but re-sending the file would count "
        "this order twice."
    )


def test_bad_rows_are_reported_with_row_column_and_value(write):
    body = (
        HEADER
        + "A1,10.01.2024 11:56,8 912 345-67-89,ivan@example.ru,Оплачен,100,50\n"
        + "A2,31.02.2024,8 912 345-67-89,,Доставлен,100,\n"
        + "A3,11.01.2024,,,Доставлен,abc,\n"
    )
    report, out = run(write(body))
    assert out.splitlines()[1:] == [
        "A1,2024-01-10 11:56:00,ivan@example.ru,79123456789,PAID,100,50"
    ]
    assert (report.rows_valid, report.rows_invalid) == (1, 2)
    messages = [p.message_en for p in report.problems]
    assert messages == [
        "Row 3, column «Дата создания»: «31.02.2024» is not a real calendar date or "
        "time.",
        "Row 3, column «Статус»: the status «Доставлен» (2 rows) is not mapped. "
        "Choose PAID, IN_PROGRESS, CANCELLED or SPAM for it.",
        "Row 4, column «Статус»: the status «Доставлен» (2 rows) is not mapped. "
        "Choose PAID, IN_PROGRESS, CANCELLED or SPAM for it.",
        "Row 4, column «Сумма»: «abc» is not an amount (expected e.g. 1234.50 or "
        "1 234,50).",
        "Row 4: no ClientID, e-mail or phone. Metrika cannot link this order to a "
        "visitor.",
    ]
    assert report.problems[0].to_dict("ru")["message"] == (
        "Строка 3, столбец «Дата создания»: «31.02.2024» — несуществующая дата или "
        "время."
    )


@pytest.mark.parametrize("fast", [False, True])
def test_rows_with_errors_are_told_with_their_cleaned_order_id(write, fast):
    body = (
        HEADER
        + "A1,10.01.2024 11:56,8 912 345-67-89,ivan@example.ru,Оплачен,100,50\n"
        + "\u200bA2 ,31.02.2024,8 912 345-67-89,,Оплачен,100,\n"
        + ",11.01.2024,,,Оплачен,100,\n"
        + "A4,12.01.2024,8 912 345-67-80,,Оплачен,abc,\n"
    )
    invalid = []
    options = Options(
        now=NOW, fast=fast, on_invalid=lambda row, ident: invalid.append((row, ident))
    )
    report, _out = run(write(body), options)
    assert report.rows_invalid == 3
    assert invalid == [(3, "A2"), (4, ""), (5, "A4")]


def test_user_status_additions_make_rows_valid(write):
    body = HEADER + "A1,10.01.2024,89123456789,,Доставлен,100,\n"
    options = Options(now=NOW, statuses=StatusDictionary({"Доставлен": "PAID"}))
    report, out = run(write(body), options)
    assert report.rows_valid == 1
    assert out.splitlines()[1] == "A1,2024-01-10,,79123456789,PAID,100,"


def test_cost_above_revenue_is_a_warning_not_an_error(write):
    report, _ = run(write(HEADER + "A1,10.01.2024,89123456789,,,100,150\n"))
    assert report.rows_valid == 1
    assert report.problems[0].message_en == (
        "Row 2: cost 150 is higher than revenue 100; the order's value for goals "
        "will be negative."
    )


DUPES = (
    "id,create_date_time,emails,revenue\n"
    "A,10.01.2024,a@b.ru,1\nB,10.01.2024,b@b.ru,2\nA,11.01.2024,c@b.ru,3\n"
)


@pytest.mark.parametrize(
    ("policy", "kept"),
    [("keep_all", ["A,1", "B,2", "A,3"]), (KEEP_FIRST, ["A,1", "B,2"]),
     (KEEP_LAST, ["B,2", "A,3"])],
)  # fmt: skip
def test_duplicate_ids_are_warned_and_resolved_by_policy(write, policy, kept):
    report, out = run(write(DUPES), Options(now=NOW, duplicates=policy))
    rows = [f"{r[0]},{r[-1]}" for r in csv.reader(io.StringIO(out))][1:]
    assert rows == kept
    assert [p.message_en for p in report.problems] == [
        "Row 4: order id «A» is also on row 2. Metrika applies rows with one id in "
        "random order."
    ]
    assert report.rows_written == len(kept)


def test_duplicate_ids_are_found_across_spills_to_disk(write, monkeypatch):
    from ordersync.orderfile import reader
    from ordersync.orderfile.pipeline import DuplicateTracker

    body = "id,create_date_time,emails\n" + "".join(
        f"{'AB'[i // 50 % 2] if i % 50 == 0 else i},10.01.2024,u{i}@b.ru\n"
        for i in range(400)
    )
    path = write(body)
    expected, out = run(path, Options(now=NOW, duplicates=KEEP_LAST))
    monkeypatch.setattr(reader, "_FIRST_CHUNK_BYTES", 256)
    monkeypatch.setattr(reader, "_CHUNK_BYTES", 512)
    monkeypatch.setattr(DuplicateTracker, "SPILL_ROWS", 7)
    for fast in (False, True):
        report, spilled = run(path, Options(now=NOW, duplicates=KEEP_LAST, fast=fast))
        assert spilled == out
        assert report.problems == expected.problems
    assert expected.counts["id_duplicate"] == 6


def test_hashing_sends_only_md5_of_normalised_values(write):
    body = (
        "id,create_date_time,emails,phones\n"
        "A,10.01.2024, MAIL@yandex.ru ,+7 999 555-11-11\n"
    )
    _, out = run(write(body), Options(now=NOW, hash_pii=True))
    assert out == (
        "id,create_date_time,emails_md5,phones_md5\n"
        "A,2024-01-10,3c56ff8fef0f6c65b36b2d25720fe276,f09f2c3d48f31e2a802944ade2e5aec5\n"
    )


def test_constants_fill_every_row(write):
    mapping = Mapping(
        fields={"id": ["id"], "create_date_time": ["d"], "emails": ["e"]},
        constants={"currency": "rub"},
    )
    _, out = run(write("id,d,e\n1,10.01.2024,a@b.ru\n"), mapping=mapping)
    assert out.splitlines() == ["id,create_date_time,emails,currency",
                                "1,2024-01-10,a@b.ru,RUB"]  # fmt: skip


def test_output_is_split_into_parts_under_the_size_limit(write, tmp_path):
    body = "id,create_date_time,emails\n" + "".join(
        f"{i},10.01.2024,user{i}@example.ru\n" for i in range(100)
    )
    source = open_source(write(body))
    target = tmp_path / "out.csv"
    report = process(
        source,
        suggest_mapping(source.columns, []),
        Options(now=NOW, part_size=1000),
        output=target,
    )
    assert len(report.parts) > 2
    lines = 0
    for part in report.parts:
        data = Path(part).read_bytes()
        assert len(data) <= 1000
        assert data.startswith(b"id,create_date_time,emails\n")
        lines += data.count(b"\n") - 1
    assert lines == 100


def test_first_problems_are_kept_and_the_rest_counted(write):
    body = "id,create_date_time,emails\n" + "".join(
        f"{i},bad,user{i}@example.ru\n" for i in range(50)
    )
    source = open_source(write(body))
    report = validate(source, suggest_mapping(source.columns, []),
                      Options(now=NOW, max_problems=5))  # fmt: skip
    assert len(report.problems) == 5
    assert report.counts == {"date_invalid": 50}
    assert report.problems_not_kept == 45


def test_progress_is_reported_with_the_fraction_read(write):
    body = "id,create_date_time,emails\n" + "".join(
        f"{i},10.01.2024,u{i}@e.ru\n" for i in range(30)
    )
    calls = []
    source = open_source(write(body))
    process(source, suggest_mapping(source.columns, []),
            Options(now=NOW, progress_every=10),
            progress=lambda done, fraction: calls.append((done, fraction)))  # fmt: skip
    assert calls[-1] == (30, 1.0)


def test_formula_without_value_is_an_error_not_an_empty_value(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["id", "create_date_time", "emails", "revenue"])
    book.active.append(["A", "10.01.2024", "a@b.ru", "=1+1"])
    book.save(tmp_path / "f.xlsx")
    report, _ = run(tmp_path / "f.xlsx")
    assert report.rows_invalid == 1
    assert report.problems[0].message_en == (
        "Row 2, column «revenue»: the cell holds a formula with no saved result. "
        "Open the file in Excel, let it recalculate, and save it again."
    )


def test_extra_values_past_the_header_are_an_error(write):
    report, _ = run(write("id,create_date_time,emails\nA,10.01.2024,a@b.ru,oops\n"))
    assert report.problems[0].message_en == (
        "Row 2 has 4 values, more than the 3 columns in the header; the values may be "
        "shifted."
    )


def test_nul_bytes_are_removed_with_a_warning(write):
    report, out = run(write("id,create_date_time,emails\nA\x00,10.01.2024,a@b.ru\n"))
    assert out.splitlines()[1] == "A,2024-01-10,a@b.ru"
    assert report.counts == {"value_repaired": 1}


def test_huge_cell_is_a_row_error_not_a_crash(write):
    report, _ = run(write("id,create_date_time,emails\n" + "x" * 200_000
                          + ",10.01.2024,a@b.ru\n"))  # fmt: skip
    assert report.problems[0].message_en == (
        "Row 2, column «id»: the value is 200000 characters long, more than the 100 "
        "allowed for id."
    )


def test_unmapped_columns_never_reach_the_metrika_file(write):
    body = "id,create_date_time,emails,Комментарий\nA,10.01.2024,a@b.ru,+7 912 000\n"
    _, out = run(write(body))
    assert out == "id,create_date_time,emails\nA,2024-01-10,a@b.ru\n"


def test_control_characters_still_export_to_xlsx(write, tmp_path):
    from ordersync.orderfile import write_problem_xlsx

    path = write("id,create_date_time,emails\nA\x0b\x1b,bad,a@b.ru\n")
    source = open_source(path)
    report = validate(source, suggest_mapping(source.columns, []), Options(now=NOW))
    write_problem_xlsx(source, report, tmp_path / "p.xlsx")
    assert (tmp_path / "p.xlsx").stat().st_size > 0
