"""The one way we talk to a gateway: pooled httpx, SSE, timeouts, retries before the first token.

I/O lives here; parsing (sse, chunks), classification (errors), normalization
(usage) and backoff (retry) are pure modules this file wires together.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from httpx._client import BoundAsyncStream
from httpx._decoders import SUPPORTED_DECODERS

from . import locks, onewrite
from .body import Body, open_body
from .chunks import (
    BLANKS,
    DONE,
    StreamDone,
    is_json_answer,
    json_lines,
    late_usage,
    parse_answer,
    parse_answer_rest,
    parse_payload,
    parse_run,
    parse_whole,
)
from .errors import (
    UpstreamError,
    answer_error,
    classify_http,
    coding_error,
    connection_error,
    dropped_error,
    is_web_page,
    lines_error,
    listing_error,
    redirect_error,
    timeout_error,
    web_page_error,
)
from .events import TEXT_EVENTS, Finish, UpstreamEvent
from .lines import LineDecoder, is_chat_chunk, is_ndjson_type
from .listing import MAX_PAGES, model_ids, next_page
from .pool import lean
from .retry import RETRY_AFTER_CAP_S, backoff_delay
from .sse import SSEDecoder, plain_text
from .text import EventMender
from .watchdog import Watchdog

log = logging.getLogger(__name__)
USER_AGENT = "Grokweb/0.1 (+https://github.com/grokweb)"
# Parameters every Grok model accepts; the others only where the model says so.
_COMMON_PARAMS = ("temperature", "top_p", "max_tokens", "seed")
_PENALTY_PARAMS = ("presence_penalty", "frequency_penalty", "stop")
_MAX_ERROR_BODY = 64 * 1024
_BLOCKED_S = 0.001  # a read that took longer waited for the network
_REST_S = 0.25  # how long the body's end may take to follow [DONE] for the connection to be kept
# Silence after a reply's finish that ends it (whole: usage, if it never came, is estimated). A gateway that
# never sent [DONE] nor ended the body held a finished reply until the idle timeout, then failed it.
_AFTER_FINISH_S = 2.0
_OPENING_BYTES = 1024  # of a body that gave no event, kept to say what it was (sse.plain_text)
_MAX_WHOLE_ANSWER = 16 * 1024 * 1024  # a whole JSON answer to a streamed request (parse_whole): far above any reply


@dataclass(frozen=True)
class Endpoint:
    """A provider as the client sees it. Holds the decrypted key: never log or repr it."""

    base_url: str
    api_key: str = field(repr=False)
    include_usage: bool = True
    connect_timeout: float = 10.0
    first_token_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_retries: int = 2
    headers: dict[str, str] = field(default_factory=dict)
    usage_convention: str = "auto"


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    accepts_reasoning_effort: bool = False
    accepts_penalties: bool = True


def build_payload(request: ChatRequest, *, stream: bool, include_usage: bool = True) -> dict[str, Any]:
    """The JSON body: only parameters this model accepts (others answer 400)."""
    payload: dict[str, Any] = {"model": request.model, "messages": request.messages}
    allowed = list(_COMMON_PARAMS)
    if request.accepts_reasoning_effort:
        allowed.append("reasoning_effort")
    if request.accepts_penalties:
        allowed.extend(_PENALTY_PARAMS)
    payload.update({k: request.params[k] for k in allowed if request.params.get(k) is not None})
    payload["stream"] = stream
    if stream and include_usage:
        payload["stream_options"] = {"include_usage": True}
    return payload


class UpstreamClient:
    """One pooled AsyncClient; `stream` yields typed events and raises UpstreamError."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        onewrite.install()  # each request's head and body in one write (gateways.wire.onewrite)
        locks.install()  # httpcore's free locks taken without a loop turn (gateways.wire.locks)
        # LeanPool (gateways.wire.pool): httpcore's pool re-plans every connection per request.
        self._http = lean(httpx.AsyncClient(
            transport=transport,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=60),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        ))
        self._sleep = sleep

    async def __aenter__(self) -> UpstreamClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # Streaming -------------------------------------------------------------

    async def stream(self, endpoint: Endpoint, request: ChatRequest, *,
                     coalesce_s: float = 0.0, deadline: float | None = None,
                     join_text: bool = False) -> AsyncIterator[UpstreamEvent]:
        """Events of one reply. Retries only while nothing has been shown to the user.

        Each try has `first_token_timeout` to its first token, counted from the request (the
        status line and the first text together), whatever else the gateway sends meanwhile.
        A try that timed out is not repeated: a silent gateway is not asked again (the
        failover stream moves on to the next route). `deadline` (event-loop time) bounds every
        try and backoff together.

        `coalesce_s`: after the first text, read the socket at most this often. A gateway sends
        one token per SSE event; reading each as it lands wakes every layer above the socket per
        token, while the reply's frames go out at most once per frame interval anyway. Between
        reads the bytes wait in the socket buffer; the next read takes them all at once.
        `join_text` (with `coalesce_s`): each such read's answer tokens come as one delta instead of
        one event each (the relay frames them together anyway). Not for a reply cut at a budget,
        which is checked after every event (chat.generation).
        """
        clock = asyncio.get_running_loop().time
        attempt = 0
        while True:
            shown = False
            allowed = endpoint.first_token_timeout
            if deadline is not None:
                allowed = max(0.001, min(allowed, deadline - clock()))
            try:
                async for event in self._stream_once(endpoint, request, coalesce_s, allowed, join_text):
                    if not shown and isinstance(event, TEXT_EVENTS):
                        shown = True
                    yield event
                return
            except UpstreamError as exc:
                if shown or not _worth_retrying(exc, attempt, endpoint.max_retries):
                    raise
                delay = backoff_delay(attempt, exc.retry_after)
                if deadline is not None and clock() + delay >= deadline:
                    raise  # no time left for another try
                log.info("upstream %s (attempt %d); retrying in %.2fs", exc.code, attempt + 1, delay)
                await self._sleep(delay)
                attempt += 1

    async def _stream_once(self, endpoint: Endpoint, request: ChatRequest,
                           coalesce_s: float = 0.0, allowed: float | None = None,
                           join_text: bool = False) -> AsyncIterator[UpstreamEvent]:
        """One try; `allowed` seconds to the first text (the provider's first_token_timeout by default)."""
        limit = endpoint.first_token_timeout if allowed is None else allowed
        until = asyncio.get_running_loop().time() + limit
        payload = build_payload(request, stream=True, include_usage=endpoint.include_usage)
        response = await self._send(endpoint, "POST", "/chat/completions", payload, stream=True, answer_s=limit,
                                   sse=True)
        try:
            if response.status_code >= 400:
                raise classify_http(response.status_code, await _error_body(response), response.headers)
            refusal = _unreadable(response)
            if refusal is not None:
                if refusal.status is not None:  # a redirect's or a page's short body, read: its connection is kept
                    await _error_body(response)
                raise refusal
            async for event in _events(response, endpoint, coalesce_s, until=until, allowed_s=limit,
                                         join_text=join_text):
                yield event
        finally:
            await response.aclose()

    async def _send(
        self, endpoint: Endpoint, method: str, path: str, payload: dict[str, Any] | None, *, stream: bool,
        answer_s: float | None = None, sse: bool = False,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {endpoint.api_key}", **endpoint.headers}
        if stream:
            headers["Accept"] = "text/event-stream"
        if sse:
            # No content coding: an inflater per token costs CPU, and a plain chunked body is read
            # below httpx (gateways.wire.body). A gateway that compresses anyway is still read right.
            headers["Accept-Encoding"] = "identity"
        timeout = httpx.Timeout(connect=endpoint.connect_timeout, read=None, write=30.0, pool=endpoint.connect_timeout)
        content = _json_body(payload) if payload is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        req = self._request(method, endpoint.base_url + path, content, headers, timeout)
        answer_s = endpoint.first_token_timeout if answer_s is None else answer_s
        try:
            # The status line is the first thing a stalled gateway withholds.
            async with asyncio.timeout(answer_s):
                try:
                    return await self._exchange(req, stream)
                except _UNANSWERED as exc:
                    if isinstance(exc, httpx.RemoteProtocolError) and not str(exc).startswith(_NO_ANSWER):
                        raise  # a malformed answer (it may have been acted on): not sent again
                    # Closed or reset with nothing answered: nearly always a pooled keep-alive connection the
                    # gateway closed as the request went out (the pool checks idle ones, but not for a close
                    # still in flight). Sent again at once on a new connection, as HTTP clients do for a
                    # reused one; once only, and not counted as a retry. A gateway that does it again fails.
                    return await self._exchange(req, stream)
        except TimeoutError:
            raise timeout_error("answer", answer_s) from None
        except httpx.TimeoutException:
            raise timeout_error("connection", endpoint.connect_timeout) from None
        except httpx.HTTPError as exc:
            raise connection_error(exc) from None

    def _request(self, method: str, url: str, content: bytes | None, headers: dict[str, str],
                 timeout: httpx.Timeout) -> httpx.Request:
        """What `AsyncClient.build_request` makes of these (the client's default headers under ours, Host,
        Content-Length), for a fraction of its CPU: it parsed the URL and merged URL, headers, cookies
        and parameters anew for every call, about 0.15 ms here before the request could go out."""
        target = _url(url)
        merged = {name.lower(): (name, value) for name, value in self._http.headers.items()}
        merged.update((name.lower(), (name, value)) for name, value in headers.items())
        merged.pop("content-length", None)  # the body's own length, always
        raw = [] if "host" in merged else [(b"Host", target.netloc)]  # a provider's own Host header wins, as in httpx
        raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in merged.values()]
        body = content if content is not None else b""
        if content is not None:
            raw.append((b"Content-Length", str(len(content)).encode("ascii")))
        return httpx.Request(method, target, headers=raw, stream=httpx.ByteStream(body),
                             extensions={"timeout": timeout.as_dict()})

    async def _exchange(self, request: httpx.Request, stream: bool) -> httpx.Response:
        """`AsyncClient.send` without what this client never uses: authentication flows, redirects
        (not followed: `follow_redirects=False`) and the cookie jar (a gateway's cookies were stored
        and never needed: each call carries its key). The transport is the client's (its pool, or the
        proxy the environment names), the response as `send` returns it."""
        if self._http.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        response = await self._http._transport_for_url(request.url).handle_async_request(request)
        response.request = request
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = BoundAsyncStream(response.stream, response=response, start=time.perf_counter())
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response

    # Whole answers ---------------------------------------------------------

    async def complete(self, endpoint: Endpoint, request: ChatRequest) -> list[UpstreamEvent]:
        """A non-streaming call (titles); retried as a whole on retryable failures."""
        attempt = 0
        while True:
            try:
                return await self._complete_once(endpoint, request)
            except UpstreamError as exc:
                if not _worth_retrying(exc, attempt, endpoint.max_retries):
                    raise
                await self._sleep(backoff_delay(attempt, exc.retry_after))
                attempt += 1

    async def _complete_once(self, endpoint: Endpoint, request: ChatRequest) -> list[UpstreamEvent]:
        payload = build_payload(request, stream=False)
        return parse_answer(await self._body(endpoint, "POST", "/chat/completions", payload))

    async def list_models(self, endpoint: Endpoint) -> list[str]:
        """Model ids this key may use (`GET /models`), every page of them."""
        answer = await self._json(endpoint, "GET", "/models", None)
        ids = model_ids(answer)
        for _ in range(MAX_PAGES - 1):
            query = next_page(answer, ids)
            if query is None:
                return ids
            answer = await self._json(endpoint, "GET", f"/models?{query}", None)
            known = set(ids)
            more = [i for i in model_ids(answer) if i not in known]
            if not more:  # the cursor was not read (the same page again): the rest cannot be had
                raise listing_error("the list says it has more pages, but the next page repeats this one")
            ids += more
        if next_page(answer, ids) is None:
            return ids
        raise listing_error(f"more than {MAX_PAGES} pages")

    async def _json(self, endpoint: Endpoint, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        """A whole JSON answer; error statuses and unreadable bodies become UpstreamError."""
        try:
            return json.loads(await self._body(endpoint, method, path, payload))
        except ValueError:
            raise dropped_error() from None

    async def _body(self, endpoint: Endpoint, method: str, path: str, payload: dict[str, Any] | None) -> bytes:
        """A whole answer's body; error statuses and unreadable answers become UpstreamError."""
        response = await self._send(endpoint, method, path, payload, stream=True)
        try:
            body = await _read(response, endpoint.first_token_timeout)
        finally:
            await response.aclose()
        if response.status_code >= 400:
            raise classify_http(response.status_code, body, response.headers)
        refusal = _unreadable(response)
        if refusal is not None:
            raise refusal
        if is_web_page(body[:_OPENING_BYTES]):  # not labelled text/html (then _unreadable said so)
            raise web_page_error(response.status_code, response.headers.get("content-type", ""))
        return body


# What an exchange raises when the connection closed or reset before any of the answer came.
_UNANSWERED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_NO_ANSWER = "Server disconnected without sending a response"  # httpcore 1.0's RemoteProtocolError for a close


@functools.lru_cache(maxsize=256)
def _url(url: str) -> httpx.URL:
    """A gateway's URL, parsed once: httpx's parsing cost about 50 µs a call here."""
    return httpx.URL(url)


def _json_body(payload: dict[str, Any]) -> bytes:
    """The request body as UTF-8 JSON. orjson: a long chat's prompt is encoded per reply (0.4 ms with json
    for 130 messages, 0.01 ms here). orjson refuses a lone surrogate a browser may have escaped into a
    message: json escapes it back, as it always did."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload).encode()


def _worth_retrying(exc: UpstreamError, attempt: int, max_retries: int) -> bool:
    if not exc.retryable or attempt >= max_retries:
        return False
    if exc.code == "timeout":  # silence: asking the same gateway again would cost the same wait
        return False
    return exc.retry_after is None or exc.retry_after <= RETRY_AFTER_CAP_S


async def _events(
    response: httpx.Response, endpoint: Endpoint, coalesce_s: float = 0.0, *,
    until: float | None = None, allowed_s: float | None = None, join_text: bool = False,
) -> AsyncIterator[UpstreamEvent]:
    """SSE bytes -> events, with the first-token and idle timeouts and drop detection.

    Until the first text the deadline is `until` (event-loop time), however many other
    bytes (keep-alives, role chunks) arrive; after it, `idle_timeout` of silence ends the reply.
    """
    decoder: SSEDecoder | LineDecoder = SSEDecoder()
    lines: bool | None = None  # a body that opens with JSON: lines of it (NDJSON), one answer, or not known yet
    after: list[str] = []  # the payloads of [DONE]'s read after it (read only for usage)
    mender = EventMender()  # storable text from here on (gateways.wire.text)
    body = await open_body(response)
    waited, what = False, "first token"
    finished = paused = False
    sniffing, whole = True, None  # until the body's first bytes say whether it is SSE or one JSON answer
    opening: bytes | None = b""
    clock = asyncio.get_running_loop().time
    if until is None:
        until = clock() + endpoint.first_token_timeout
    watchdog = Watchdog(max(0.001, until - clock()), until=until)
    if allowed_s is None:
        allowed_s = endpoint.first_token_timeout
    try:
        while True:
            watchdog.waiting = True
            asked = clock()
            try:
                chunk = await body.read(after_pause=paused)
            except asyncio.CancelledError:
                if watchdog.expired:  # our own timeout, not a stop from outside
                    watchdog.absorb()
                    if finished:
                        break  # finished, then silent with the body still open: the reply is whole
                    raise timeout_error(what, watchdog.limit if waited else allowed_s) from None
                raise
            except httpx.HTTPError:
                # Cut short (closed mid-body, a broken chunk): the events so far stand, a held half character
                # comes out as U+FFFD, and the reply is an error unless its finish already came (below).
                break
            finally:
                watchdog.waiting = False
            if not chunk:
                break
            watchdog.feed()
            if whole is None and sniffing:
                sniffing, whole = _sniff(chunk)
                if whole is not None and is_ndjson_type(response.headers.get("content-type", "")):
                    decoder, whole, lines = LineDecoder(), None, True  # NDJSON said so: read as it comes
                elif whole is not None:  # not SSE: one JSON answer; the rest of it follows at once
                    waited, what = True, "rest of the answer"
                    watchdog.set_limit(endpoint.idle_timeout)
            if whole is not None:
                whole += chunk
                if len(whole) > _MAX_WHOLE_ANSWER:
                    raise dropped_error()
                if lines is None and b"\n" in whole:  # until its first line and more have come
                    lines = json_lines(whole)
                if not lines:
                    continue
                decoder, chunk, whole = LineDecoder(), bytes(whole), None  # lines of JSON: read as they come
            payloads = decoder.feed_data(chunk)
            if opening is not None:  # until the first event: the body's opening, to say what it was if no event comes
                opening = None if payloads else (opening + chunk)[:_OPENING_BYTES]
                if lines and payloads and not is_chat_chunk(payloads[0]):
                    raise lines_error()
            done = DONE in payloads
            if done:
                at = payloads.index(DONE)
                payloads, after = payloads[:at], payloads[at + 1:]
            runs: Iterable[tuple[list[UpstreamEvent], UpstreamError | StreamDone | None]]
            if join_text and coalesce_s > 0:  # the relay frames text per interval: a read's tokens are one delta
                runs = [parse_run(payloads)]
            else:
                # A payload at a time: the first token leaves before the rest of its read is parsed (a
                # gateway with nothing to wait for sends a whole reply in a few reads).
                runs = _each(payloads)
            error: UpstreamError | StreamDone | None = None
            for parsed, failed in runs:
                error = failed
                read = mender.mend(parsed)
                for event in read:
                    if isinstance(event, Finish):
                        finished = True
                    elif not waited and isinstance(event, TEXT_EVENTS):
                        waited, what = True, "new text"
                        watchdog.set_limit(endpoint.idle_timeout)
                if finished:  # only usage and [DONE] may follow, and they come at once
                    if watchdog.limit > _AFTER_FINISH_S:
                        watchdog.set_limit(_AFTER_FINISH_S)
                    if read:  # counted from the last event, not the last byte: keep-alives never hold it open
                        watchdog.until = clock() + _AFTER_FINISH_S
                for event in read:
                    yield event
            if isinstance(error, StreamDone):  # `data: [DONE] `, spaced: met while parsing, as no JSON
                done, error, after = True, None, _after_done(payloads)
            if error is not None:
                if not finished:
                    raise error
                # The finish came first: the text is whole (usage, if none came, is estimated). Not the user's error.
                log.warning("gateway error after the reply's finish, ignored: %s: %s", error.code, error.detail)
                for event in mender.flush():
                    yield event
                return
            if done:
                rest = await _read_rest(body)
                for event in mender.flush():
                    yield event
                if after or rest:  # usage a gateway sends after [DONE] (the body's end, read anyway)
                    for event in late_usage(after + decoder.feed_data(rest) + decoder.flush_data()):
                        yield event
                return
            paused = waited and coalesce_s > 0 and (body.drains or clock() - asked > _BLOCKED_S)
            if paused:
                # Let the next tokens gather in the socket buffer before reading again: one wake-up
                # per interval, not per token. A body that `drains` took all there was in this read;
                # httpx's hands over one chunk per read, so only a read that waited for the network
                # (nothing was buffered) is followed by a pause. The read after a pause takes what the
                # socket holds without the event loop's help when it can (gateways.wire.body.Ready).
                await asyncio.sleep(coalesce_s)
    finally:
        watchdog.close()
        await body.aclose()
    if whole is not None:  # the whole body read: a completion's events, or the error it holds
        for event in parse_whole(bytes(whole)):
            yield event
        return
    tail, ended = parse_answer_rest(decoder.flush_data())
    for event in mender.mend(tail) + mender.flush():  # cut short is still text
        finished = finished or isinstance(event, Finish)
        yield event
    if not (finished or ended):  # ended: the body's last bytes were [DONE], without its newline
        said = plain_text(opening) if opening else None
        if said and is_web_page(opening or b""):  # a page that did not call itself text/html (a captive portal's)
            raise web_page_error(response.status_code, response.headers.get("content-type", ""))
        if said:  # a 200 with a text that is no stream ("Internal Server Error", "rate limited"): what it says
            raise answer_error(said)
        raise dropped_error()  # closed without [DONE] or a finish_reason: the reply is cut short
    # A finish came: the text is whole, even if the body's end (and perhaps usage, then estimated) did not.


def _sniff(chunk: bytes) -> tuple[bool, bytearray | None]:
    """(still sniffing, a buffer for a whole JSON answer) after the body's first bytes.

    A body that opens with `{` or `[` is one JSON answer, whatever its Content-Type (a gateway that
    ignores `stream: true`, or answers 200 with an error object): no SSE line starts so. Read as SSE, it
    gave nothing, then "the connection closed before the reply was finished". Whitespace decides nothing."""
    if not chunk.lstrip(BLANKS):
        return True, None
    return False, (bytearray() if is_json_answer(chunk) else None)


def _each(payloads: list[str]) -> Iterator[tuple[list[UpstreamEvent], UpstreamError | StreamDone | None]]:
    """Each payload's events, in order; an error event or [DONE] ends them (what came before still counts)."""
    for data in payloads:
        try:
            yield parse_payload(data), None
        except StreamDone as end:
            yield end.events, end
            return
        except UpstreamError as exc:
            yield [], exc
            return


def _after_done(payloads: list[str]) -> list[str]:
    """The payloads of a read after its spaced [DONE] (read only for usage: late_usage)."""
    at = next((i for i, data in enumerate(payloads) if data.strip() == DONE), len(payloads))
    return payloads[at + 1:]


async def _read_rest(body: Body) -> bytes:
    """Read what follows [DONE] (the end of the chunked body, already sent): httpx puts a connection
    whose body was read to its end back in the pool, and closes one left unread. Unread, every reply
    opened a new connection: a TCP handshake, and for a real gateway a TLS one, per reply. A gateway
    that keeps the body open after [DONE] costs at most _REST_S before its connection is dropped.
    Returns what came (at most _MAX_ERROR_BODY of it): a gateway may send the usage there."""
    rest = b""
    try:
        async with asyncio.timeout(_REST_S):
            while chunk := await body.read():
                if len(rest) < _MAX_ERROR_BODY:
                    rest += chunk
    except (TimeoutError, httpx.HTTPError):
        pass
    return rest


async def _read(response: httpx.Response, limit: float) -> bytes:
    try:
        async with asyncio.timeout(limit):
            return await response.aread()
    except TimeoutError:
        raise timeout_error("answer", limit) from None
    except httpx.HTTPError:
        raise dropped_error() from None


async def _error_body(response: httpx.Response) -> bytes:
    """At most 64 KiB of an error body, decoded: enough to classify, never a memory hazard.

    Read raw and inflated here with a bound (a streamed request asks for `identity`, but a gateway or
    a proxy in front of it may gzip its error answers anyway; read raw, a credits 429 read as a rate
    limit, with compressed bytes for its message)."""
    body = b""
    try:
        async with asyncio.timeout(10):
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= _MAX_ERROR_BODY:
                    break
    except (TimeoutError, httpx.HTTPError):
        pass
    return _inflated(body[:_MAX_ERROR_BODY], response.headers.get("content-encoding", ""))


def _inflated(body: bytes, coding: str) -> bytes:
    """`body` without its gzip or deflate coding (at most 64 KiB of it, what is readable of a cut one)."""
    coding = coding.strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate") or not body:
        return body
    for wbits in (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS):  # gzip or zlib header; then raw deflate
        try:
            return zlib.decompressobj(wbits).decompress(body, _MAX_ERROR_BODY)
        except zlib.error:
            continue
    return body


def _unreadable(response: httpx.Response) -> UpstreamError | None:
    """Why a non-error answer cannot be read as one: a redirect (not followed: the key would go wherever
    it points), a web page (the base URL points at a site), or a content coding httpx cannot decode (br,
    zstd: their packages are not installed; httpx passes such a body on still coded). SSE or JSON read
    from any of them was nothing, then 'the connection closed before the reply was finished', retried
    and failed over as if the gateway were flaky."""
    status = response.status_code
    if 300 <= status < 400:
        return redirect_error(status, response.headers.get("location"))
    if response.headers.get("content-type", "").lstrip().lower().startswith("text/html"):
        return web_page_error(status)
    coding = response.headers.get("content-encoding")
    if coding:
        for part in coding.lower().split(","):
            part = part.strip()
            if part and part not in SUPPORTED_DECODERS:
                return coding_error(part)
    return None


_client: UpstreamClient | None = None


def get_client() -> UpstreamClient:
    """The process's pooled client (one event loop per server process)."""
    global _client
    if _client is None:
        _client = UpstreamClient()
    return _client


def reset_client() -> None:
    """Forget the pooled client (tests run each case in a fresh event loop)."""
    global _client
    _client = None
