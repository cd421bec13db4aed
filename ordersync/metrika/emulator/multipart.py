"""A streaming reader for request bodies and ``multipart/form-data``.

The emulator takes 1 GB uploads, so nothing here holds more than a few blocks of
the body in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from ordersync.metrika.errors import MultipartFormatError

BLOCK = 256 * 1024
MAX_HEADER_BYTES = 16 * 1024


class BodyReader(io.RawIOBase):
    """Read exactly the request body from the socket: Content-Length or chunked."""

    def __init__(self, rfile: BinaryIO, content_length: int | None, chunked: bool):
        self._rfile = rfile
        self._chunked = chunked
        self._remaining = content_length or 0
        self._chunk_left = 0
        self._done = not chunked and not content_length
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read_block(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read_block(self, size: int | None = None) -> bytes:
        """Return up to ``size`` body bytes; b"" at the end of the body."""
        size = size or BLOCK
        if self._done:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                line = self._rfile.readline(1024)
                chunk_size = int(line.split(b";")[0].strip() or b"0", 16)
                if chunk_size == 0:
                    while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    self._done = True
                    return b""
                self._chunk_left = chunk_size
            data = self._rfile.read(min(size, self._chunk_left))
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._rfile.readline(16)
        else:
            data = self._rfile.read(min(size, self._remaining))
            self._remaining -= len(data)
            if self._remaining == 0:
                self._done = True
        if not data:
            raise ConnectionError("client closed the connection mid-body")
        self.bytes_read += len(data)
        return data

    def drain(self) -> None:
        """Read and discard what is left, so the connection can be reused."""
        while self.read_block():
            pass


class Part(io.RawIOBase):
    """One part's content, read up to the next boundary."""

    def __init__(self, reader: MultipartReader, headers: dict[str, str]):
        self._reader = reader
        self.headers = headers
        self.name, self.filename = _disposition(headers.get("content-disposition", ""))
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._reader.read_part(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)

    def drain(self) -> None:
        """Skip the rest of this part."""
        while self._reader.read_part(BLOCK):
            pass


def _disposition(value: str) -> tuple[str, str | None]:
    name, filename = "", None
    for item in value.split(";")[1:]:
        key, _, raw = item.strip().partition("=")
        raw = raw.strip().strip('"')
        if key.lower() == "name":
            name = raw
        elif key.lower() == "filename":
            filename = raw
    return name, filename


class MultipartReader:
    """Iterate the parts of a multipart body without buffering it."""

    def __init__(self, body: BodyReader, boundary: str):
        self._body = body
        self._delimiter = b"\r\n--" + boundary.encode("latin-1")
        self._buffer = b""
        self._in_part = False

    def _fill(self) -> bool:
        data = self._body.read_block()
        self._buffer += data
        return bool(data)

    def parts(self) -> Iterator[Part]:
        """Yield each part; whatever a consumer leaves unread is skipped."""
        # The first boundary has no CRLF in front of it.
        self._buffer = b"\r\n"
        self._in_part = True
        while True:
            while self.read_part(BLOCK):
                pass
            while len(self._buffer) < 2 and self._fill():
                pass
            if self._buffer.startswith(b"--"):
                self._body.drain()
                return
            if not self._buffer.startswith(b"\r\n"):
                raise MultipartFormatError("Malformed multipart boundary line")
            self._buffer = self._buffer[2:]
            yield Part(self, self._read_headers())

    def _read_headers(self) -> dict[str, str]:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEADER_BYTES or not self._fill():
                raise MultipartFormatError("Malformed multipart part headers")
        raw, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        headers = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        self._in_part = True
        return headers

    def read_part(self, size: int) -> bytes:
        """Return up to ``size`` bytes of the current part; b"" at its end."""
        if not self._in_part:
            return b""
        keep = len(self._delimiter)
        while True:
            index = self._buffer.find(self._delimiter)
            if index == 0:
                self._buffer = self._buffer[keep:]
                self._in_part = False
                return b""
            # Without a delimiter in sight, hold back what could be its start.
            available = index if index > 0 else len(self._buffer) - keep + 1
            if available > 0:
                break
            if not self._fill():
                raise MultipartFormatError("Multipart body ended inside a part")
        size = min(size, available)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
