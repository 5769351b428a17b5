"""Frames to the sockets of a group: directly in the publishing process, through the layer to the others.

Two fanouts on one in-memory layer stand for two web processes on a shared (Redis) layer; the
cross-process path over real Redis and two daphne processes is in tests/integration/test_processes.py.
"""
from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from chat.fanout import Fanout, SocketInbox
from chat.groups import FRAME, layer_message
from tests.chat.wsclient import open_socket

GROUP = "conv.test"


async def _process(layer: InMemoryChannelLayer) -> tuple[Fanout, asyncio.Task[None]]:
    """A fanout with its hub's channel and a loop that hands it what the layer brings (as Hub._listen does)."""
    fanout = Fanout(layer)
    fanout.remote = True  # as with Redis: another process may follow the group
    fanout.channel = await layer.new_channel()

    async def listen() -> None:
        while True:
            fanout.received(await layer.receive(fanout.channel))

    return fanout, asyncio.create_task(listen())


def _drain(inbox: asyncio.Queue) -> list[int]:  # type: ignore[type-arg]
    out = []
    while not inbox.empty():
        out.append(inbox.get_nowait()["frame"]["seq"])
    return out


async def test_each_socket_gets_every_frame_once_in_order_in_its_own_process_and_the_others() -> None:
    layer = InMemoryChannelLayer()
    (here, here_loop), (there, there_loop) = await _process(layer), await _process(layer)
    mine, also_mine, theirs = asyncio.Queue(), asyncio.Queue(), asyncio.Queue()  # type: ignore[var-annotated]
    try:
        await here.join(GROUP, mine)
        await here.join(GROUP, also_mine)
        await there.join(GROUP, theirs)
        for seq in range(1, 51):
            await here.publish(GROUP, {"type": FRAME, "frame": {"seq": seq}})
        assert _drain(mine) == _drain(also_mine) == list(range(1, 51))  # locally: at once, and only once
        got = [(await asyncio.wait_for(theirs.get(), 5))["frame"]["seq"] for _ in range(50)]
        assert got == list(range(1, 51))  # the other process: through the layer, in order
        # A frame from the other process queues behind the layer's copies of the first fifty, which came
        # back to the publisher's channel: the next thing in its sockets' inboxes must be that frame.
        await there.publish(GROUP, {"type": FRAME, "frame": {"seq": 51}})
        assert (await asyncio.wait_for(mine.get(), 5))["frame"]["seq"] == 51
        assert _drain(mine) == [] and _drain(theirs) == [51]
    finally:
        here_loop.cancel()
        there_loop.cancel()


async def test_a_process_follows_a_group_on_the_layer_only_while_one_of_its_sockets_does() -> None:
    layer = InMemoryChannelLayer()
    fanout, loop = await _process(layer)
    first, second = asyncio.Queue(), asyncio.Queue()  # type: ignore[var-annotated]
    try:
        await fanout.join(GROUP, first)
        await fanout.join(GROUP, second)
        assert list(layer.groups[GROUP]) == [fanout.channel]  # one membership for the process
        await fanout.leave(GROUP, first)
        assert GROUP in layer.groups
        await fanout.leave(GROUP, second)
        assert GROUP not in layer.groups or not layer.groups[GROUP]
    finally:
        loop.cancel()


async def test_a_message_from_outside_a_hub_reaches_the_group_by_its_name() -> None:
    """What a Celery worker sends (a title) names its group, so the hub knows whose inboxes it is for."""
    layer = InMemoryChannelLayer()
    fanout, loop = await _process(layer)
    inbox, other = asyncio.Queue(), asyncio.Queue()  # type: ignore[var-annotated]
    try:
        await fanout.join("user.1", inbox)
        await fanout.join("user.2", other)
        await layer.group_send("user.1", layer_message("user.1", FRAME, frame={"type": "conversation.updated"}))
        message = await asyncio.wait_for(inbox.get(), 5)
        assert message["frame"] == {"type": "conversation.updated"} and other.empty()
    finally:
        loop.cancel()


@pytest.mark.django_db(transaction=True)
async def test_two_tabs_in_one_process_see_the_same_frames_and_one_end_each(user, emulator_provider) -> None:
    """The local path end to end: every delta once, seq 1, 2, 3 ..., adding up to the stored text."""
    first, second = await open_socket(user), await open_socket(user)
    created = await first.chat("Two tabs [[tokens=300]]")
    reply, conversation = created["assistant_message"]["id"], created["conversation"]
    await second.send({"type": "subscribe", "conversation": conversation})
    snapshot = await second.until("conversation.snapshot")
    live = {item["message"]: item for item in snapshot["live"]}
    done_first = await first.until("message.done", message=reply)
    deltas = [f for f in first.seen if f["type"] == "message.delta" and f["message"] == reply]
    assert [f["seq"] for f in deltas] == list(range(1, len(deltas) + 1))
    assert "".join(f["content"] for f in deltas) == done_first["content"]
    if reply in live:  # subscribed while it streamed: snapshot + later frames
        done_second = await second.until("message.done", message=reply)
        later = [f for f in second.seen if f["type"] == "message.delta" and f["message"] == reply]
        assert [f["seq"] for f in later] == list(range(live[reply]["seq"] + 1, live[reply]["seq"] + 1 + len(later)))
        assert live[reply]["content"] + "".join(f["content"] for f in later) == done_second["content"]
    for socket in (first, second):
        await socket.send({"type": "ping"})
        await socket.until("pong")
        ends = [f for f in socket.seen if f.get("message") == reply and f["type"] in ("message.done", "message.error")]
        assert len(ends) == (1 if socket is first or reply in live else 0)
        await socket.close()


class _AwayLayer(InMemoryChannelLayer):
    """A shared layer that is away (Redis restarting): every group call fails."""

    away = False

    async def group_send(self, group: str, message: dict) -> None:  # type: ignore[type-arg]
        if self.away:
            raise ConnectionError("Connection refused")
        await super().group_send(group, message)

    async def group_discard(self, group: str, channel: str) -> None:
        if self.away:
            raise ConnectionError("Connection refused")
        await super().group_discard(group, channel)


async def test_a_layer_that_is_away_never_stops_a_publisher_and_this_process_still_hears() -> None:
    layer = _AwayLayer()
    fanout, listener = await _process(layer)
    inbox: asyncio.Queue = asyncio.Queue()  # type: ignore[type-arg]
    await fanout.join(GROUP, inbox)
    layer.away = True
    for seq in (1, 2):
        await fanout.publish(GROUP, layer_message(GROUP, FRAME, frame={"seq": seq}))  # raises nothing
    assert _drain(inbox) == [1, 2] and fanout.troubled  # the hub will have the other processes' tabs resync
    await fanout.leave(GROUP, inbox)  # leaving while away works too
    assert GROUP not in fanout.joined
    listener.cancel()


async def test_a_socket_inbox_hands_frames_over_in_order_one_at_a_time_and_none_once_closed() -> None:
    """A socket's frames go out in publishing order, each after the one before has gone out."""
    sent: list[int] = []
    busy = 0
    all_out = asyncio.Event()

    async def deliver(message: dict) -> None:  # type: ignore[type-arg]
        nonlocal busy
        busy += 1
        assert busy == 1, "two frames handed over at once"
        await asyncio.sleep(0)  # a send that yields to the loop, as a real one does
        sent.append(message["n"])
        busy -= 1
        if len(sent) == 5:
            all_out.set()

    inbox = SocketInbox(deliver)
    for n in range(3):
        inbox.put_nowait({"type": "chat.frame", "n": n})
    await asyncio.sleep(0)  # the hand-over is under way: the next two join it
    inbox.put_nowait({"type": "chat.frame", "n": 3})
    inbox.put_nowait({"type": "chat.frame", "n": 4})
    await asyncio.wait_for(all_out.wait(), 5)
    inbox.close()
    inbox.put_nowait({"type": "chat.frame", "n": 5})  # published as the socket left: goes nowhere
    await asyncio.sleep(0)
    assert sent == [0, 1, 2, 3, 4]


async def test_a_frame_to_an_idle_socket_goes_out_in_the_publishers_step_and_order_holds_when_one_waits() -> None:
    """No task per frame when the hand-over does not wait; when it does, later frames queue behind it."""
    sent: list[int] = []
    gate = asyncio.Event()
    ended: list[str] = []

    async def deliver(message: dict) -> None:  # type: ignore[type-arg]
        try:
            if message.get("wait"):
                await gate.wait()  # the consumer busy with a handler, say
            sent.append(message["n"])
        finally:
            ended.append(message["n"])

    inbox = SocketInbox(deliver)
    inbox.put_nowait({"type": "chat.frame", "n": 0})
    assert sent == [0]  # out already, no task, no loop turn
    inbox.put_nowait({"type": "chat.frame", "n": 1, "wait": True})
    inbox.put_nowait({"type": "chat.frame", "n": 2})
    inbox.put_nowait({"type": "chat.other", "n": 3})
    assert sent == [0]
    gate.set()
    for _ in range(20):
        await asyncio.sleep(0)
        if len(sent) == 4:
            break
    assert sent == [0, 1, 2, 3]
    inbox.put_nowait({"type": "chat.frame", "n": 4})
    assert sent == [0, 1, 2, 3, 4]  # idle again: at once
    gate.clear()
    inbox.put_nowait({"type": "chat.frame", "n": 5, "wait": True})
    inbox.close()  # the socket left while a frame waited: its hand-over is cancelled, nothing more goes out
    for _ in range(5):
        await asyncio.sleep(0)
    assert sent == [0, 1, 2, 3, 4] and ended == [0, 1, 2, 3, 4, 5]  # its hand-over ended, unfinished
