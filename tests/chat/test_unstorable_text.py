"""Any text a gateway sends, cut anywhere, is stored and shown the same (SSE reader -> runner -> SQLite)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Message
from gateways.wire.text import mend
from tests.chat.unstorable import gateway, pieces, run_reply, sse_body
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30)
CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)


async def _reply(make_user: Any, answer: str, reasoning: str, cuts: list[int], byte_cuts: list[int]) -> None:
    frames: list[dict[str, Any]] = []

    async def publish(frame: dict[str, Any]) -> None:
        frames.append(frame)

    body = sse_body(pieces(answer, cuts), pieces(reasoning, cuts))
    user = await database_sync_to_async(make_user)(f"u{uuid.uuid4().hex[:12]}")  # own per-minute allowance
    message_id = await run_reply(user, gateway(body, byte_cuts), publish)
    stored = await database_sync_to_async(Message.objects.get)(id=message_id)
    shown = "".join(f["content"] for f in frames if f["type"] == "message.delta")
    shown_reasoning = "".join(f["reasoning"] for f in frames if f["type"] == "message.delta")
    (end,) = [f for f in frames if f["type"] in ("message.done", "message.error")]
    assert stored.status == "complete" and end["type"] == "message.done"
    assert stored.content == shown == end["content"] == mend(answer)
    assert stored.reasoning == shown_reasoning == mend(reasoning)
    record = await database_sync_to_async(UsageRecord.objects.get)(message_id=message_id)
    assert record.prompt_tokens == 11 and not record.estimated  # the gateway's usage, billed


async def test_an_emoji_cut_between_its_two_halves_is_stored_whole(make_user, emulator_provider) -> None:
    await _reply(make_user, "Hi 😀 there\x00!", "", [4], [])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=ANY_TEXT, reasoning=ANY_TEXT, cuts=CUTS, byte_cuts=CUTS)
async def test_any_text_cut_anywhere_is_stored_as_shown(make_user, emulator_provider, answer, reasoning, cuts,
                                                        byte_cuts) -> None:
    await _reply(make_user, answer, reasoning, cuts, byte_cuts)


async def test_a_gateway_that_cuts_an_emoji_and_sends_a_nul_gives_a_complete_reply(user, emulator_provider) -> None:
    """The emulator's `unstorable` fault: "\\ud83d" and "\\ude00" in two chunks, then "\\u0000"."""
    from tests.chat.wsclient import open_socket

    socket = await open_socket(user)
    created = await socket.chat("Say it [[tokens=8]] [[fault:unstorable:3]]")
    reply = created["assistant_message"]["id"]
    done = await socket.until("message.done", message=reply)
    stored = await database_sync_to_async(Message.objects.get)(id=reply)
    assert done["status"] == "complete" == stored.status
    assert " 😀 \ufffd" in stored.content and stored.content == done["content"]
    assert not done["usage"]["estimated"]
    await socket.close()
