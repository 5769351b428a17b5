"""The fault campaign: two daphne processes on PostgreSQL and a Redis of the test's own, then things break.

A web process is killed with 20 replies live; Redis is restarted (empty) mid-stream; 50 streams
drop; a gateway sends text that naive code cannot store; a gateway answers every call with 429,
or 503, for 20 replies at once. After each: every reply ends within a bound, every tab gets
exactly one end frame per reply (or, if its socket was closed to resync, a snapshot that shows
the end), the stored text is what the tabs were shown, the usage is billed and no live slot is
held. The figures each run measures are printed (`-s`) and written
up in docs/operations.md ("Faults").
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client

from accounts.models import Reservation
from chat.models import Message
from tests.emulator_server import free_port, running_emulator
from usage.models import UsageRecord

from .conftest import _database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
END = ("message.done", "message.error")
db = database_sync_to_async


# A Redis, web processes and tabs of the test's own ----------------------------------------


class PrivateRedis:
    """A redis-server on a free port that keeps nothing on disk: a restart forgets everything."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir, self.proc = free_port(), workdir, None  # type: ignore[var-annotated]
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)  # polling a starting process

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with running_emulator(flavour="xai", delay_scale=0.0) as url:  # pace set per request: [[tps=N]]
        yield url


@pytest.fixture
def provider(db, emulator):  # type: ignore[no-untyped-def]
    from gateways import catalog, offering
    from gateways.models import Provider

    provider = Provider(name="Built-in emulator", kind=Provider.Kind.EMULATOR, base_url=emulator)
    provider.set_api_key("emulator")
    provider.save()
    offering.offer(provider, list(catalog.CATALOG))
    return provider


class Web:
    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.proc = port, proc
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def web(provider, redis_server, tmp_path):  # type: ignore[no-untyped-def]
    """Two daphne processes on the test database and the private Redis; 60 live replies a user allowed."""
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "grokweb.settings", "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_server.url, "CELERY_BROKER_URL": redis_server.url,
        "SECRET_KEY": settings.SECRET_KEY, "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "127.0.0.1", "DEBUG": "0", "LOG_LEVEL": "WARNING",
        "MESSAGES_PER_MINUTE": "1000", "MAX_LIVE_GENERATIONS": "60",
    }
    daphne = str(Path(sys.executable).with_name("daphne"))
    servers = []
    try:
        for n in range(2):
            port = free_port()
            log = (tmp_path / f"web{n}.log").open("wb")
            servers.append(Web(port, subprocess.Popen(
                [daphne, "-b", "127.0.0.1", "-p", str(port), "grokweb.asgi:application"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)))
        for server in servers:
            deadline = time.monotonic() + 60
            while True:
                assert server.proc.poll() is None, (tmp_path / "web0.log").read_text()[-3000:]
                try:
                    if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "daphne did not come up"
                time.sleep(0.1)  # polling a starting process
        yield servers
    finally:
        for server in servers:
            if server.proc.poll() is None:
                server.proc.terminate()
        for server in servers:
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()


class Tab:
    """A browser tab: one socket at a time, every frame it ever got, reconnects when asked to."""

    def __init__(self, web: Web, cookie: str) -> None:
        self.web, self.cookie = web, cookie
        self.frames: list[dict[str, Any]] = []
        self.closes: list[int | None] = []
        self.ws: Any = None
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.web.url.replace("http", "ws", 1) + "/ws/chat/", open_timeout=30,
                                           max_size=None, additional_headers={
                                               "Cookie": f"sessionid={self.cookie}", "Origin": self.web.url})
        self._reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                self.frames.append(json.loads(raw))
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        self.closes.append(ws.close_code)
        async with self._changed:
            self._changed.notify_all()

    @property
    def open(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def until(self, check: Callable[[], Any], timeout: float) -> Any:
        """Wait (for frames, not for time) until `check()` is truthy; its value."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (found := check()):
                    await self._changed.wait()
        return found

    def of(self, type_: str, **match: Any) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == type_ and all(f.get(k) == v for k, v in match.items())]

    def ends(self, reply: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] in END and f.get("message") == reply]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def _cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _tab(web: Web, cookie: str) -> Tab:
    tab = Tab(web, cookie)
    await tab.connect()
    return tab


async def _start(tab: Tab, count: int, content: str) -> list[dict[str, Any]]:
    """`count` new conversations with a reply each; their `message.created` frames."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for request_id in ids:
        await tab.send({"type": "send", "request_id": request_id, "conversation": None, "content": content})
    return [(await tab.until(lambda r=r: tab.of("message.created", request_id=r), 60))[0] for r in ids]


async def _subscribe(tab: Tab, conversations: list[str]) -> None:
    before = len(tab.of("conversation.snapshot"))
    for conversation in conversations:
        await tab.send({"type": "subscribe", "conversation": conversation})
    await tab.until(lambda: len(tab.of("conversation.snapshot")) >= before + len(conversations), 60)


def _live(tab: Tab, reply: str) -> bool:
    """The tab follows the reply while it streams: a delta, or a snapshot that shows it live."""
    return bool(tab.of("message.delta", message=reply)) or any(
        live["message"] == reply for snap in tab.of("conversation.snapshot") for live in snap["live"])


def _ended_in_snapshot(tab: Tab, reply: str) -> bool:
    """A snapshot taken after a reconnect shows the reply ended (its end frame went to the closed socket)."""
    for snap in tab.of("conversation.snapshot"):
        for message in snap["messages"]:
            if message["id"] == reply and message["status"] != "streaming":
                return True
    return False


def _shown(tab: Tab, reply: str) -> str:
    """The text a tab displays for a reply: its first snapshot's live text, then the later deltas."""
    base, seq = "", 0
    for snap in tab.of("conversation.snapshot"):
        for live in snap["live"]:
            if live["message"] == reply:
                base, seq = live["content"], live["seq"]
                break
        else:
            continue
        break
    return base + "".join(f["content"] for f in tab.of("message.delta", message=reply) if f["seq"] > seq)


async def _settled(replies: list[str]) -> tuple[list[Message], int]:
    """The stored replies, and how many live slots their user still holds."""
    rows = await db(lambda: list(Message.objects.filter(id__in=replies)))()
    held = await db(Reservation.objects.filter(message_id__in=replies).count)()
    return rows, held


def _figure(name: str, **values: Any) -> None:
    print(f"\nFAULT FIGURE {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


# The campaign --------------------------------------------------------------------------------


async def test_kill_9_with_20_replies_live(user, web) -> None:
    cookie = await db(_cookie)(user)
    doomed, survivor = web
    writer, watcher = await _tab(doomed, cookie), await _tab(survivor, cookie)
    created = await _start(writer, 20, "A long story [[tokens=100000]] [[tps=8]]")
    replies = [c["assistant_message"]["id"] for c in created]
    await _subscribe(watcher, [c["conversation"] for c in created])
    # Every reply under way, with a checkpoint stored (the first comes after 2 s of text).
    await watcher.until(lambda: all(watcher.of("message.delta", message=r) for r in replies), 60)
    await watcher.until(lambda: len(watcher.of("message.delta")) >= 20 * 20, 90)  # a few seconds of text each

    killed = time.monotonic()
    os.kill(doomed.proc.pid, signal.SIGKILL)
    # A tab that subscribes at once, while the dead process's mark still says it is alive: at most one
    # unanswered snapshot request, not one per reply.
    early = await _tab(survivor, cookie)
    await _subscribe(early, [c["conversation"] for c in created])
    early_s = time.monotonic() - killed
    # The survivor ends them (within its heartbeat after the dead process's mark expires: 10 s + 30 s).
    await watcher.until(lambda: all(watcher.ends(r) for r in replies), 120)
    took = time.monotonic() - killed
    await early.until(lambda: all(early.ends(r) or _ended_in_snapshot(early, r) for r in replies), 60)
    for r in replies:  # a reply its snapshot showed live gets exactly one end frame; an ended one none
        assert len(early.ends(r)) == (0 if _ended_in_snapshot(early, r) and not early.ends(r) else 1)

    # A tab of the dead process reconnects to the survivor; subscribing waits on no dead process.
    assert not writer.open
    moved = await _tab(survivor, cookie)
    subscribing = time.monotonic()
    await _subscribe(moved, [c["conversation"] for c in created])
    subscribe_s = time.monotonic() - subscribing
    rows, held = await _settled(replies)
    lost = 0
    for row in rows:
        (end,) = watcher.ends(str(row.id))  # exactly one end frame on the survivor's tab
        assert end["type"] == "message.error" and end["code"] == "internal" and "restarted" not in end["detail"]
        assert row.status == "error" and row.content and end["content"] == row.content
        shown = _shown(watcher, str(row.id))
        assert shown.startswith(row.content)  # the stored text is what the tab was shown, up to the checkpoint
        lost += len(shown) - len(row.content)
        assert _ended_in_snapshot(moved, str(row.id))
    assert held == 0
    billed = await db(UsageRecord.objects.filter(message_id__in=replies).count)()
    assert billed == 20
    _figure("kill-9", replies=20, all_ended_s=round(took, 1), subscribe_20_right_after_kill_s=round(early_s, 2),
            subscribe_20_after_end_s=round(subscribe_s, 2),
            chars_after_last_checkpoint=lost)
    for tab in (watcher, moved, early):
        await tab.close()


async def test_redis_restarted_empty_mid_stream(user, web, redis_server) -> None:
    cookie = await db(_cookie)(user)
    first, second = web
    tab_a, tab_b = await _tab(first, cookie), await _tab(second, cookie)
    created = await _start(tab_a, 10, "Go on [[tokens=300]] [[tps=6]]")
    created += await _start(tab_b, 10, "Go on [[tokens=300]] [[tps=6]]")
    replies = [c["assistant_message"]["id"] for c in created]
    conversations = [c["conversation"] for c in created]
    for tab in (tab_a, tab_b):
        await _subscribe(tab, conversations)
    for tab in (tab_a, tab_b):
        await tab.until(lambda tab=tab: all(_live(tab, r) for r in replies), 60)
    rows, _ = await _settled(replies)
    assert all(row.status == "streaming" for row in rows)  # all 20 under way when Redis goes

    redis_server.kill()
    async with httpx.AsyncClient(timeout=30) as http:
        ready = await http.get(f"{first.url}/readyz")  # while Redis is away
    redis_server.start()  # empty: group members, liveness marks, everything is gone
    back = time.monotonic()
    assert ready.status_code == 503 and ready.json()["checks"]["channel_layer"].startswith("error")

    # Each tab either hears every end, or is closed to resync (4503) and reconnects, as socket.js does.
    async def settle(tab: Tab) -> None:
        while True:
            try:
                await tab.until(lambda: not tab.open or all(tab.ends(r) or _ended_in_snapshot(tab, r)
                                                            for r in replies), 90)
            except TimeoutError:
                return
            if tab.open:
                return
            await tab.connect()
            await _subscribe(tab, conversations)

    await asyncio.gather(settle(tab_a), settle(tab_b))
    took = time.monotonic() - back
    rows, held = await _settled(replies)
    assert all(row.status == "complete" for row in rows), [(r.status, r.error_detail) for r in rows]
    records = await db(lambda: list(UsageRecord.objects.filter(message_id__in=replies)))()
    assert len(records) == 20 and all(r.completion_tokens == 300 and not r.estimated for r in records)
    assert held == 0
    for tab in (tab_a, tab_b):
        for reply in replies:
            assert len(tab.ends(reply)) <= 1 and (tab.ends(reply) or _ended_in_snapshot(tab, reply))
        assert set(tab.closes) <= {4503}  # closed only to resync, never dropped
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(f"{first.url}/readyz")).status_code == 200  # Redis is back
    _figure("redis-restart", replies=20, all_ended_after_back_s=round(took, 1),
            replies_killed=sum(r.status != "complete" for r in rows), tokens_lost=0,
            resyncs=len(tab_a.closes) + len(tab_b.closes))
    for tab in (tab_a, tab_b):
        await tab.close()


async def test_50_streams_drop_mid_stream(user, web) -> None:
    cookie = await db(_cookie)(user)
    writer, watcher = await _tab(web[0], cookie), await _tab(web[1], cookie)
    started = time.monotonic()
    created = await _start(writer, 50, "Drop me [[tokens=50]] [[tps=100]] [[fault:drop:10]]")
    replies = [c["assistant_message"]["id"] for c in created]
    await _subscribe(watcher, [c["conversation"] for c in created])
    for tab in (writer, watcher):
        await tab.until(lambda tab=tab: all(tab.ends(r) or _ended_in_snapshot(tab, r) for r in replies), 120)
    took = time.monotonic() - started
    rows, held = await _settled(replies)
    for row in rows:
        (end,) = writer.ends(str(row.id))
        assert end["type"] == "message.error" and row.status == "error" and end["content"] == row.content
        assert len(watcher.ends(str(row.id))) <= 1
    assert held == 0
    billed = set(await db(lambda: list(UsageRecord.objects.filter(message_id__in=replies)
                                       .values_list("message_id", flat=True)))())
    for row in rows:  # drops after the first token trip no breaker: every reply got its 10 tokens, kept and billed
        assert row.error_code == "upstream_unavailable" and row.content and row.id in billed
    _figure("drops", replies=50, all_ended_s=round(took, 1), kept_text=sum(1 for r in rows if r.content),
            billed=len(billed), codes=sorted({r.error_code for r in rows}))
    for tab in (writer, watcher):
        await tab.close()


async def test_unstorable_text_crosses_processes_and_is_stored_as_shown(user, web) -> None:
    cookie = await db(_cookie)(user)
    writer, watcher = await _tab(web[0], cookie), await _tab(web[1], cookie)
    created = await _start(writer, 6, "Emoji [[tokens=30]] [[tps=100]] [[fault:unstorable:5]]")
    replies = [c["assistant_message"]["id"] for c in created]
    await _subscribe(watcher, [c["conversation"] for c in created])
    for tab in (writer, watcher):
        await tab.until(lambda tab=tab: all(tab.ends(r) or _ended_in_snapshot(tab, r) for r in replies), 60)
    rows, held = await _settled(replies)
    for row in rows:
        (end,) = writer.ends(str(row.id))
        assert end["type"] == "message.done" and row.status == "complete"
        assert "😀" in row.content and "\ufffd" in row.content and end["content"] == row.content
        assert len(watcher.ends(str(row.id))) <= 1
    assert held == 0
    for tab in (writer, watcher):
        await tab.close()


async def _storm(user: Any, web: list[Web], fault: str) -> tuple[list[Tab], dict[str, dict[str, Any]], list[Message],
                                                                  float]:
    """20 replies sent at once (10 from a tab on each process) to a gateway answering every call with `fault`.

    Each tab follows all 20; returns the tabs, each reply's end frame on the tab that sent it, the
    stored rows and the seconds until
    every reply ended on every tab. Checks what every storm must give: one end frame per reply on
    the tab that sent it (at most one elsewhere), an error that says to retry, no slot held.
    """
    cookie = await db(_cookie)(user)
    tab_a, tab_b = await _tab(web[0], cookie), await _tab(web[1], cookie)
    content = f"Storm [[tokens=20]] [[tps=100]] [[fault:{fault}]]"
    started = time.monotonic()
    made = await asyncio.gather(_start(tab_a, 10, content), _start(tab_b, 10, content))
    created = made[0] + made[1]
    replies = [c["assistant_message"]["id"] for c in created]
    for tab in (tab_a, tab_b):
        await _subscribe(tab, [c["conversation"] for c in created])
    for tab in (tab_a, tab_b):
        await tab.until(lambda tab=tab: all(tab.ends(r) or _ended_in_snapshot(tab, r) for r in replies), 120)
    took = time.monotonic() - started
    rows, held = await _settled(replies)
    assert held == 0 and all(row.status == "error" and row.content == "" for row in rows)
    ends = {}
    for own, tab, other in ((made[0], tab_a, tab_b), (made[1], tab_b, tab_a)):
        for c in own:
            reply = c["assistant_message"]["id"]
            (ends[reply],) = tab.ends(reply)  # exactly one end frame on the tab that sent it
            assert len(other.ends(reply)) <= 1 and (other.ends(reply) or _ended_in_snapshot(other, reply))
            assert ends[reply]["type"] == "message.error" and ends[reply]["retryable"] is True
    codes = {str(row.id): row.error_code for row in rows}
    assert all(end["code"] == codes[reply] for reply, end in ends.items())
    # A reply refused while the route rests says when to retry; it reached no gateway.
    assert all(end["retry_after"] >= 1 for end in ends.values() if "retry_after" in end)
    return [tab_a, tab_b], ends, rows, took


async def _billed(ends: dict[str, dict[str, Any]]) -> int:
    """Ledger: one row per reply the gateway refused, zero usage and no cost; none for one refused at planning."""
    records = await db(lambda: list(UsageRecord.objects.filter(message_id__in=list(ends))))()
    called = {reply for reply, end in ends.items() if "retry_after" not in end}
    assert {str(r.message_id) for r in records} == called and len(records) == len(called)
    assert all(r.total_tokens == 0 and r.cost_ticks == 0 and not r.estimated and r.outcome == "error"
               for r in records)
    return len(records)


def _resting(redis_server: PrivateRedis) -> list[str]:
    """The routes the breaker keeps open, as every process sees them (its keys in the shared Redis)."""
    scan = ["redis-cli", "-p", str(redis_server.port), "--scan", "--pattern", "*grokweb:breaker:*:open"]
    return subprocess.run(scan, capture_output=True, text=True, check=True).stdout.split()


async def _recovers(tab: Tab) -> tuple[dict[str, Any], int]:
    """A new reply once the gateway answers again: admitted (no slot held), and it completes.

    A refusal while the route rests carries `retry_after`; it is honoured before sending again.
    Returns the end frame and how many refusals came first.
    """
    refusals = 0
    while True:
        (created,) = await _start(tab, 1, "Back again [[tokens=20]] [[tps=100]]")
        reply = created["assistant_message"]["id"]
        (end,) = await tab.until(lambda reply=reply: tab.ends(reply), 120)
        if end["type"] == "message.done":
            return end, refusals
        assert end["code"] == "upstream_unavailable" and end["retryable"] is True and end["retry_after"] >= 1
        refusals += 1
        assert refusals <= 3, end
        await asyncio.sleep(end["retry_after"])  # the protocol's own instruction: wait this long


async def test_429_storm_from_both_processes(user, web) -> None:
    tabs, ends, rows, took = await _storm(user, web, "429:1")  # Retry-After: 1 on every call
    # The gateway's 429 (retried, honouring Retry-After) ends a reply `upstream_rate_limited`; a reply
    # planned while the route rests on that Retry-After is refused at once, saying when to retry.
    for end in ends.values():
        assert (end["code"], "retry_after" in end) in {("upstream_rate_limited", False), ("upstream_unavailable", True)}
    billed = await _billed(ends)
    assert billed >= 1
    end, refusals = await _recovers(tabs[0])
    assert end["content"]
    _figure("429-storm", replies=20, all_ended_s=round(took, 1), rate_limited=billed,
            refused_resting=20 - billed, recovery_refusals=refusals)
    for tab in tabs:
        await tab.close()


async def test_503_storm_from_both_processes(user, web, redis_server) -> None:
    tabs, ends, rows, took = await _storm(user, web, "503")
    # From the gateway (retried first), or refused at once while the route rests.
    assert {end["code"] for end in ends.values()} == {"upstream_unavailable"}
    billed = await _billed(ends)
    assert billed >= 3  # enough to rest the route (BREAKER_FAILURES)
    # The route rests now (3 failures): the model is not refused outright; a trial call goes through,
    # completes, and closes the circuit for everyone.
    assert len(_resting(redis_server)) == 1
    end, refusals = await _recovers(tabs[0])
    assert end["content"] and refusals == 0 and _resting(redis_server) == []
    end, _ = await _recovers(tabs[1])  # the other process sees the circuit closed
    assert end["content"]
    _figure("503-storm", replies=20, all_ended_s=round(took, 1), refused_by_gateway=billed,
            refused_resting=20 - billed, recovery_refusals=refusals)
    for tab in tabs:
        await tab.close()
