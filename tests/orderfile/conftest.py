import datetime as dt
from pathlib import Path

import pytest

from ordersync.orderfile import Options

EXAMPLE = (
    "id,create_date_time,client_uniq_id,client_ids,emails,phones,order_status,"
    "revenue,cost,goals,currency\n"
    's_ord1,10.01.2024 11:56,s_user1,,"mail@example.com,mail2@example.com",,PAID,'
    '200,150,"oplata_cash:200,filial_1",\n'
    "s_ord2,20.01.2024 11:59,,12345,mail3@example.com,,,200,150,,EUR\n"
    ",12.02.2024,,34456,,79876543210,SPAM,,,plohoy_lead,\n"
)
NOW = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def write(tmp_path: Path):
    def _write(content: str | bytes, name: str = "orders.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return _write


@pytest.fixture
def options() -> Options:
    return Options(now=NOW)
