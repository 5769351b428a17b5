"""The reply body read below httpx: chunked decoding, and the whole client against scripted gateways on loopback.

A scripted gateway (a raw asyncio server) writes the response bytes exactly as given, each
piece its own write, so chunk boundaries, line endings, codings and broken bodies are the
test's to choose; every reply must still give every token in order, and the connection must
be reused after [DONE] and never after a broken body.
"""
from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import random
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import h11
import httpx
import pytest

from gateways.wire.body import ChunkedBody, HttpxBody, Ready, open_body
from gateways.wire.chunked import ChunkedDecoder, ChunkedError
from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, Finish, Usage

# Decoding -----------------------------------------------------------------------------------------


def chunk(data: bytes, extension: bytes = b"") -> bytes:
    return b"%x%s\r\n%s\r\n" % (len(data), extension, data)


BODY = chunk(b"data: one\n\n") + chunk(b"data: t", b";name=value") + chunk(b"wo\n\n") + b"0\r\nX-Trailer: 1\r\n\r\n"


def test_every_split_of_a_chunked_body_decodes_the_same() -> None:
    for cut in range(len(BODY) + 1):
        decoder = ChunkedDecoder()
        payload = decoder.feed(BODY[:cut]) + decoder.feed(BODY[cut:])
        assert payload == b"data: one\n\ndata: two\n\n" and decoder.done and decoder.extra == b""
    decoder = ChunkedDecoder()
    assert b"".join(decoder.feed(bytes([b])) for b in BODY) == b"data: one\n\ndata: two\n\n"
    assert decoder.done


def test_bytes_after_the_end_are_kept_apart() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(chunk(b"x") + b"0\r\n\r\nHTTP/1.1") == b"x"
    assert decoder.done and decoder.extra == b"HTTP/1.1"


@pytest.mark.parametrize("bad", [b"zz\r\nab\r\n", b"2\r\nabXY", b"\r\n", b"-1\r\n", b"1" * 5000])
def test_a_broken_chunked_body_is_an_error(bad: bytes) -> None:
    with pytest.raises(ChunkedError):
        ChunkedDecoder().feed(bad)


def test_at_boundary_only_between_chunks() -> None:
    decoder = ChunkedDecoder()
    assert decoder.at_boundary
    decoder.feed(chunk(b"abc"))
    assert decoder.at_boundary
    decoder.feed(b"3\r\na")
    assert not decoder.at_boundary


def _h11_payload(pieces: list[bytes]) -> tuple[bytes, bool]:
    """What h11 (httpx's parser, the one this replaces) makes of the same bytes."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert isinstance(conn.next_event(), h11.Response)
    out, done = b"", False
    for piece in pieces:
        conn.receive_data(piece)
        while (event := conn.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Data):
                out += event.data
            elif isinstance(event, h11.EndOfMessage):
                done = True
                break
        if done:
            break
    return out, done


def test_random_bodies_and_splits_decode_as_h11_decodes_them() -> None:
    rng = random.Random(12)
    for _ in range(300):
        events = [f"data: {json.dumps({'t': 'w' * rng.randint(0, 40) + '😀é'})}\n\n".encode()
                  for _ in range(rng.randint(1, 12))]
        stream = b"".join(events)
        body, at = b"", 0
        while at < len(stream):  # chunks that cut events, lines and characters anywhere
            size = rng.randint(1, 90)
            body += chunk(stream[at:at + size], b";x=1" if rng.random() < 0.1 else b"")
            at += size
        body += b"0\r\n\r\n"
        cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.randint(0, 20))))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        decoder = ChunkedDecoder()
        ours = b"".join(decoder.feed(piece) for piece in pieces)
        assert (ours, decoder.done) == _h11_payload(pieces) == (stream, True)


# A scripted gateway on loopback ---------------------------------------------------------------------

Script = Callable[[int], list[bytes]]  # the n-th request on the server -> the response's writes


class Gateway:
    """Answers each request with its script's writes, one write at a time, keeping the connection open."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []
        self.hung_up = asyncio.Event()  # set once this side has closed a connection

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.bodies.append(await reader.readexactly(length))
                self.requests.append(head)
                for piece in self.script(len(self.requests) - 1):
                    if piece == CLOSE:
                        return
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.002)  # its own write, usually its own read on the other side
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
            self.hung_up.set()


CLOSE = b"<close>"


@asynccontextmanager
async def gateway(script: Script) -> AsyncIterator[tuple[Gateway, Endpoint]]:
    served = Gateway(script)
    server = await asyncio.start_server(served.handle, "127.0.0.1", 0)
    async with server:
        yield served, Endpoint(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", "k", max_retries=0)


def sse(data: dict[str, object] | str, newline: bytes = b"\n") -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return b"data: " + text.encode() + newline + newline


def token(text: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}}]}


FINISH = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
USAGE = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}
TOKENS = [" one", " two 😀", " three"]


def events_bytes(newline: bytes = b"\n") -> bytes:
    return b"".join(sse(token(t), newline) for t in TOKENS) + sse(FINISH, newline) + sse(USAGE, newline) \
        + sse("[DONE]", newline)


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunked(pieces: list[bytes]) -> list[bytes]:
    """Each piece as its own chunk, in its own write; the body's end in the last write."""
    writes = [chunk(piece) for piece in pieces if piece]
    writes[-1] += b"0\r\n\r\n"
    return writes


REQUEST = ChatRequest("grok-4-fast-non-reasoning", [{"role": "user", "content": "hi"}])


async def reply(client: UpstreamClient, endpoint: Endpoint, coalesce_s: float = 0.0) -> list[object]:
    return [event async for event in client.stream(endpoint, REQUEST, coalesce_s=coalesce_s, join_text=coalesce_s > 0)]


def assert_whole(events: list[object], coalesced: bool = False) -> None:
    """Every token in order; coalesced (the relay's reads), the tokens of one read may come as one delta."""
    texts = [e.text for e in events if isinstance(e, ContentDelta)]
    if coalesced:
        assert "".join(texts) == "".join(TOKENS) and all(texts)
    else:
        assert texts == TOKENS
    assert any(isinstance(e, Finish) for e in events) and isinstance(events[-1], Usage)


def split_everywhere(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 40, 1000])
async def test_chunks_that_cut_events_json_strings_and_characters_give_every_token(size: int) -> None:
    """Chunk boundaries anywhere: inside `data:`, inside a JSON string, inside a UTF-8 emoji."""
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked(split_everywhere(events_bytes(), size))]) as (gw, endpoint):
        async with UpstreamClient() as client:
            for _ in range(2):
                assert_whole(await reply(client, endpoint))
    assert gw.connections == 1  # read to its end after [DONE]: the connection serves the next reply


async def test_a_surrogate_pair_escaped_and_split_across_chunks_is_one_character() -> None:
    event = b'data: {"choices": [{"index": 0, "delta": {"content": " x \\ud83d\\ude00 y"}}]}\n\n'
    cut = event.index(b"\\ude00")
    writes = chunked([event[:cut], event[cut:cut + 3], event[cut + 3:], sse(FINISH), sse("[DONE]")])
    async with gateway(lambda n: [CHUNKED_HEAD, *writes]) as (_, endpoint), UpstreamClient() as client:
        events = await reply(client, endpoint)
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == " x 😀 y"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
async def test_every_line_ending(newline: bytes) -> None:
    data = events_bytes(newline)
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked(split_everywhere(data, 5))]) as (gw, endpoint):
        async with UpstreamClient() as client:
            assert_whole(await reply(client, endpoint))
            assert_whole(await reply(client, endpoint))
    assert gw.connections == 1


async def test_headers_and_first_chunks_in_one_write_still_reuse_the_connection() -> None:
    pieces = chunked(split_everywhere(events_bytes(), 30))
    async with gateway(lambda n: [CHUNKED_HEAD + pieces[0] + pieces[1], *pieces[2:]]) as (gw, endpoint):
        async with UpstreamClient() as client:
            for _ in range(3):
                assert_whole(await reply(client, endpoint, coalesce_s=0.01), coalesced=True)
    assert gw.connections == 1


async def test_a_whole_reply_in_one_write_with_its_headers() -> None:
    async with gateway(lambda n: [CHUNKED_HEAD + b"".join(chunked([events_bytes()]))]) as (gw, endpoint):
        async with UpstreamClient() as client:
            for _ in range(2):
                assert_whole(await reply(client, endpoint))
    assert gw.connections == 1


async def test_a_gzip_body_is_read_though_identity_was_asked_for() -> None:
    data = gzip.compress(events_bytes())
    head = CHUNKED_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
    async with gateway(lambda n: [head, *chunked(split_everywhere(data, 16))]) as (gw, endpoint):
        async with UpstreamClient() as client:
            assert_whole(await reply(client, endpoint))
            assert_whole(await reply(client, endpoint))
    assert b"accept-encoding: identity" in gw.requests[0].lower()


async def test_a_content_length_body() -> None:
    data = events_bytes()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n" % len(data)
    async with gateway(lambda n: [head, *split_everywhere(data, 11)]) as (gw, endpoint):
        async with UpstreamClient() as client:
            assert_whole(await reply(client, endpoint))
            assert_whole(await reply(client, endpoint))
    assert gw.connections == 1


@pytest.mark.parametrize("broken", [
    [chunk(sse(token(" one"))), b"40\r\ndata: {\"choi", CLOSE],  # closed inside a chunk
    [chunk(sse(token(" one"))), CLOSE],  # closed between chunks, no [DONE], no end
    [chunk(sse(token(" one"))), b"zz\r\n"],  # not chunked coding
], ids=["inside-a-chunk", "between-chunks", "malformed"])
async def test_a_body_broken_midway_is_an_error_with_the_text_so_far_and_a_new_connection_after(
        broken: list[bytes]) -> None:
    def script(n: int) -> list[bytes]:
        return [CHUNKED_HEAD, *broken] if n == 0 else [CHUNKED_HEAD, *chunked([events_bytes()])]

    async with gateway(script) as (gw, endpoint), UpstreamClient() as client:
        seen: list[object] = []
        with pytest.raises(UpstreamError) as raised:
            async for event in client.stream(endpoint, REQUEST):
                seen.append(event)
        assert raised.value.code == "upstream_unavailable"
        assert [e.text for e in seen if isinstance(e, ContentDelta)] == [" one"]
        assert_whole(await reply(client, endpoint))  # the broken connection is not reused
    assert gw.connections == 2


async def test_a_stop_midway_closes_the_connection() -> None:

    def script(n: int) -> list[bytes]:
        return [CHUNKED_HEAD, chunk(sse(token(" one")))] if n == 0 else [CHUNKED_HEAD, *chunked([events_bytes()])]

    async with gateway(script) as (gw, endpoint), UpstreamClient() as client:
        stream = client.stream(endpoint, REQUEST)
        assert isinstance(await anext(stream), ContentDelta)
        await stream.aclose()  # type: ignore[attr-defined]  # the user pressed stop
        assert_whole(await reply(client, endpoint))
    assert gw.connections == 2


async def test_the_fast_reader_is_the_one_used_for_a_plain_chunked_stream() -> None:
    """The reader under httpx is taken for what gateways send, and httpx's own for the rest."""
    head_gzip = CHUNKED_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
    cases = [(CHUNKED_HEAD, ChunkedBody), (head_gzip, HttpxBody),
             (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HttpxBody)]
    for head, kind in cases:
        async with gateway(lambda n, head=head: [head]) as (_, endpoint), httpx.AsyncClient() as http:
            async with http.stream("GET", endpoint.base_url) as response:
                body = await open_body(response)
                assert type(body) is kind
                await body.aclose()


async def test_a_connection_the_gateway_closed_while_idle_is_not_reused() -> None:
    """A connection handed back to the pool after [DONE] is still checked before reuse: hung up, it is replaced."""
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([events_bytes()]), CLOSE]) as (gw, endpoint):
        async with UpstreamClient() as client:
            assert_whole(await reply(client, endpoint))
            async with asyncio.timeout(10):
                await gw.hung_up.wait()
            assert_whole(await reply(client, endpoint))
    assert gw.connections == 2


@pytest.mark.parametrize("text", ["olá 😀 \u2028 \"quoted\"", "a lone \ud800 half"], ids=["unicode", "lone-surrogate"])
async def test_the_request_body_carries_the_messages_exactly(text: str) -> None:
    request = ChatRequest("grok-4-fast-non-reasoning", [{"role": "user", "content": text}], {"temperature": 0.5})
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([events_bytes()])]) as (gw, endpoint):
        async with UpstreamClient() as client:
            assert_whole([event async for event in client.stream(endpoint, request)])
    sent = json.loads(gw.bodies[0])
    assert sent["messages"] == [{"role": "user", "content": text}] and sent["temperature"] == 0.5
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


# A read after a pause takes what the socket holds without the event loop (body.Ready) ---------------


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for 127.0.0.1 and a client context that trusts it (a gateway's HTTPS, on loopback)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@asynccontextmanager
async def tls_gateway(script: Script, tmp_path: Path) -> AsyncIterator[tuple[Gateway, Endpoint, UpstreamClient]]:
    server_context, client_context = _self_signed(tmp_path)
    served = Gateway(script)
    server = await asyncio.start_server(served.handle, "127.0.0.1", 0, ssl=server_context)
    async with server:
        endpoint = Endpoint(f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", "k", max_retries=0)
        async with UpstreamClient(transport=httpx.AsyncHTTPTransport(verify=client_context)) as client:
            yield served, endpoint, client


class CountingReady:
    """Counts the reads `Ready` served (and those it left to httpcore), around the real one."""

    served = 0
    passed = 0

    def __init__(self, real: Ready) -> None:
        self.real = real

    def read(self) -> bytes | None:
        data = self.real.read()
        if data is None:
            CountingReady.passed += 1
        else:
            CountingReady.served += 1
        return data

    async def flush(self) -> None:
        await self.real.flush()


@pytest.fixture
def counted_ready(monkeypatch: pytest.MonkeyPatch) -> type[CountingReady]:
    real_of = Ready.of
    CountingReady.served = CountingReady.passed = 0

    def of(network: object) -> object:
        ready = real_of(network)
        assert ready is not None, "a plain or TLS connection of httpx's must have its ready reader"
        return CountingReady(ready)

    monkeypatch.setattr(Ready, "of", staticmethod(of))
    return CountingReady


def paced_writes(size: int = 9) -> list[bytes]:
    """Many small chunks, each its own write: a paced reader finds several waiting after each pause."""
    return [CHUNKED_HEAD, *chunked(split_everywhere(events_bytes(), size))]


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_reads_after_a_pause_take_what_the_socket_holds_over_plain_and_tls(
        scheme: str, tmp_path: Path, counted_ready: type[CountingReady]) -> None:
    """Every token in order and the connection reused, whether the socket had bytes waiting or not."""
    if scheme == "https":
        context = tls_gateway(lambda n: paced_writes(), tmp_path)
    else:
        @asynccontextmanager
        async def plain() -> AsyncIterator[tuple[Gateway, Endpoint, UpstreamClient]]:
            async with gateway(lambda n: paced_writes()) as (gw, endpoint), UpstreamClient() as client:
                yield gw, endpoint, client
        context = plain()
    async with context as (gw, endpoint, client):
        for _ in range(3):
            assert_whole(await reply(client, endpoint, coalesce_s=0.01), coalesced=True)
    assert gw.connections == 1
    assert counted_ready.served > 0  # it was used, over TLS too (not only on plaintext)


async def test_a_tls_gateway_that_hangs_up_midway_is_an_error_and_the_next_reply_a_new_connection(
        tmp_path: Path, counted_ready: type[CountingReady]) -> None:
    pieces = chunked(split_everywhere(events_bytes(), 9))

    def script(n: int) -> list[bytes]:
        return [CHUNKED_HEAD, *pieces[:8], CLOSE] if n == 0 else paced_writes()

    async with tls_gateway(script, tmp_path) as (gw, endpoint, client):
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint, coalesce_s=0.01)
        assert raised.value.code == "upstream_unavailable"
        assert_whole(await reply(client, endpoint, coalesce_s=0.01), coalesced=True)
    assert gw.connections == 2


async def test_a_stop_during_paced_tls_reads_closes_the_connection(tmp_path: Path) -> None:
    async with tls_gateway(lambda n: paced_writes(), tmp_path) as (gw, endpoint, client):
        stream = client.stream(endpoint, REQUEST, coalesce_s=0.01, join_text=True)
        seen = [await anext(stream) for _ in range(2)]
        await stream.aclose()  # type: ignore[attr-defined]  # the user pressed stop
        assert all(isinstance(e, ContentDelta) for e in seen)
        assert_whole(await reply(client, endpoint, coalesce_s=0.01), coalesced=True)
    assert gw.connections == 2


def test_ready_is_not_used_for_what_it_does_not_know() -> None:
    class Unknown:
        _stream = object()

    assert Ready.of(Unknown()) is None and Ready.of(object()) is None
