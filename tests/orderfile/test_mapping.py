import pytest

from ordersync.orderfile import Mapping, MappingError, suggest_mapping


def test_russian_crm_headers_are_mapped_with_confidence():
    columns = ["Номер заказа", "Дата создания", "Телефон", "Телефон 2", "E-mail",
               "Сумма", "Себестоимость", "Статус", "ID клиента", "ClientID",
               "Комментарий"]  # fmt: skip
    mapping = suggest_mapping(columns, [])
    assert mapping.fields == {
        "id": ["Номер заказа"],
        "create_date_time": ["Дата создания"],
        "client_uniq_id": ["ID клиента"],
        "client_ids": ["ClientID"],
        "emails": ["E-mail"],
        "phones": ["Телефон", "Телефон 2"],
        "order_status": ["Статус"],
        "revenue": ["Сумма"],
        "cost": ["Себестоимость"],
    }
    assert mapping.ignored == ["Комментарий"]
    assert mapping.confidence["phones"] == 0.85
    assert mapping.confidence["id"] == 0.9


def test_exact_metrika_names_map_with_certainty():
    mapping = suggest_mapping(["id", "create_date_time", "emails"], [])
    assert mapping.confidence == {"id": 1.0, "create_date_time": 1.0, "emails": 1.0}


def test_unnamed_column_is_recognised_by_its_values():
    rows = [["a@b.ru"], ["c@d.ru"], ["e@f.ru"]]
    mapping = suggest_mapping(["Контакт"], rows)
    assert mapping.fields == {"emails": ["Контакт"]}
    assert mapping.confidence["emails"] == 0.6


def test_mapping_round_trips_through_json():
    mapping = Mapping(
        fields={"id": ["№"], "create_date_time": ["Дата"], "phones": ["Т1", "Т2"]},
        constants={"currency": "RUB"},
        ignored=["x"],
        confidence={"id": 0.9},
        name="amoCRM",
    )
    assert Mapping.from_dict(mapping.to_dict()) == mapping


@pytest.mark.parametrize(
    ("data", "detail"),
    [({"fields": {"bogus": ["a"]}}, "unknown field bogus"),
     ({"fields": {"id": ["a", "b"]}}, "id takes only one column"),
     ({"constants": {"emails": "x"}}, "emails cannot be a constant"),
     ({"fields": {"emails": ["a"], "phones": ["a"]}},
      "a column feeds more than one field"),
     ({"constants": [1]}, "constants is not an object"),
     ({"ignored": 5}, "ignored is not a list"),
     ({"confidence": {"id": "x"}}, "confidence"),
     ({"confidence": [0.5]}, "confidence")],
)  # fmt: skip
def test_malformed_mappings_are_refused(data, detail):
    with pytest.raises(MappingError) as caught:
        Mapping.from_dict(data)
    assert caught.value.message_en == f"The mapping cannot be used: {detail}."


def test_mapping_must_fit_the_file():
    mapping = Mapping(fields={"create_date_time": ["Дата"], "emails": ["Почта"]})
    with pytest.raises(MappingError) as caught:
        mapping.check_against(["Дата"])
    assert caught.value.message_ru == (
        "В сопоставлении есть столбец «Почта», которого нет в этом файле."
    )
    with pytest.raises(MappingError) as caught:
        Mapping(fields={"emails": ["Почта"]}).check_against(["Почта"])
    assert caught.value.code == "mapping_required_field"
