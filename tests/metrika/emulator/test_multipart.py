import io

import pytest
from requests_toolbelt.multipart.encoder import MultipartEncoder

from ordersync.metrika.emulator import multipart
from ordersync.metrika.emulator.multipart import BodyReader, MultipartReader
from ordersync.metrika.errors import MultipartFormatError


def encode(fields):
    encoder = MultipartEncoder(fields=fields, boundary="XyZboundary")
    return encoder.to_string()


def read_parts(body, *, chunked=False):
    if chunked:
        framed = b"".join(
            b"%x\r\n%b\r\n" % (len(body[i : i + 5]), body[i : i + 5])
            for i in range(0, len(body), 5)
        )
        reader = BodyReader(io.BytesIO(framed + b"0\r\n\r\n"), None, True)
    else:
        reader = BodyReader(io.BytesIO(body), len(body), False)
    return [
        (part.name, part.filename, part.read())
        for part in MultipartReader(reader, "XyZboundary").parts()
    ]


@pytest.mark.parametrize("block", [1, 3, 7, 64, 256 * 1024])
@pytest.mark.parametrize("chunked", [False, True])
def test_parts_survive_any_block_split(monkeypatch, block, chunked):
    monkeypatch.setattr(multipart, "BLOCK", block)
    tricky = b"a,b\r\n--XyZboundar\r\n-\r\n--XyZ\r\nend"
    body = encode({"note": "hello", "file": ("o.csv", tricky, "text/csv")})

    parts = read_parts(body, chunked=chunked)

    assert parts == [("note", None, b"hello"), ("file", "o.csv", tricky)]


def test_unread_part_is_skipped():
    body = encode({"a": "1" * 1000, "file": ("f.csv", b"x", "text/csv")})
    reader = BodyReader(io.BytesIO(body), len(body), False)

    names = [part.name for part in MultipartReader(reader, "XyZboundary").parts()]

    assert names == ["a", "file"]
    assert reader.read_block() == b""


@pytest.mark.parametrize(
    "body",
    [b"not multipart at all", b"--XyZboundary\r\nContent-Disposition: x\r\n\r\ndata"],
)
def test_malformed_body_raises(body):
    with pytest.raises(MultipartFormatError):
        read_parts(body)


def test_client_closing_mid_body_raises_connection_error():
    reader = BodyReader(io.BytesIO(b"short"), 100, False)

    assert reader.read_block() == b"short"
    with pytest.raises(ConnectionError):
        reader.read_block()
