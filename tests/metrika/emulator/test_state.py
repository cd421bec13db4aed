import copy

from ordersync.metrika.emulator.state import EmulatorState, UploadRecord, merge_order
from tests.metrika.conftest import SEED

FIRST = {
    "id": "o1",
    "create_date_time": "2024-01-10 11:56",
    "emails": "a@b.ru,c@d.ru",
    "revenue": "100",
    "order_status": "IN_PROGRESS",
    "currency": "EUR",
}


def test_new_order_defaults_to_paid():
    order = merge_order(None, {**FIRST, "order_status": ""}, "UPDATE")

    assert order["order_status"] == "PAID"
    assert order["emails"] == ["a@b.ru", "c@d.ru"]


def test_save_replaces_and_empties_what_is_left_out():
    stored = merge_order(None, FIRST, "SAVE")

    order = merge_order(
        stored,
        {"id": "o1", "create_date_time": "2024-02-01", "emails": "a@b.ru,e@f.ru"},
        "SAVE",
    )

    assert order["emails"] == ["a@b.ru", "e@f.ru"]
    assert order["revenue"] is None and order["currency"] is None
    assert order["order_status"] == "PAID"
    assert order["create_date_time"] == "2024-01-10 11:56"


def test_update_changes_only_what_is_present():
    stored = merge_order(None, FIRST, "SAVE")

    order = merge_order(
        stored,
        {"id": "o1", "create_date_time": "x", "emails": "a@b.ru,e@f.ru", "revenue": ""},
        "UPDATE",
    )

    assert order["emails"] == ["a@b.ru", "e@f.ru"]
    assert order["revenue"] == "100" and order["order_status"] == "IN_PROGRESS"
    assert order["create_date_time"] == "2024-01-10 11:56"


def test_append_unions_lists():
    stored = merge_order(None, FIRST, "SAVE")

    order = merge_order(
        stored,
        {
            "id": "o1",
            "create_date_time": "x",
            "emails": "a@b.ru,e@f.ru",
            "revenue": "5",
        },
        "APPEND",
    )

    assert order["emails"] == ["a@b.ru", "c@d.ru", "e@f.ru"]
    assert order["revenue"] == "5"


def test_rows_without_id_pile_up_as_new_orders():
    state = EmulatorState(copy.deepcopy(SEED))
    for number in range(2):
        record = UploadRecord(101, f"u{number}", 0.0, "PASSED", 1)
        state.add_upload(record, [{**FIRST, "id": ""}])

    assert len(state.orders_json(101)["anonymous_orders"]) == 2
    assert state.orders_json(101)["orders"] == {}


def test_failed_upload_changes_no_orders():
    state = EmulatorState(copy.deepcopy(SEED))
    state.add_upload(UploadRecord(101, "u", 0.0, "FAILED", 1), [FIRST])

    assert state.orders_json(101)["orders"] == {}
    assert len(state.uploads) == 1
