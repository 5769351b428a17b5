"""What a gateway receives with a streamed request: the headers httpx's AsyncClient.build_request would have sent."""
from __future__ import annotations

import json

import httpx

from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient

SSE = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


def _gateway(seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200, headers={"Content-Type": "text/event-stream", "Set-Cookie": "lb=1; Path=/"},
                              content=SSE)
    return httpx.MockTransport(answer)


async def _ask(endpoint: Endpoint, seen: list[httpx.Request], times: int = 1) -> None:
    request = ChatRequest("grok-4", [{"role": "user", "content": "x"}])
    async with UpstreamClient(transport=_gateway(seen)) as client:
        for _ in range(times):
            assert [event async for event in client.stream(endpoint, request)]


async def test_a_streamed_request_carries_the_key_the_body_and_one_of_each_header() -> None:
    seen: list[httpx.Request] = []
    await _ask(Endpoint("http://gw.test:8080/v1", "KEY", headers={"X-Team": "a", "accept": "text/plain"}), seen)
    request = seen[0]
    names = [name.lower() for name, _ in request.headers.multi_items()]
    assert len(names) == len(set(names))  # no header twice (our Accept replaces the provider's)
    assert request.url == "http://gw.test:8080/v1/chat/completions" and request.method == "POST"
    assert request.headers["host"] == "gw.test:8080" and request.headers["authorization"] == "Bearer KEY"
    assert request.headers["accept"] == "text/event-stream" and request.headers["accept-encoding"] == "identity"
    assert request.headers["x-team"] == "a" and request.headers["user-agent"].startswith("Grokweb/")
    assert int(request.headers["content-length"]) == len(request.content)
    assert json.loads(request.content)["model"] == "grok-4"


async def test_a_providers_own_host_header_wins_and_gateway_cookies_are_not_sent_back() -> None:
    seen: list[httpx.Request] = []
    await _ask(Endpoint("http://10.0.0.9/v1", "KEY", headers={"Host": "gw.example"}), seen, times=2)
    assert [r.headers.get_list("host") for r in seen] == [["gw.example"], ["gw.example"]]
    assert "cookie" not in seen[1].headers
