"""The emulator takes image parts as xAI does: JPEG/PNG data URLs on vision models, billed by 448 px tiles."""
from __future__ import annotations

import base64

import pytest

from emulator import emulation
from gateways import catalog
from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, Usage
from tests.chat.attachment_files import image


def _part(data: bytes, mime: str = "image/png") -> dict[str, object]:
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}


def _messages(*parts: dict[str, object]) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, *parts]}]


def _entry(slug: str) -> catalog.CatalogEntry:
    entry = catalog.lookup(slug)
    assert entry is not None
    return entry


def test_images_are_billed_as_tiles_plus_one_times_256() -> None:
    body = {"messages": _messages(_part(image("PNG", (900, 400))), _part(image("JPEG", (3000, 3000)), "image/jpeg"))}
    reply = emulation.plan_reply(body, _entry("grok-4-1-fast-non-reasoning"), 0.0)
    assert reply.image_tokens == (3 + 1) * 256 + (6 + 1) * 256
    usage = emulation.usage(reply, "xai", 10)
    details = usage["prompt_tokens_details"]
    assert details["image_tokens"] == reply.image_tokens
    assert details["text_tokens"] + details["image_tokens"] == usage["prompt_tokens"]
    assert "".join(reply.tokens).startswith("I see 2 images (900x400, 3000x3000).")


@pytest.mark.parametrize(("slug", "part", "says"), [
    ("grok-3-mini", _part(image("PNG")), "does not support image inputs"),
    ("grok-4-1-fast-non-reasoning", _part(image("WEBP"), "image/webp"), "Unsupported image type image/webp"),
    ("grok-4-1-fast-non-reasoning", _part(image("GIF")), "Unsupported image format GIF"),
    ("grok-4-1-fast-non-reasoning", {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}},
     "base64"),
    ("grok-4-1-fast-non-reasoning", {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}, "URL"),
])
def test_what_a_gateway_refuses_is_a_400(slug: str, part: dict[str, object], says: str) -> None:
    problem = emulation.request_problem({"messages": _messages(part)}, _entry(slug), slug)
    assert problem is not None and problem[0] == 400 and says in problem[2]


async def test_the_client_streams_an_image_reply_with_image_usage(emulator_url) -> None:
    request = ChatRequest("grok-4-fast-non-reasoning", _messages(_part(image("PNG", (448, 448)))))
    async with UpstreamClient() as client:
        events = [e async for e in client.stream(Endpoint(emulator_url, "k"), request)]
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)).startswith("I see 1 image (448x448).")
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.raw["prompt_tokens_details"]["image_tokens"] == 512


async def test_an_image_to_a_text_only_model_is_a_clear_upstream_error(emulator_url) -> None:
    request = ChatRequest("grok-3-mini", _messages(_part(image("PNG"))))
    async with UpstreamClient() as client:
        with pytest.raises(UpstreamError) as caught:
            [e async for e in client.stream(Endpoint(emulator_url, "k", max_retries=0), request)]
    assert caught.value.code == "bad_request" and "image" in str(caught.value)
