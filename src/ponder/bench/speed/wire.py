"""Incremental HTTP/1.1 body decoding and SSE framing for the bench's lean client.

Both parsers take bytes as they arrive, whatever the boundaries, and hand back complete
pieces: :class:`ChunkedBody` the payload of ``transfer-encoding: chunked``, :class:`SSEData`
the ``data`` of each server-sent event (``data`` lines joined with newlines, comments skipped).
"""

from __future__ import annotations


class WireError(ValueError):
    """The server's bytes are not valid HTTP/1.1 or SSE."""


_SIZE, _DATA, _CRLF = 0, 1, 2


class ChunkedBody:
    def __init__(self) -> None:
        self._buffer = b""
        self._state = _SIZE
        self._need = 0  # payload bytes still to read of the current chunk
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """The payload bytes contained in ``data`` (and what was buffered before it)."""
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        pos, size = 0, len(buffer)
        while not self.done:
            if self._state == _SIZE:
                end = buffer.find(b"\r\n", pos)
                if end < 0:
                    break
                line = buffer[pos:end]
                try:
                    self._need = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise WireError(f"bad chunk size line {line[:40]!r}") from None
                pos = end + 2
                if self._need == 0:
                    self.done = True  # trailers, if any, are ignored
                    pos = size
                    break
                self._state = _DATA
            elif self._state == _DATA:
                take = min(self._need, size - pos)
                if take:
                    out.append(buffer[pos : pos + take])
                    pos += take
                    self._need -= take
                if self._need:
                    break
                self._state = _CRLF
            else:
                if size - pos < 2:
                    break
                pos += 2
                self._state = _SIZE
        self._buffer = buffer[pos:]
        return b"".join(out)


class SSEData:
    def __init__(self) -> None:
        self._pending = b""
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[str]:
        """The ``data`` of every event completed by ``data``."""
        if self._pending:
            data = self._pending + data
        lines = data.split(b"\n")
        self._pending = lines.pop()
        events: list[str] = []
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                if value.startswith(b" "):
                    value = value[1:]
                self._data.append(value.decode("utf-8", "replace"))
        return events

    def close(self) -> list[str]:
        """An event the body ended in without its blank line."""
        events = self.feed(b"\n\n") if self._pending or self._data else []
        return events
