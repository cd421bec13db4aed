import io
from array import array
from pathlib import Path

import pytest

from ordersync.orderfile.writer import MetrikaWriter


def test_rows_are_written_rfc4180_with_lf_and_no_bom(tmp_path):
    out = io.BytesIO()
    writer = MetrikaWriter(out, ["id", "emails"], workdir=tmp_path)
    writer.write_rows([(2, ["A", "a@b.ru,c@d.ru"]), (3, ['say "hi"', ""])])
    writer.finish()
    assert out.getvalue() == b'id,emails\nA,"a@b.ru,c@d.ru"\n"say ""hi""",\n'


def test_dropped_rows_are_removed_from_every_part(tmp_path):
    target = tmp_path / "out.csv"
    writer = MetrikaWriter(target, ["id"], part_size=12, workdir=tmp_path)
    writer.write_block(b"r2\nr3\nr4\nr5\n", array("I", [2, 3, 4, 5]))
    paths = writer.finish(drop={3, 5})
    assert [Path(p).read_bytes() for p in paths] == [b"id\nr2\nr4\n"]


def test_part_size_smaller_than_the_header_is_refused(tmp_path):
    with pytest.raises(ValueError):
        MetrikaWriter(tmp_path / "o.csv", ["create_date_time"], part_size=5,
                      workdir=tmp_path)  # fmt: skip
