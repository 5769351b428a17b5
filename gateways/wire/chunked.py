"""HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), decoded from raw bytes. Pure.

A gateway sends each token as its own chunk. Decoded by h11 under httpx, every chunk is an
event walked up through httpcore and httpx one at a time (about 15 µs a token); decoded here,
a read of many chunks is a few `bytes.find` calls and one join (gateways.wire.body).
As strict as h11: a chunk-size line ends in CRLF, chunk data is followed by CRLF.
"""
from __future__ import annotations

_HEX = frozenset(b"0123456789abcdefABCDEF")
MAX_LINE = 4096  # a chunk-size or trailer line longer than this is not HTTP


class ChunkedError(ValueError):
    """The body is not valid chunked coding (the connection cannot be trusted any more)."""


class ChunkedDecoder:
    """Feed the body's bytes as they arrive; get the payload they complete.

    `done` once the last chunk and its (ignored) trailers have ended; bytes after that are kept
    in `extra` (a server that sends any is not one whose connection to reuse).
    """

    __slots__ = ("_buffer", "_crlf", "_left", "_trailers", "done", "extra")

    def __init__(self) -> None:
        self._buffer = b""
        self._left = 0  # payload bytes still due in the current chunk
        self._crlf = 0  # bytes of the CRLF after chunk data still due (2, 1 or 0)
        self._trailers = False  # the last chunk was seen: reading trailer lines up to an empty one
        self.done = False
        self.extra = b""

    @property
    def at_boundary(self) -> bool:
        """Between two chunks, nothing of the next one seen: `0\\r\\n\\r\\n` would end the body cleanly."""
        return not (self._buffer or self._left or self._crlf or self._trailers or self.done)

    def feed(self, data: bytes) -> bytes:
        if self.done:
            self.extra += data
            return b""
        buffer = self._buffer + data if self._buffer else data
        size = len(buffer)
        out: list[bytes] = []
        pos = 0
        if not (self._buffer or self._left or self._crlf or self._trailers):
            pos = _whole_chunks(buffer, out)  # what a gateway sends: whole chunks, read together
        while pos < size:
            if self._left:
                end = min(size, pos + self._left)
                out.append(buffer[pos:end])
                self._left -= end - pos
                pos = end
                if self._left:
                    break
                self._crlf = 2
                continue
            if self._crlf:
                want = b"\r\n"[2 - self._crlf:]
                got = buffer[pos:pos + len(want)]
                if not want.startswith(got):
                    raise ChunkedError("chunk data not followed by CRLF")
                self._crlf -= len(got)
                pos += len(got)
                continue
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                if size - pos > MAX_LINE:
                    raise ChunkedError("chunk-size line too long")
                break
            line = buffer[pos:end]
            pos = end + 2
            if self._trailers:
                if not line:  # the empty line that ends the trailers, and the body
                    self.done = True
                    self.extra = buffer[pos:]
                    pos = size
                continue
            self._left = _chunk_size(line)
            if not self._left:
                self._trailers = True
        self._buffer = buffer[pos:] if pos < size else b""
        if len(self._buffer) > MAX_LINE:
            raise ChunkedError("chunk-size line too long")
        return out[0] if len(out) == 1 else b"".join(out)


def _whole_chunks(buffer: bytes, out: list[bytes]) -> int:
    """The payloads of the whole non-empty chunks at the start of `buffer` into `out`; returns where they end.

    The same rules as `feed`'s loop, a chunk at a time instead of a state at a time: a chunk-size line
    of hex digits only (anything else, the last chunk, or a chunk not all there, is left to the loop).
    """
    pos, size = 0, len(buffer)
    find = buffer.find
    while True:
        end = find(b"\r\n", pos, pos + 18)
        if end <= pos:
            return pos
        line = buffer[pos:end]
        if not _HEX.issuperset(line):
            return pos  # extensions, spaces or an error: the loop's rules
        start = end + 2
        stop = start + int(line, 16)
        if stop == start or stop + 2 > size or buffer[stop:stop + 2] != b"\r\n":
            return pos
        out.append(buffer[start:stop])
        pos = stop + 2


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].rstrip(b" \t")
    if not digits or len(digits) > 20 or not _HEX.issuperset(digits):  # h11's bound: zero-padded sizes pass
        raise ChunkedError("bad chunk-size line")
    return int(digits, 16)
