"""Gateways that do what UPSTREAM.md does not list: the client still reads them right, or fails clearly.

Each case is a scripted gateway on loopback (tests.upstream.test_body's raw server) writing the
exact bytes: content codings nobody asked for, redirects, interim responses, close-delimited
bodies, chunk extensions and trailers, an HTTP proxy named by the environment.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest

from gateways.wire.client import Endpoint, UpstreamClient
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, Finish
from tests.upstream.test_body import (
    CHUNKED_HEAD,
    CLOSE,
    FINISH,
    REQUEST,
    assert_whole,
    chunk,
    chunked,
    events_bytes,
    gateway,
    reply,
    split_everywhere,
    sse,
    token,
)

QUOTA = json.dumps({"error": {"message": "You exceeded your current quota, check your billing details.",
                              "type": "insufficient_quota"}}).encode()
COMPLETION = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                      "finish_reason": "stop"}]}).encode()


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


def coded_head(coding: str) -> bytes:
    return CHUNKED_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: " + coding.encode() + b"\r\n\r\n")


@pytest.mark.parametrize("coding, pack", [("gzip", gzip.compress), ("deflate", zlib.compress),
                                          ("deflate", _raw_deflate)], ids=["gzip", "deflate", "raw-deflate"])
async def test_a_stream_in_a_content_coding_nobody_asked_for_is_read_when_it_can_be(coding, pack) -> None:
    data = pack(events_bytes())
    async with gateway(lambda n: [coded_head(coding), *chunked(split_everywhere(data, 16))]) as (_, endpoint):
        async with UpstreamClient() as client:
            assert_whole(await reply(client, endpoint))


@pytest.mark.parametrize("coding", ["br", "zstd", "compress"])
async def test_a_content_coding_that_cannot_be_read_is_a_clear_error_not_a_dropped_stream(coding: str) -> None:
    """Brotli or zstd bytes parsed as SSE gave nothing and 'the connection closed before the reply was
    finished' (retried, then failed over as if the gateway were flaky); say what happened instead."""
    async with gateway(lambda n: [coded_head(coding), *chunked([b"\x1b\x00\xf0 not text"])]) as (gw, endpoint):
        async with UpstreamClient() as client:
            with pytest.raises(UpstreamError) as raised:
                await reply(client, endpoint)
    assert raised.value.code == "upstream_unavailable" and not raised.value.retryable
    assert f"'{coding}'" in raised.value.detail
    assert len(gw.requests) == 1  # the same gateway would answer the same way: not asked again


async def test_a_whole_answer_in_a_coding_that_cannot_be_read_is_a_clear_error() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: br\r\nContent-Length: 4\r\n\r\n"
    async with gateway(lambda n: [head + b"\x1b\x00\x00\x00"]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await client.complete(endpoint, REQUEST)
    assert raised.value.code == "upstream_unavailable" and "'br'" in raised.value.detail


@pytest.mark.parametrize("coding, pack", [("gzip", gzip.compress), ("deflate", zlib.compress),
                                          ("deflate", _raw_deflate)], ids=["gzip", "deflate", "raw-deflate"])
async def test_a_compressed_error_answer_to_a_stream_is_classified_by_its_message(coding, pack) -> None:
    """The error body of a streamed request was read raw: a gzip 429 about credits read as a rate limit,
    with compressed bytes as 'the gateway said'."""
    body = pack(QUOTA)
    head = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Encoding: %s\r\n"
            b"Content-Length: %d\r\n\r\n" % (coding.encode(), len(body)))
    async with gateway(lambda n: [head + body]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint)
    assert raised.value.code == "upstream_forbidden"  # out of credits, not a rate limit
    assert "exceeded your current quota" in raised.value.detail


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed_and_says_where_it_points(status: int) -> None:
    """As before the fast path, a redirect is not followed (the key would go wherever it points); it used to
    end as 'the connection closed before the reply was finished', retried. Now it says so, once."""
    head = (b"HTTP/1.1 %d Moved\r\nLocation: https://new.gateway.test/v1/chat/completions\r\n"
            b"Content-Type: text/html\r\nContent-Length: 5\r\n\r\nmoved" % status)
    async with gateway(lambda n: [head]) as (gw, endpoint), UpstreamClient() as client:
        for call in (reply(client, endpoint), client.complete(endpoint, REQUEST), client.list_models(endpoint)):
            with pytest.raises(UpstreamError) as raised:
                await call
            assert raised.value.code == "upstream_unavailable" and not raised.value.retryable
            assert raised.value.status == status and "https://new.gateway.test/v1" in raised.value.detail
    assert len(gw.requests) == 3  # each call once: a redirect is not retried
    assert gw.connections == 1  # and its connection (a read body) is reused


@pytest.mark.parametrize("interim", [b"HTTP/1.1 100 Continue\r\n\r\n",
                                     b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"],
                         ids=["100", "103"])
async def test_interim_responses_before_the_stream_are_skipped(interim: bytes) -> None:
    async with gateway(lambda n: [interim, CHUNKED_HEAD, *chunked(split_everywhere(events_bytes(), 20))]) as (
            gw, endpoint), UpstreamClient() as client:
        for _ in range(2):
            assert_whole(await reply(client, endpoint))
    assert gw.connections == 1


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
], ids=["HTTP/1.1-close", "HTTP/1.0"])
async def test_a_body_delimited_by_the_close_of_the_connection(head: bytes) -> None:
    async with gateway(lambda n: [head, *split_everywhere(events_bytes(), 13), CLOSE]) as (gw, endpoint):
        async with UpstreamClient() as client:
            for _ in range(2):
                assert_whole(await reply(client, endpoint))
    assert gw.connections == 2  # such a connection cannot carry another request


async def test_upper_case_sizes_extensions_and_trailers_in_separate_and_single_writes() -> None:
    data = events_bytes()
    writes = [b"%X;name=\"quoted value\"\r\n%s\r\n" % (len(piece), piece) for piece in split_everywhere(data, 150)]
    writes[-1] += b"0;last\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n"

    def script(n: int) -> list[bytes]:
        return [CHUNKED_HEAD, *writes] if n % 2 == 0 else [CHUNKED_HEAD + b"".join(writes)]

    async with gateway(script) as (gw, endpoint), UpstreamClient() as client:
        for _ in range(4):
            assert_whole(await reply(client, endpoint))
    assert gw.connections == 1


async def test_a_stream_without_done_that_finished_is_whole() -> None:
    body = b"".join(sse(token(t)) for t in [" one", " two 😀", " three"]) + sse(FINISH) + sse(
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}})
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([body])]) as (_, endpoint), UpstreamClient() as client:
        assert_whole(await reply(client, endpoint))


# An HTTP proxy the environment names -------------------------------------------------------------


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[tuple[list[bytes], str]]:
    """A plain HTTP forward proxy (absolute-form request lines), relaying to whatever the request names."""
    seen: list[bytes] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        method, target, version = head.split(b"\r\n", 1)[0].split(b" ")
        if method == b"CONNECT":  # a tunnel (an https gateway): relay bytes both ways after 200
            host, _, port = target.partition(b":")
            up_reader, up_writer = await asyncio.open_connection(host.decode(), int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            return
        assert target.startswith(b"http://"), target
        hostport, _, path = target[len(b"http://"):].partition(b"/")
        host, _, port = hostport.partition(b":")
        up_reader, up_writer = await asyncio.open_connection(host.decode(), int(port or 80))
        up_writer.write(head.replace(target, b"/" + path, 1))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield seen, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_the_proxy_the_environment_names_is_used_and_no_proxy_is_honoured(monkeypatch) -> None:
    async with forward_proxy() as (seen, proxy), gateway(
            lambda n: [CHUNKED_HEAD, *chunked(split_everywhere(events_bytes(), 30))]) as (gw, endpoint):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                     "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy)
        async with UpstreamClient() as client:
            assert_whole(await reply(client, endpoint))
            assert_whole(await client_reply_coalesced(client, endpoint), coalesced=True)
        # One proxy connection carried both (kept alive): the proxy saw the first request's absolute form.
        assert len(seen) == 1 and seen[0].startswith(b"POST " + endpoint.base_url.encode() + b"/chat/completions ")
        assert len(gw.requests) == 2
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with UpstreamClient() as client:
            assert_whole(await reply(client, endpoint))
        assert len(seen) == 1 and len(gw.requests) == 3  # straight to the gateway


async def client_reply_coalesced(client: UpstreamClient, endpoint) -> list[object]:  # type: ignore[no-untyped-def]
    return await reply(client, endpoint, coalesce_s=0.01)


async def test_a_pooled_connection_the_gateway_drops_as_the_request_arrives_is_retried_on_a_new_one() -> None:
    """Keep-alive race: the gateway closed its idle connection just as our next request went out on it. Nothing
    was answered, so the request goes again at once on a new connection, whatever the provider's retries (0
    here), and without a backoff; a gateway that does it again is an error, never a hang."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    def script(n: int) -> list[bytes]:
        return [CLOSE] if n in (1, 3, 4) else [CHUNKED_HEAD, *chunked([events_bytes()])]

    async with gateway(script) as (gw, endpoint), UpstreamClient(sleep=sleep) as client:
        assert_whole(await reply(client, endpoint))
        async with asyncio.timeout(10):
            assert_whole(await reply(client, endpoint))  # request 1 dropped, request 2 answered
            assert gw.connections == 2 and slept == []
            with pytest.raises(UpstreamError) as raised:  # requests 3 and 4 dropped: once is transparent, twice not
                await reply(client, endpoint)
        assert raised.value.code == "upstream_unavailable" and len(gw.requests) == 5



@pytest.mark.parametrize("where", ["last", "finish", "every", "none"])
async def test_usage_wherever_a_gateway_puts_it_the_last_figure_is_the_whole_reply(where, emulator_url) -> None:
    from gateways.wire.client import ChatRequest, Endpoint
    from gateways.wire.events import Usage

    request = ChatRequest("grok-4-1-fast-non-reasoning",
                          [{"role": "user", "content": f"Hi [[tokens=12]] [[usage={where}]]"}])
    async with UpstreamClient() as client:
        events = [e async for e in client.stream(Endpoint(emulator_url, "emulator", max_retries=0), request,
                                                 coalesce_s=0.005, join_text=True)]
    usages = [e for e in events if isinstance(e, Usage)]
    if where == "none":
        assert usages == []
    else:
        assert usages[-1].raw["completion_tokens"] == 12
        assert len(usages) == (12 + 1 if where == "every" else 1)


async def test_a_body_cut_after_the_finishing_chunk_still_ends_the_reply_whole() -> None:
    """The finish and the text are all there; only the chunked body's end (and perhaps usage) never came."""
    body = b"".join(sse(token(t)) for t in [" one", " two 😀", " three"]) + sse(FINISH)

    def script(n: int) -> list[bytes]:
        return [CHUNKED_HEAD, *[b"%x\r\n%s\r\n" % (len(p), p) for p in split_everywhere(body, 40)], CLOSE]

    async with gateway(script) as (gw, endpoint), UpstreamClient() as client:
        for coalesce in (0.0, 0.01):
            events = await reply(client, endpoint, coalesce_s=coalesce)
            assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == " one two 😀 three"
            assert any(isinstance(e, Finish) for e in events)
    assert gw.connections == 2  # a cut body's connection is never reused


async def test_a_body_cut_midway_keeps_a_held_half_character_as_a_replacement() -> None:
    body = b'data: {"choices": [{"index": 0, "delta": {"content": " one \\ud83d"}}]}\n\n'

    async with gateway(lambda n: [CHUNKED_HEAD, b"%x\r\n%s\r\n" % (len(body), body), CLOSE]) as (_, endpoint):
        async with UpstreamClient() as client:
            seen: list[object] = []
            with pytest.raises(UpstreamError) as raised:
                async for event in client.stream(endpoint, REQUEST):
                    seen.append(event)
    assert raised.value.code == "upstream_unavailable"
    assert "".join(e.text for e in seen if isinstance(e, ContentDelta)) == " one \ufffd"


@pytest.mark.parametrize("data", [b'{"message": "Upstream model overloaded", "code": 529}',
                                  b'{"error": {"message": "Upstream model overloaded"}}',
                                  b"Upstream model overloaded"], ids=["object", "error-key", "text"])
async def test_an_event_named_error_is_the_gateways_error_not_a_dropped_stream(data: bytes) -> None:
    """Some gateways (OpenRouter-style proxies) end a 200 stream with `event: error`; its data need not have an
    `error` key. Ignored, the stream ended as 'the connection closed before the reply was finished'."""
    body = sse(token(" one")) + b"event: error\ndata: " + data + b"\n\n"
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([body]), CLOSE]) as (_, endpoint):
        async with UpstreamClient() as client:
            seen: list[object] = []
            with pytest.raises(UpstreamError) as raised:
                async for event in client.stream(endpoint, REQUEST):
                    seen.append(event)
    assert "Upstream model overloaded" in raised.value.detail
    assert [e.text for e in seen if isinstance(e, ContentDelta)] == [" one"]


def test_zero_padded_chunk_sizes_decode_as_h11_decodes_them() -> None:
    """Some servers pad chunk sizes to a fixed width; h11 (what httpx used) takes up to 20 hex digits."""
    from gateways.wire.chunked import ChunkedDecoder

    body = b"%020x\r\n%s\r\n" % (26, b"a" * 26) + b"%08X\r\n%s\r\n" % (3, b"xyz") + b"00000000000000000000\r\n\r\n"
    for split in (1, 7, len(body)):
        decoder = ChunkedDecoder()
        payload = b"".join(decoder.feed(body[i:i + split]) for i in range(0, len(body), split))
        assert payload == b"a" * 26 + b"xyz" and decoder.done


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                    "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


async def test_an_https_gateway_through_the_environments_proxy_and_ca_file(monkeypatch, tmp_path) -> None:
    """HTTPS_PROXY (a CONNECT tunnel) and SSL_CERT_FILE (a private CA) are honoured as httpx honours them, and the
    reads below httpx (gateways.wire.body) work over the tunnelled TLS as over a direct connection."""
    from tests.upstream.test_body import Gateway, _self_signed, paced_writes

    server_context, _ = _self_signed(tmp_path)
    served = Gateway(lambda n: paced_writes())
    server = await asyncio.start_server(served.handle, "127.0.0.1", 0, ssl=server_context)
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    async with server, forward_proxy() as (seen, proxy):
        import dataclasses

        from gateways.wire.client import Endpoint

        endpoint = Endpoint(f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", "k", max_retries=0)
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        async with UpstreamClient() as client:
            for _ in range(2):
                assert_whole(await reply(client, endpoint, coalesce_s=0.01), coalesced=True)
            assert_whole(await reply(client, dataclasses.replace(endpoint)))
    assert len(seen) == 1 and seen[0].startswith(b"CONNECT 127.0.0.1:")
    assert served.connections == 1  # one tunnel, kept alive across replies


async def test_a_web_page_instead_of_an_api_answer_says_so() -> None:
    """A base URL that points at a site (a login portal, a gateway's home page) answers 200 with HTML: it read as
    'the connection closed before the reply was finished', retried as if the gateway were flaky."""
    page = b"<!doctype html><html><body>Welcome to our gateway</body></html>"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(page)
    async with gateway(lambda n: [head + page]) as (gw, endpoint), UpstreamClient() as client:
        for call in (reply(client, endpoint), client.complete(endpoint, REQUEST)):
            with pytest.raises(UpstreamError) as raised:
                await call
            assert raised.value.code == "upstream_unavailable" and not raised.value.retryable
            assert "text/html" in raised.value.detail and "base URL" in raised.value.detail
    assert len(gw.requests) == 2


@pytest.mark.parametrize("kind", [b"", b"Content-Type: text/plain\r\n", b"Content-Type: text/event-stream\r\n",
                                  b"Content-Type: application/json\r\n"], ids=["no-type", "plain", "sse", "json"])
async def test_a_web_page_under_another_content_type_says_so_too(kind: bytes) -> None:
    """A captive portal or a proxy's page that does not call itself text/html: it read as the gateway's error
    in its own words (the page's markup, retried), or for a model list as a connection closed too early."""
    page = b"\n<!DOCTYPE html>\n<html lang=en><head><title>Sign in to the network</title></head><body>...</body></html>"
    head = b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n" % (kind, len(page))
    async with gateway(lambda n: [head + page]) as (gw, endpoint), UpstreamClient() as client:
        for call in (reply(client, endpoint), client.complete(endpoint, REQUEST), client.list_models(endpoint)):
            with pytest.raises(UpstreamError) as raised:
                await call
            assert raised.value.code == "upstream_unavailable" and not raised.value.retryable
            assert "web page" in raised.value.detail and "base URL" in raised.value.detail


async def test_a_malformed_answer_is_not_sent_again() -> None:
    async with gateway(lambda n: [b"HTTP/1.1 OK-ish\r\n\r\n", CLOSE]) as (gw, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint)
    assert raised.value.code == "upstream_unavailable" and len(gw.requests) == 1


async def test_test_connection_says_what_to_fix_for_a_redirect_a_web_page_or_an_unreadable_coding() -> None:
    """'Test connection' (gateways.probe) said 'the gateway answered with an error (307); try again shortly' or
    'no connection to the gateway' for these: neither says what is wrong, and trying again changes nothing."""
    from gateways.probe import probe

    answers = {
        "redirect": (b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://api.gw.test/v1/models\r\n"
                     b"Content-Length: 0\r\n\r\n", "https://api.gw.test/v1"),
        "page": (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>", "base URL"),
        "coding": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: br\r\n"
                   b"Content-Length: 2\r\n\r\n\x1b\x00", "'br'"),
    }
    for answer, says in answers.values():
        async with gateway(lambda n, answer=answer: [answer]) as (_, endpoint):
            outcome = await probe(endpoint)
        assert not outcome.ok and says in outcome.detail and "try again" not in outcome.detail


async def test_a_finished_stream_the_gateway_never_ends_completes_soon_after_its_finish() -> None:
    """Finish and usage sent, then neither [DONE] nor the body's end, the connection held open: the reply was
    whole, yet it waited out the idle timeout (60 s) and then failed as a timeout."""
    body = b"".join(sse(token(t)) for t in [" one", " two 😀", " three"]) + sse(FINISH) + sse(
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}})
    writes = [b"%x\r\n%s\r\n" % (len(p), p) for p in split_everywhere(body, 50)]  # no end: the body stays open
    async with gateway(lambda n: [CHUNKED_HEAD, *writes]) as (_, endpoint), UpstreamClient() as client:
        async with asyncio.timeout(10):
            for coalesce in (0.0, 0.01):
                assert_whole(await reply(client, endpoint, coalesce_s=coalesce), coalesced=coalesce > 0)


PINGS = [b": keep-alive\n\n", b"event: ping\ndata: \n\n", b'event: ping\ndata: {"type": "ping"}\n\n']


async def paced(writes: list[tuple[float, bytes]], **limits: float) -> tuple[list[object], UpstreamError | None]:
    """The reply of a gateway that writes each piece after its delay (seconds) on one connection."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]))
        with suppress(ConnectionError):  # the client may be done before the script is
            for delay, data in writes:
                await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server, UpstreamClient() as client:
        endpoint = Endpoint(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", "k", max_retries=0,
                            **limits)
        seen: list[object] = []
        try:
            async for event in client.stream(endpoint, REQUEST):
                seen.append(event)
        except UpstreamError as exc:
            return seen, exc
    return seen, None


@pytest.mark.parametrize("ping", PINGS, ids=["comment", "empty-ping-event", "json-ping-event"])
async def test_keep_alives_before_the_first_token_neither_start_the_reply_nor_end_it(ping: bytes, caplog) -> None:
    """A gateway thinking for a while pings (`: keep-alive`, `event: ping`) every so often: the first-token
    deadline counts from the request whatever it pings, and pings are no text and nothing to log."""
    rest = chunk(sse(token("Hi")) + sse(FINISH) + sse("[DONE]")) + b"0\r\n\r\n"
    writes = [(0.0, CHUNKED_HEAD), *[(0.1, chunk(ping))] * 12, (0.0, rest)]
    seen, failed = await paced(writes, first_token_timeout=0.5, idle_timeout=10)
    assert failed is not None and failed.code == "timeout" and "first token" in failed.detail and not seen
    seen, failed = await paced(writes, first_token_timeout=30, idle_timeout=0.6)
    assert failed is None and [e.text for e in seen if isinstance(e, ContentDelta)] == ["Hi"]
    assert "not JSON" not in caplog.text


async def test_keep_alives_after_the_first_token_keep_the_reply_alive() -> None:
    writes = [(0.0, CHUNKED_HEAD + chunk(sse(token("Hi")))), *[(0.1, chunk(b": keep-alive\n\n"))] * 12,
              (0.0, chunk(sse(token(" there")) + sse(FINISH) + sse("[DONE]")) + b"0\r\n\r\n")]
    seen, failed = await paced(writes, first_token_timeout=30, idle_timeout=0.6)
    assert failed is None and "".join(e.text for e in seen if isinstance(e, ContentDelta)) == "Hi there"


@pytest.mark.parametrize("ping", PINGS, ids=["comment", "empty-ping-event", "json-ping-event"])
async def test_keep_alives_after_the_finish_do_not_hold_the_reply_open(ping: bytes) -> None:
    """Finish sent, then only pings, never [DONE] nor the body's end: each ping pushed the 2 s after the finish
    out again, and the reply, whole, never ended."""
    writes = [(0.0, CHUNKED_HEAD + chunk(sse(token("Hi")) + sse(FINISH))), *[(0.3, chunk(ping))] * 60]
    async with asyncio.timeout(12):
        seen, failed = await paced(writes, first_token_timeout=30, idle_timeout=60)
    assert failed is None and [e.text for e in seen if isinstance(e, ContentDelta)] == ["Hi"]
    assert [e.reason for e in seen if isinstance(e, Finish)] == ["stop"]


async def test_test_connection_gives_the_gateways_words_for_an_error_written_in_its_200_answer() -> None:
    """It said 'no connection to the gateway (check the base URL and the network)': the gateway had answered."""
    from gateways.probe import probe

    listing = json.dumps({"data": [{"id": "grok-4"}]}).encode()
    error = sse({"error": {"message": "Upstream provider is overloaded"}})
    answers = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
               % (len(listing), listing), CHUNKED_HEAD + b"".join(chunked([error]))]
    async with gateway(lambda n: [answers[min(n, 1)]]) as (_, endpoint):
        outcome = await probe(endpoint)
    assert not outcome.ok and "Upstream provider is overloaded" in outcome.detail and "connection" not in outcome.detail

