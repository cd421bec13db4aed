import pytest

from ordersync.orderfile import StatusDictionary, count_statuses, open_source


@pytest.mark.parametrize(
    ("raw", "status"),
    [("Оплачен", "PAID"), (" оплата ", "PAID"), ("ВЫПОЛНЕН", "PAID"), ("paid", "PAID"),
     ("Отменён", "CANCELLED"), ("отменен", "CANCELLED"), ("canceled", "CANCELLED"),
     ("В  работе", "IN_PROGRESS"), ("новый", "IN_PROGRESS"),
     ("in_progress", "IN_PROGRESS"),
     ("Спам", "SPAM"), ("", ""), ("Доставлен", None)],
)  # fmt: skip
def test_builtin_synonyms_ignore_case_spacing_and_yo(raw, status):
    assert StatusDictionary().lookup(raw) == status


def test_user_additions_extend_the_dictionary_and_round_trip():
    statuses = StatusDictionary({"Доставлен": "paid"})
    assert statuses.lookup("доставлен") == "PAID"
    assert StatusDictionary.from_dict(statuses.to_dict()).lookup("ДОСТАВЛЕН") == "PAID"
    with pytest.raises(ValueError):
        statuses.add("x", "DELIVERED")


def test_distinct_statuses_are_counted_for_the_wizard(write):
    path = write("id,Статус\n1,Оплачен\n2,оплачен\n3,Доставлен\n4,\n")
    assert count_statuses(open_source(path), "Статус") == [
        {"value": "Оплачен", "rows": 2, "status": "PAID"},
        {"value": "Доставлен", "rows": 1, "status": None},
        {"value": "", "rows": 1, "status": ""},
    ]


def test_statuses_counted_with_polars_match_a_count_row_by_row(write, monkeypatch):
    from collections import Counter

    from ordersync.orderfile import reader
    from ordersync.orderfile.statuses import status_key

    monkeypatch.setattr(reader, "_FIRST_CHUNK_BYTES", 64)
    raws = ["Оплачен", " оплачен ", "ОПЛАЧЕН", "Доставлен", "", "new", "New ", "спам"]
    body = "id,Статус\n" + "".join(f"{i},{raws[i * i % 8]}\n" for i in range(500))
    source = open_source(write(body))
    assert any(b.frame is not None for b in source.iter_batches())
    counts, first = Counter(), {}
    for _, values in source.iter_rows():
        key = status_key(values[1].strip())
        counts[key] += 1
        first.setdefault(key, values[1].strip())
    expected = [(first[k], n) for k, n in counts.most_common()]
    found = count_statuses(source, "Статус")
    assert [(c["value"], c["rows"]) for c in found] == expected
