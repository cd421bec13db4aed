"""The fast path must give exactly what the per-row reference gives."""

import datetime as dt
import io
import json
import random
import sys
from pathlib import Path

import pytest

from ordersync.orderfile import Options, open_source, process, suggest_mapping

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import gen

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def both(path, **kwargs):
    results = []
    for fast in (False, True):
        # The fast run opens the file as the pipeline's callers do.
        source = open_source(path, read_ahead=fast)
        mapping = suggest_mapping(source.columns, [v for _, v in source.preview(50)])
        out = io.BytesIO()
        report = process(
            source, mapping, Options(now=NOW, fast=fast, **kwargs), output=out
        )
        data = report.to_dict("en")
        results.append((out.getvalue(), json.dumps(data, sort_keys=True), report))
    return results


@pytest.mark.parametrize(
    ("seed", "kwargs"),
    [(1, {}), (2, {"hash_pii": True}), (3, {"duplicates": "keep_last"}),
     (4, {"timezone": "Asia/Vladivostok", "max_problems": 10})],
)  # fmt: skip
def test_fast_path_gives_identical_file_and_report_on_messy_data(
    tmp_path, seed, kwargs
):
    # Past the first 64 KB chunk (read by csv.reader), chunks go to polars.
    path = gen.write_csv(tmp_path / "m.csv", 6000, seed=seed)
    (ref, ref_report, _), (fast, fast_report, report) = both(path, **kwargs)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows > 0


def test_fast_path_is_used_for_chunks_after_the_first(tmp_path, monkeypatch):
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_CHUNK_BYTES", 64 * 1024)
    path = gen.write_csv(tmp_path / "m.csv", 5000, seed=9)
    (ref, ref_report, _), (fast, fast_report, report) = both(path)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows > 3000


def test_tricky_chunks_fall_back_to_csv_reader(tmp_path, monkeypatch):
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_CHUNK_BYTES", 256)
    rng = random.Random(5)
    lines = ["id,create_date_time,emails,Комментарий"]
    for i in range(300):
        comment = rng.choice(['"a\nb"', 'x"y', '"q""q"', "", '" lead"', "\x00"])
        blank = "\n" if rng.random() < 0.05 else ""
        lines.append(f"{i},10.01.2024 10:00,u{i}@e.ru,{comment}{blank}")
    path = tmp_path / "t.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    (ref, ref_report, _), (fast, fast_report, _) = both(path)
    assert fast == ref
    assert fast_report == ref_report


def test_dates_of_every_shape_and_edge_give_identical_results(tmp_path, monkeypatch):
    # The fast path rewrites each date shape into one format before parsing.
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_FIRST_CHUNK_BYTES", 64)
    dates = [
        "2026-10-05 11:41:57", "2026-10-05 11:41", "2026-10-05", "05.10.2026 11:41:57",
        "05.10.2026 11:41", "05.10.2026", "31.02.2024", "2024-02-30 10:00",
        "29.02.2024 10:00", "29.02.2023", "10.01.2024 24:00", "2024-01-10 23:59:60",
        "2026-08-08T07:46:60Z", "2024-01-10 23:60", "00.01.2024", "10.00.2024",
        "1969-12-31 23:59:59",
        "01.01.1970", "2026-11-02", "2026-11-03", "02.11.2026 12:31",
        "02.11.2026 12:29", "2026-08-08T07:46:57+03:00", "2026-08-08T07:46:57Z",
        "2026-08-08T07:46:57", "5.10.2026", "05.10.26", "2026-10-05 1:41",
        "2026-10-05  11:41", " 05.10.2026", "05-10-2026", "2026.10.05", "",
        "05.10.2026 11:41:5", "2026-10-0511:41", "05.10.2026T11:41",
        "2026-08-04", "03.08.2026 23:59", "2026-08-04 00:00", "04.08.2026",
        "2026-08-03T21:00:00Z", "2026-08-03T20:59:59Z", "2026-11-02T09:30:00Z",
        "2026-11-02T09:30:01Z", "1970-01-01T02:59:59+03:00",
    ]  # fmt: skip
    lines = ["id,create_date_time,emails"]
    lines += [f"o{i},{d},u{i}@e.ru" for i, d in enumerate(dates * 3)]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (ref, ref_report, _), (fast, fast_report, report) = both(path)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows > 20


@pytest.mark.parametrize("region", ["RU", "DE"])
def test_phones_of_every_shape_give_identical_results(tmp_path, monkeypatch, region):
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_FIRST_CHUNK_BYTES", 64)
    phones = [
        "+7 (912) 345-67-89", "8 912 345 67 89", "89123456789", "79123456789",
        "9123456789", "+79123456789", "8-912-345-67-89", "(+7) 912 345-67-89",
        "-+79123456789", "(912) 345-67-89", "+8 912 345 67 89", "+7 (012) 345-67-89",
        "8 (212) 345-67-89", "3123456789", "+7912345678", "891234567890",
        "+49 30 123456", "7+9123456789", "+7(912)345-67-89 ", " 8 912 345 67 89",
        "8.912.345.67.89", "+7 912 345 67 89 12345678901234", "", "12345",
    ]  # fmt: skip
    lines = ["id,create_date_time,phones,Телефон 2"]
    n = len(phones)
    lines += [
        f"o{i},2026-10-30 10:00,{p},{phones[i * 7 % n] if i % 4 == 0 else ''}"
        for i, p in enumerate(phones * 3)
    ]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (ref, ref_report, _), (fast, fast_report, report) = both(path, region=region)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows >= 6


def test_lists_and_client_id_limits_give_identical_results(tmp_path, monkeypatch):
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_FIRST_CHUNK_BYTES", 64)
    client_ids = [
        "18446744073709551615", "18446744073709551616", "99999999999999999999",
        "10000000000000000000", "9999999999999999999", "1", "0", "01", "1,1",
        "1,2", "1,2,3", "18446744073709551615,1", "1,18446744073709551616",
        "1;2", "1, 2", ",1", "1,", "", "123456789012345678901",
    ]  # fmt: skip
    emails = ["a@b.ru", "a@b.ru,a@b.ru", "a@b.ru,c@d.ru", "a@b.ru;c@d.ru", "A@B.RU"]
    lines = ["id,create_date_time,client_ids,emails"]
    lines += [
        f'o{i},2026-10-30 10:00,"{c}","{emails[i % len(emails)]}"'
        for i, c in enumerate(client_ids * 3)
    ]
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (ref, ref_report, _), (fast, fast_report, report) = both(path)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows > 10


def test_amounts_of_every_shape_give_identical_results(tmp_path, monkeypatch):
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_FIRST_CHUNK_BYTES", 64)
    amounts = [
        "1234.50", "0", "0.5", "01", "1 234,50", "1\u00a0234,00", "1\u202f234",
        "1 234", "1234,5", "1234,567", "1,234.50", "12 34", "", " 12 ", "-5",
        "1.", ".5", "1 234 567,1", "1 234 567.1", "1234,", "1 234,5678", "12,34,5",
        "100", "100.00000000000000001", "100.0000000000001", "99.99999999999999",
    ]  # fmt: skip
    n = len(amounts)
    lines = ["id,create_date_time,emails,revenue,cost"]
    lines += [
        f'o{i},2026-10-30 10:00,u{i}@e.ru,"{a}","{amounts[i * 5 % n]}"'
        for i, a in enumerate(amounts * 3)
    ]
    # Cost just above revenue, past what a float tells apart.
    lines += [
        f"p{i},2026-10-30 10:00,p{i}@e.ru,{revenue},{cost}"
        for i, (revenue, cost) in enumerate(
            [("100", "100.00000000000000001"), ("100", "100.0000000000001")] * 30
        )
    ]
    path = tmp_path / "a.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (ref, ref_report, _), (fast, fast_report, report) = both(path)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows >= 5


def test_mixed_line_ends_and_blank_lines_fall_back_to_csv_reader(tmp_path, monkeypatch):
    from ordersync.orderfile import reader

    monkeypatch.setattr(reader, "_CHUNK_BYTES", 300)
    rng = random.Random(11)
    body = "id,create_date_time,emails\n"
    for i in range(400):
        end = rng.choice(["\n"] * 60 + ["\r\n", "\n\r\n", "\r\n\r\n", "\r", "\n\n"])
        body += f"o{i},2026-10-30 10:00,u{i}@e.ru{end}"
    path = tmp_path / "m.csv"
    path.write_bytes(body.encode())
    (ref, ref_report, _), (fast, fast_report, report) = both(path)
    assert fast == ref
    assert fast_report == ref_report
    assert report.fast_rows > 0
