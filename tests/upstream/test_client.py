"""The client against each emulator flavour on a loopback port: formats, usage, retries, parameters."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient, build_payload
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, Finish, ReasoningDelta, Usage
from gateways.wire.usage import normalize
from tests.emulator_server import running_emulator
from tests.upstream.joining import joined


@pytest.fixture(scope="module", params=["xai", "aimlapi", "openai"])
def flavour_url(request) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with running_emulator(flavour=request.param, delay_scale=0.0) as url:
        yield request.param, url


MODEL_ID = {"xai": "grok-4-1-fast-reasoning", "aimlapi": "x-ai/grok-4-1-fast-reasoning", "openai": "grok-4.1-fast"}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def collect(client: UpstreamClient, endpoint: Endpoint, request: ChatRequest) -> list:  # type: ignore[type-arg]
    return [event async for event in client.stream(endpoint, request)]


async def test_every_flavour_streams_text_and_usage_that_normalizes(flavour_url) -> None:
    flavour, url = flavour_url
    request = ChatRequest(MODEL_ID[flavour], [{"role": "user", "content": "Hi [[tokens=30]]"}])
    async with UpstreamClient() as client:
        events = await collect(client, Endpoint(url, "k"), request)
    text = "".join(e.text for e in events if isinstance(e, ContentDelta))
    usage_event = next(e for e in events if isinstance(e, Usage))
    usage = normalize(usage_event.raw, usage_event.meta)
    assert text and any(isinstance(e, Finish) and e.reason == "stop" for e in events)
    assert usage.visible_output == 30 and usage.reasoning > 0 and usage.reconciles
    assert usage.convention == ("B" if flavour == "openai" else "A")
    if flavour != "openai":
        assert usage.stated_cost_ticks is not None and usage.stated_cost_ticks > 0


async def test_the_same_request_gives_the_same_text(flavour_url) -> None:
    flavour, url = flavour_url
    request = ChatRequest(MODEL_ID[flavour], [{"role": "user", "content": "Deterministic?"}])
    async with UpstreamClient() as client:
        first = await collect(client, Endpoint(url, "k"), request)
        second = await collect(client, Endpoint(url, "k"), request)
    assert [e for e in first if isinstance(e, ContentDelta)] == [e for e in second if isinstance(e, ContentDelta)]


async def test_without_include_usage_no_usage_arrives(emulator_url) -> None:
    request = ChatRequest("grok-4-1-fast-non-reasoning", [{"role": "user", "content": "Hi"}])
    async with UpstreamClient() as client:
        events = await collect(client, Endpoint(emulator_url, "k", include_usage=False), request)
    assert not any(isinstance(e, Usage) for e in events) and any(isinstance(e, ContentDelta) for e in events)


async def test_a_reasoning_trace_arrives_before_the_answer(emulator_url) -> None:
    request = ChatRequest("grok-3-mini", [{"role": "user", "content": "Think"}], accepts_reasoning_effort=True,
                          params={"reasoning_effort": "low"})
    async with UpstreamClient() as client:
        events = await collect(client, Endpoint(emulator_url, "k"), request)
    kinds = [type(e) for e in events if isinstance(e, ContentDelta | ReasoningDelta)]
    assert kinds[0] is ReasoningDelta and kinds[-1] is ContentDelta


async def test_retry_after_is_honoured_before_the_first_token(emulator_url) -> None:
    sleeps = Sleeps()
    marker = f"[[fault:fail_first:2:429:3:{uuid.uuid4().hex}]]"
    request = ChatRequest("grok-4-1-fast-non-reasoning", [{"role": "user", "content": f"Hi {marker}"}])
    async with UpstreamClient(sleep=sleeps) as client:
        events = await collect(client, Endpoint(emulator_url, "k", max_retries=2), request)
    assert sleeps.delays == [3.0, 3.0] and any(isinstance(e, ContentDelta) for e in events)


async def test_retries_stop_at_the_providers_limit(emulator_url) -> None:
    sleeps = Sleeps()
    request = ChatRequest("grok-4-1-fast-non-reasoning", [{"role": "user", "content": "Hi [[fault:503]]"}])
    async with UpstreamClient(sleep=sleeps) as client:
        with pytest.raises(UpstreamError) as caught:
            await collect(client, Endpoint(emulator_url, "k", max_retries=1), request)
    assert caught.value.code == "upstream_unavailable" and len(sleeps.delays) == 1


async def test_a_long_retry_after_is_not_waited_out(emulator_url) -> None:
    sleeps = Sleeps()
    request = ChatRequest("grok-4-1-fast-non-reasoning", [{"role": "user", "content": "Hi [[fault:429:120]]"}])
    async with UpstreamClient(sleep=sleeps) as client:
        with pytest.raises(UpstreamError) as caught:
            await collect(client, Endpoint(emulator_url, "k"), request)
    assert caught.value.code == "upstream_rate_limited" and caught.value.retry_after == 120 and not sleeps.delays


async def test_unsupported_parameters_are_never_sent(emulator_url) -> None:
    """The emulator answers 400 to reasoning_effort or penalties on models that reject them."""
    params = {"temperature": 0.2, "reasoning_effort": "high", "presence_penalty": 0.5, "stop": ["x"]}
    request = ChatRequest("grok-4-1-fast-reasoning", [{"role": "user", "content": "Hi"}], params=params,
                          accepts_reasoning_effort=False, accepts_penalties=False)
    payload = build_payload(request, stream=True)
    assert payload["temperature"] == 0.2 and payload["stream_options"] == {"include_usage": True}
    assert not {"reasoning_effort", "presence_penalty", "stop"} & payload.keys()
    async with UpstreamClient() as client:
        events = await collect(client, Endpoint(emulator_url, "k"), request)
    assert any(isinstance(e, ContentDelta) for e in events)


async def test_a_non_streaming_call_and_the_model_list(flavour_url) -> None:
    flavour, url = flavour_url
    request = ChatRequest(MODEL_ID[flavour], [{"role": "user", "content": "Title please [[tokens=5]]"}])
    async with UpstreamClient() as client:
        events = await client.complete(Endpoint(url, "k"), request)
        ids = await client.list_models(Endpoint(url, "k"))
    assert "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert any(isinstance(e, Usage) for e in events)
    assert MODEL_ID[flavour] in ids


async def test_an_unknown_model_is_model_unavailable(flavour_url) -> None:
    flavour, url = flavour_url
    request = ChatRequest("grok-beta", [{"role": "user", "content": "Hi"}])
    async with UpstreamClient() as client:
        with pytest.raises(UpstreamError) as caught:
            await collect(client, Endpoint(url, "k", max_retries=0), request)
    assert caught.value.code == "model_unavailable"


async def test_an_unreachable_gateway_is_upstream_unavailable() -> None:
    from tests.emulator_server import free_port

    request = ChatRequest("grok-4", [{"role": "user", "content": "Hi"}])
    async with UpstreamClient() as client:
        with pytest.raises(UpstreamError) as caught:
            await collect(client, Endpoint(f"http://127.0.0.1:{free_port()}/v1", "k", max_retries=0), request)
    assert caught.value.code == "upstream_unavailable"


HTTP_FAULTS = [("bad_key", "upstream_auth"), ("401", "upstream_auth"), ("403_policy", "content_blocked"),
               ("403_credits", "upstream_forbidden"), ("404", "model_unavailable"),
               ("429:0", "upstream_rate_limited"), ("500", "upstream_unavailable"), ("503", "upstream_unavailable"),
               ("stream_error:3", "upstream_unavailable"), ("drop:3", "upstream_unavailable")]


@pytest.mark.parametrize(("fault", "code"), HTTP_FAULTS)
async def test_every_flavours_error_shape_is_classified(flavour_url, fault, code) -> None:
    flavour, url = flavour_url
    request = ChatRequest(MODEL_ID[flavour], [{"role": "user", "content": "Hi"}])
    endpoint = Endpoint(url, "k", max_retries=0, headers={"X-Emulator-Fault": fault})
    async with UpstreamClient() as client:
        with pytest.raises(UpstreamError) as caught:
            await collect(client, endpoint, request)
    assert caught.value.code == code


async def test_the_emulator_answers_a_title_request_with_a_title(emulator_url) -> None:
    messages = [{"role": "system", "content": "Write a title of at most six words."},
                {"role": "user", "content": "user: plan a trip to Lisbon in May [[tokens=50]]"}]
    async with UpstreamClient() as client:
        request = ChatRequest("grok-4-1-fast-non-reasoning", messages)
        events = await client.complete(Endpoint(emulator_url, "k"), request)
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "Plan a trip to Lisbon"


async def test_the_emulators_title_is_of_the_users_words_not_the_assistants(emulator_url) -> None:
    # chat.titles sends the first exchange as "user: ...\n\nassistant: ...": a short question's title
    # must not run on into the role label or the answer.
    messages = [{"role": "system", "content": "Write a title of at most six words."},
                {"role": "user", "content": "user: Tell me about streaming [[tokens=400]]\n\n"
                                            "assistant: Context answer glacier lattice"}]
    async with UpstreamClient() as client:
        request = ChatRequest("grok-4-1-fast-non-reasoning", messages)
        events = await client.complete(Endpoint(emulator_url, "k"), request)
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "Tell me about streaming"


async def test_coalesced_reads_lose_and_reorder_nothing() -> None:
    """Read at most once per frame interval after the first token: the same events, in the same order
    (the tokens of one read joined into one delta: joined over the whole reply, the same list)."""
    request = ChatRequest("grok-4-fast-non-reasoning", [{"role": "user", "content": "Paced [[tokens=120]]"}])
    with running_emulator(flavour="xai", delay_scale=0.3) as url:  # tokens a few ms apart, as a gateway sends
        async with UpstreamClient() as client:
            plain = await collect(client, Endpoint(url, "k"), request)
            coalesced = [event async for event in client.stream(Endpoint(url, "k"), request, coalesce_s=0.03,
                                                       join_text=True)]
    assert joined(coalesced) == joined(plain)
    assert all(e.text for e in coalesced if isinstance(e, ContentDelta))
    assert len([e for e in plain if isinstance(e, ContentDelta)]) == 120
    assert isinstance(plain[-1], Usage) or isinstance(plain[-1], Finish)


async def test_replies_in_a_row_reuse_one_gateway_connection() -> None:
    """A reply read to its [DONE] leaves its connection to the next: no new TCP (and TLS) handshake per reply."""
    opened = 0

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    request = ChatRequest("grok-4-fast-non-reasoning", [{"role": "user", "content": "Again [[tokens=20]]"}])
    with running_emulator(flavour="xai") as url:
        gateway = urlsplit(url)

        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal opened
            opened += 1
            up_reader, up_writer = await asyncio.open_connection(gateway.hostname, gateway.port)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        server = await asyncio.start_server(counted, "127.0.0.1", 0)
        endpoint = Endpoint(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}{gateway.path}", "k")
        async with server, UpstreamClient() as client:
            for _ in range(3):
                events = await collect(client, endpoint, request)
                assert len([e for e in events if isinstance(e, ContentDelta)]) == 20
    assert opened == 1

