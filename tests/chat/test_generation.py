"""The runner against the emulator on a loopback port, storing through the real services."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.generation import Job, Pacing, Runner
from chat.models import Message
from chat.store import DjangoStore
from gateways.wire.client import get_client
from gateways.wire.events import ContentDelta
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


class Frames:
    """Collects published frames; lets a test await the n-th content token."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def publish(self, frame: dict[str, Any]) -> None:
        self.items.append(frame)
        self.changed.set()

    async def wait_for_text(self, chars: int) -> None:
        while len("".join(f.get("content", "") for f in self.deltas)) < chars:
            self.changed.clear()
            await self.changed.wait()

    @property
    def deltas(self) -> list[dict[str, Any]]:
        return [f for f in self.items if f["type"] == "message.delta"]


async def _start(user: Any, text: str, model: str = "grok-4-1-fast-non-reasoning") -> tuple[Runner, Frames]:
    started = await db(services.send)(user, request_id=uuid.uuid4(), conversation_id=None, content=text,
                                      model_slug=model)
    plan = await db(services.prepare)(started.assistant_message.id)
    frames = Frames()
    job = Job(plan.message_id, plan.prompt_chars, hidden_reasoning_rate=plan.hidden_reasoning_rate)
    runner = Runner(job, get_client().stream(plan.endpoint, plan.request), frames.publish, DjangoStore(),
                    pacing=Pacing(frame_interval=0.005, checkpoint_first=0.0))
    return runner, frames


async def _stored(message_id: Any) -> tuple[Message, UsageRecord]:
    message = await db(Message.objects.get)(id=message_id)
    record = await db(UsageRecord.objects.get)(message_id=message_id)
    return message, record


async def test_a_complete_reply_is_stored_with_its_usage_and_cost(user, emulator_provider) -> None:
    runner, frames = await _start(user, "Tell me about Mars [[tokens=120]]")
    ending = await runner.run()
    message, record = await _stored(runner.job.message_id)
    assert message.status == "complete" and message.finish_reason == "stop"
    assert [f["seq"] for f in frames.deltas] == list(range(1, len(frames.deltas) + 1))
    assert "".join(f["content"] for f in frames.deltas) == message.content == ending.content
    assert record.completion_tokens == 120 and not record.estimated and record.cost_ticks > 0
    assert record.stated_cost_ticks == record.cost_ticks  # our price math agrees with the gateway's
    done = frames.items[-1]
    assert done["type"] == "message.done" and done["content"] == message.content
    assert done["usage"]["completion_tokens"] == 120 and done["timing"]["duration_ms"] >= 0


async def test_hidden_reasoning_is_billed_and_reported(user, emulator_provider) -> None:
    runner, frames = await _start(user, "Why is the sky blue?", model="grok-4-1-fast-reasoning")
    await runner.run()
    message, record = await _stored(runner.job.message_id)
    assert message.reasoning == "" and record.reasoning_tokens > 0
    assert record.billable_output_tokens == record.completion_tokens + record.reasoning_tokens


async def test_a_reasoning_trace_is_streamed_and_kept(user, emulator_provider) -> None:
    runner, frames = await _start(user, "What is 17 * 23?", model="grok-3-mini")
    await runner.run()
    message, _ = await _stored(runner.job.message_id)
    assert message.reasoning and "".join(f["reasoning"] for f in frames.deltas) == message.reasoning


async def test_stop_keeps_the_partial_text_and_records_an_estimate(user, emulator_provider) -> None:
    runner, frames = await _start(user, "Write a long essay [[tokens=100000]]")
    task = asyncio.create_task(runner.run())
    await frames.wait_for_text(40)
    runner.stop()
    ending = await task
    message, record = await _stored(runner.job.message_id)
    assert ending.status == message.status == "cancelled"
    assert len(message.content) >= 40 and len(message.content) < 100000
    assert "".join(f["content"] for f in frames.deltas) == message.content
    assert record.estimated and record.outcome == "cancelled" and record.completion_tokens > 0
    assert frames.items[-1]["type"] == "message.done" and frames.items[-1]["status"] == "cancelled"


FAULTS = [
    ("bad_key", "upstream_auth", False),
    ("401", "upstream_auth", False),
    ("403_policy", "content_blocked", False),
    ("403_credits", "upstream_forbidden", False),
    ("404", "model_unavailable", False),
    ("429:0", "upstream_rate_limited", False),
    ("500", "upstream_unavailable", False),
    ("503", "upstream_unavailable", False),
    ("stream_error:5", None, True),
    ("drop:5", "upstream_unavailable", True),
    ("stall:5", "timeout", True),
]


@pytest.mark.parametrize(("fault", "code", "partial"), FAULTS)
async def test_every_fault_ends_the_reply_with_its_code(user, emulator_provider, fault, code, partial) -> None:
    emulator_provider.max_retries = 0
    emulator_provider.idle_timeout = 0.5
    await db(emulator_provider.save)()
    runner, frames = await _start(user, f"Hello [[fault:{fault}]]")
    await runner.run()
    message, record = await _stored(runner.job.message_id)
    assert message.status == "error"
    if code:
        assert message.error_code == code
    assert bool(message.content) is partial
    assert record.outcome == "error"
    if partial:  # broke mid-stream: the usage is estimated, flagged, never zero
        assert record.estimated and record.cost_ticks > 0
    else:  # refused with an HTTP error before any token: billed nothing, recorded as exactly nothing
        assert not record.estimated and record.convention == "refused" and record.cost_ticks == 0
    error = frames.items[-1]
    assert error["type"] == "message.error" and error["code"] == message.error_code and error["detail"]
    assert await db(Message.objects.filter(status="streaming").count)() == 0


async def test_a_retryable_failure_before_the_first_token_is_retried(user, emulator_provider) -> None:
    runner, frames = await _start(user, f"Hello [[fault:fail_first:1:503:{uuid.uuid4().hex}]]")
    await runner.run()
    message, _ = await _stored(runner.job.message_id)
    assert message.status == "complete" and message.content


async def test_runner_never_retries_after_the_first_token(user, emulator_provider) -> None:
    runner, _ = await _start(user, f"Hello [[fault:fail_first:1:drop:3:{uuid.uuid4().hex}]]")
    await runner.run()
    message, _ = await _stored(runner.job.message_id)
    assert message.status == "error" and message.error_code == "upstream_unavailable"


async def test_scripted_stream_without_usage_gets_a_flagged_estimate(user, emulator_provider) -> None:
    """A gateway that sends no usage at all: the ledger row is estimated, never zero."""
    started = await db(services.send)(user, request_id=uuid.uuid4(), conversation_id=None, content="hi there")

    async def events():  # type: ignore[no-untyped-def]
        for token in ["Hello", " again", "!"]:
            yield ContentDelta(token)

    frames = Frames()
    runner = Runner(Job(started.assistant_message.id, 8), events(), frames.publish, DjangoStore())
    await runner.run()
    message, record = await _stored(started.assistant_message.id)
    assert message.content == "Hello again!" and message.status == "complete"
    assert record.estimated and record.prompt_tokens >= 1 and record.completion_tokens >= 1 and record.cost_ticks > 0


async def test_a_reply_that_reaches_its_budget_room_is_cut_kept_and_billed(user, emulator_provider) -> None:
    started = await db(services.send)(user, request_id=uuid.uuid4(), conversation_id=None,
                                      content="Write at length [[tokens=5000]]")
    plan = await db(services.prepare)(started.assistant_message.id)
    frames = Frames()
    job = Job(plan.message_id, plan.prompt_chars, output_room=30)
    runner = Runner(job, get_client().stream(plan.endpoint, plan.request), frames.publish, DjangoStore(),
                    pacing=Pacing(frame_interval=0.005, checkpoint_first=0.0))
    ending = await runner.run()
    message, record = await _stored(job.message_id)
    assert (ending.status, ending.error_code) == ("error", "budget_exceeded")
    assert message.status == "error" and message.content == ending.content != ""
    assert 30 <= record.completion_tokens <= 30 + 4 and record.estimated  # one word past the room at most
    final = frames.items[-1]
    assert final["type"] == "message.error" and final["code"] == "budget_exceeded" and not final["retryable"]
    assert final["content"] == message.content


async def test_deltas_are_never_closer_than_one_frame_interval(user, emulator_provider) -> None:
    """The protocol: at most one delta frame per DELTA_INTERVAL_S per reply, whatever the upstream's pace
    (here a token every millisecond, then tokens a little less than an interval apart); the first goes out at once,
    and so does the last text, with the reply's end."""
    started = await db(services.send)(user, request_id=uuid.uuid4(), conversation_id=None, content="hi there")
    interval = 0.02
    sent_at: list[float] = []
    loop = asyncio.get_running_loop()

    async def events():  # type: ignore[no-untyped-def]
        for n in range(150):
            yield ContentDelta(f" w{n + 1}")
            await asyncio.sleep(0.001 if n < 100 else interval * 0.85)

    frames = Frames()

    async def publish(frame: dict[str, Any]) -> None:
        if frame["type"] == "message.delta":
            sent_at.append(loop.time())
        await frames.publish(frame)

    runner = Runner(Job(started.assistant_message.id, 8), events(), publish, DjangoStore(),
                    pacing=Pacing(frame_interval=interval, checkpoint_first=0.0), clock=loop.time)
    await runner.run()
    assert "".join(f["content"] for f in frames.deltas) == "".join(f" w{n + 1}" for n in range(150))
    assert len(sent_at) >= 3
    gaps = [b - a for a, b in zip(sent_at[:-2], sent_at[1:-1], strict=True)]
    assert min(gaps) >= interval - 0.001, gaps


async def test_frames_published_from_the_reading_task_keep_order_interval_and_every_token(user,
                                                                                          emulator_provider) -> None:
    """With `publish_now` (the hub's, in one process) a delta goes out from the task that read its text, at once
    when the last frame is an interval old; text sooner waits for the flusher, and a frame `publish_now` refuses
    (before `message.created` is out) is sent by the flusher first. One stream of frames either way: seq 1, 2, 3...
    in order, every token once, never two deltas closer than an interval, one end frame."""
    started = await db(services.send)(user, request_id=uuid.uuid4(), conversation_id=None, content="hi there")
    interval = 0.02
    tokens = 80
    loop = asyncio.get_running_loop()
    out: list[tuple[str, float, dict[str, Any]]] = []
    refuse = 2

    async def events():  # type: ignore[no-untyped-def]
        # Bursts (text sooner than an interval: the flusher's) and paced text (each event well over an
        # interval after the last frame, whoever sent it: the reader's), so both senders are used
        # however late a busy machine runs either of them.
        for n in range(tokens):
            yield ContentDelta(f" w{n + 1}")
            await asyncio.sleep(0.001 if n % 40 < 20 else interval * 2.5)

    async def publish(frame: dict[str, Any]) -> None:
        out.append(("flusher", loop.time(), frame))

    def publish_now(frame: dict[str, Any]) -> bool:
        nonlocal refuse
        if refuse:
            refuse -= 1
            return False
        out.append(("reader", loop.time(), frame))
        return True

    runner = Runner(Job(started.assistant_message.id, 8), events(), publish, DjangoStore(),
                    pacing=Pacing(frame_interval=interval, checkpoint_first=0.05), clock=loop.time,
                    publish_now=publish_now)
    ending = await runner.run()
    deltas = [(who, at, f) for who, at, f in out if f["type"] == "message.delta"]
    assert [f["seq"] for _, _, f in deltas] == list(range(1, len(deltas) + 1))
    assert "".join(f["content"] for _, _, f in deltas) == "".join(f" w{n + 1}" for n in range(tokens)) == ending.content
    assert {who for who, _, _ in deltas} == {"reader", "flusher"}
    assert [who for who, _, _ in deltas[:2]] == ["flusher", "flusher"]  # refused, then sent by the flusher
    gaps = [b - a for (_, a, _), (_, b, _) in zip(deltas[:-2], deltas[1:-1], strict=True)]
    assert min(gaps) >= interval - 0.001, gaps
    assert [f["type"] for _, _, f in out].count("message.done") == 1 and out[-1][2]["type"] == "message.done"
