from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ordersync.metrika import Counter, TokenSet, Uploading, ValidationStatus
from ordersync.metrika.types import (
    format_metrika_datetime,
    parse_bool,
    parse_metrika_datetime,
)

# Shapes recorded in metrika-api.md: the docs' example and a real CDP fixture.
DOCS_UPLOADING = {
    "uploading_id": "string",
    "datetime": "2022-12-29T18:02:01Z",
    "api_validation_status": "PASSED",
    "elements_count": 0,
    "entity_type": "SYSTEM",
    "uploading_format": "CSV",
    "uploading_source": "API",
}
REAL_UPLOADING = {
    "uploading_id": "9556c5f6-187f-424f-9958-74b6ab7531ff",
    "datetime": "2021-03-11 16:56:02",
    "api_validation_status": "FAILED",
    "elements_count": 2,
    "entity_type": "SYSTEM",
    "entity_subtype": "contact",
    "uploading_format": "CSV",
    "uploading_source": "API",
    "uploading_title": "contacts",
}
CURRENT_COUNTER = {
    "id": 2215573,
    "status": "Active",
    "owner_login": "shop-owner",
    "name": "Shop",
    "type": "simple",
    "favorite": False,
    "permission": "edit",
    "time_zone_name": "Asia/Yekaterinburg",
    "time_zone_offset": 300,
    "site2": {"site": "shop.example"},
    "gdpr_agreement_accepted": True,
    "mirrors2": [],
}
LEGACY_COUNTER = {
    "id": 1,
    "status": "Active",
    "name": "Old",
    "site": "test.com",
    "site2": {"site": "", "domain": "test.com"},
    "code_status": "CS_OK",
    "favorite": 1,
    "gdpr_agreement_accepted": 0,
    "permission": "view",
    "hide_address": 0,
    "partner_id": 0,
    "time_zone_name": "Europe/Moscow",
    "time_zone_offset": 180,
}


def test_documented_uploading_parses():
    uploading = Uploading.from_payload(DOCS_UPLOADING)

    assert uploading.datetime == datetime(2022, 12, 29, 18, 2, 1, tzinfo=UTC)
    assert uploading.passed


def test_real_uploading_with_space_datetime_and_extra_keys_parses():
    uploading = Uploading.from_payload(REAL_UPLOADING)

    assert uploading.uploading_id == "9556c5f6-187f-424f-9958-74b6ab7531ff"
    assert uploading.datetime == datetime(2021, 3, 11, 16, 56, 2, tzinfo=UTC)
    assert uploading.api_validation_status is ValidationStatus.FAILED
    assert not uploading.passed


def test_zone_less_datetime_can_be_read_as_moscow_time():
    parsed = parse_metrika_datetime("2021-03-11 16:56:02", ZoneInfo("Europe/Moscow"))

    assert parsed == datetime(2021, 3, 11, 13, 56, 2, tzinfo=UTC)


def test_datetime_offset_is_formatted_with_a_space():
    moment = datetime(2024, 5, 1, 10, 0, 1, tzinfo=UTC)

    assert format_metrika_datetime(moment) == "2024-05-01 10:00:01"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_metrika_datetime(datetime(2024, 5, 1))


def test_current_counter_reads_site2_and_booleans():
    counter = Counter.from_payload(CURRENT_COUNTER)

    assert (counter.site, counter.gdpr_agreement_accepted) == ("shop.example", True)
    assert (counter.time_zone_name, counter.time_zone_offset) == (
        "Asia/Yekaterinburg",
        300,
    )
    assert counter.can_upload


def test_legacy_counter_reads_site_and_zero_one_booleans():
    counter = Counter.from_payload(LEGACY_COUNTER)

    assert (counter.site, counter.gdpr_agreement_accepted) == ("test.com", False)
    assert not counter.can_upload


def test_counter_without_zone_falls_back_to_moscow():
    counter = Counter.from_payload({"id": 5, "permission": "own"})

    assert counter.time_zone_name == "Europe/Moscow"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("true", True), ("0", False)],
)
def test_parse_bool(value, expected):
    assert parse_bool(value) is expected


def test_parse_bool_rejects_garbage():
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool("maybe")


def test_token_set_from_documented_payload_masks_tokens():
    now = datetime(2024, 1, 1, tzinfo=UTC)
    tokens = TokenSet.from_payload(
        {
            "token_type": "bearer",
            "access_token": "AQAAAACy1C6ZAAAAfa6vDLuItEy8pg-iIpnDxIs",
            "expires_in": 124234123534,
            "refresh_token": "1:GN686QVt0mmakDd9:A4pYuW9LGk0_UnlrMIWklk",
            "scope": "login:info login:email login:avatar",
        },
        now,
    )

    assert tokens.scope == ("login:info", "login:email", "login:avatar")
    assert tokens.expires_at.year == 2123
    assert "AQAAAACy1C6Z" not in repr(tokens) and "GN686QVt" not in repr(tokens)
