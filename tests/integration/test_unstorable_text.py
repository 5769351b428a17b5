"""Any text a gateway sends, cut anywhere, is stored in PostgreSQL and crosses the Redis layer as shown."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Message
from gateways.wire.text import mend
from tests.chat.unstorable import gateway, pieces, run_reply, sse_body

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30)
CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)


async def _reply(make_user: Any, answer: str, reasoning: str, cuts: list[int], byte_cuts: list[int]) -> None:
    layer = get_channel_layer()
    group, channel = f"unstorable.{uuid.uuid4().hex}", await layer.new_channel()
    await layer.group_add(group, channel)
    sent = 0

    async def publish(frame: dict[str, Any]) -> None:  # through Redis (msgpack), as between web processes
        nonlocal sent
        await layer.group_send(group, {"type": "chat.frame", "frame": frame})
        sent += 1

    user = await database_sync_to_async(make_user)(f"u{uuid.uuid4().hex[:12]}")
    message_id = await run_reply(user, gateway(sse_body(pieces(answer, cuts), pieces(reasoning, cuts)), byte_cuts),
                                 publish)
    frames = [(await layer.receive(channel))["frame"] for _ in range(sent)]
    await layer.group_discard(group, channel)
    stored = await database_sync_to_async(Message.objects.get)(id=message_id)
    (end,) = [f for f in frames if f["type"] in ("message.done", "message.error")]
    assert stored.status == "complete" and end["type"] == "message.done"
    assert stored.content == end["content"] == "".join(f["content"] for f in frames if f["type"] == "message.delta")
    assert stored.content == mend(answer) and stored.reasoning == mend(reasoning)


async def test_an_emoji_cut_in_two_and_a_nul_reach_postgresql_and_redis(make_user, emulator_provider) -> None:
    await _reply(make_user, "Hi 😀 there\x00!", "why \U0001f914", [4, 9], [])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=ANY_TEXT, reasoning=ANY_TEXT, cuts=CUTS, byte_cuts=CUTS)
async def test_any_text_cut_anywhere_is_stored_and_relayed_as_shown(make_user, emulator_provider, answer, reasoning,
                                                                    cuts, byte_cuts) -> None:
    await _reply(make_user, answer, reasoning, cuts, byte_cuts)
