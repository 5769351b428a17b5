"""gateways.wire.pool: the lean pool decides as httpcore's pool does, with less work per request.

Against httpcore's own `_assign_requests_to_connections` on random pools (connections idle,
busy, closed, connecting, failed, expired, for two origins; limits reached or not): whenever
the whole pass is due, the same connection for the request, the same ones closed, the same
pool left. Between passes, a request still gets the first available connection to its origin
that has not expired. Requests queued together get a connection each, where httpcore gives
them all the same one. And the client on loopback: many replies at once, every token, the
connections reused.
"""
from __future__ import annotations

import asyncio
import random
from typing import Any

import httpcore
import httpx
import pytest

from gateways.wire import pool as pool_module
from gateways.wire.client import UpstreamClient
from gateways.wire.pool import LeanPool, lean

from .test_body import CHUNKED_HEAD, assert_whole, chunked, events_bytes, gateway, reply

ORIGINS = [httpcore.URL("http://a.test/v1").origin, httpcore.URL("http://b.test/v1").origin]


class Fake:
    """A connection as the pool sees it (httpcore.AsyncHTTPConnection's answers for each state)."""

    def __init__(self, n: int, origin: Any, state: str, expired: bool = False) -> None:
        self.n, self.origin, self.state, self.expired = n, origin, state, expired
        self.asked_expired = 0

    def can_handle_request(self, origin: Any) -> bool:
        return bool(origin == self.origin)

    def is_available(self) -> bool:
        return self.state == "idle"

    def is_idle(self) -> bool:
        return self.state in ("idle", "failed")

    def is_closed(self) -> bool:
        return self.state in ("closed", "failed")

    def has_expired(self) -> bool:
        self.asked_expired += 1
        return self.state == "failed" or (self.state == "idle" and self.expired)

    def __repr__(self) -> str:
        return f"<{self.n} {self.state}{' expired' if self.expired else ''}>"


def _made(pool: Any) -> Any:
    def create(origin: Any) -> Fake:
        pool.created += 1
        return Fake(1000 + pool.created, origin, "connecting")
    return create


def _pools(rng: random.Random) -> tuple[httpcore.AsyncConnectionPool, LeanPool]:
    """The same random pool twice: httpcore's and the lean one."""
    max_connections = rng.choice([2, 4, 8, 100])
    max_keepalive = rng.choice([1, 3, 6, 100])
    states = [(rng.choice(ORIGINS), rng.choice(["idle", "idle", "active", "closed", "connecting", "failed"]),
               rng.random() < 0.3) for _ in range(rng.randrange(0, 10))]
    queued = [rng.choice(ORIGINS) for _ in range(rng.randrange(0, 2))]  # httpcore gives several the same one
    active = rng.randrange(0, 3)
    made = []
    for kind in (httpcore.AsyncConnectionPool, LeanPool):
        pool = kind(max_connections=max_connections, max_keepalive_connections=max_keepalive)
        pool.created = 0  # type: ignore[attr-defined]
        pool.create_connection = _made(pool)  # type: ignore[method-assign]
        pool._connections = [Fake(i, origin, state, expired) for i, (origin, state, expired) in enumerate(states)]
        requests = []
        for i, origin in enumerate(queued):
            host = "a" if origin == ORIGINS[0] else "b"
            requests.append(httpcore._async.connection_pool.AsyncPoolRequest(
                httpcore.Request("POST", f"http://{host}.test/{i}")))
        for _ in range(active):  # requests already on a connection: not queued
            done = httpcore._async.connection_pool.AsyncPoolRequest(httpcore.Request("GET", "http://a.test/"))
            done.assign_to_connection(Fake(-1, ORIGINS[0], "active"))
            requests.insert(0, done)
        pool._requests = requests
        made.append(pool)
    return made[0], made[1]  # type: ignore[return-value]


def _outcome(pool: Any, closing: list[Any]) -> tuple[list[Any], list[int], list[int]]:
    return ([r.connection.n if r.connection is not None else None for r in pool._requests],
            [c.n for c in closing], [c.n for c in pool._connections])


async def test_with_the_whole_pass_due_the_lean_pool_decides_as_httpcore_does() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        theirs, ours = _pools(rng)
        ours._sweep_due = 0.0  # due
        assert _outcome(ours, ours._assign_requests_to_connections()) == \
            _outcome(theirs, theirs._assign_requests_to_connections())


async def test_between_passes_a_request_gets_the_first_available_connection_that_has_not_expired(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module.time, "monotonic", lambda: 100.0)
    ours = LeanPool(max_connections=10, max_keepalive_connections=10)
    ours.created = 0  # type: ignore[attr-defined]
    ours.create_connection = _made(ours)  # type: ignore[method-assign]
    a, b = ORIGINS
    ours._connections = [Fake(0, a, "active"), Fake(1, b, "idle"), Fake(2, a, "idle", expired=True),
                         Fake(3, a, "closed"), Fake(4, a, "idle"), Fake(5, a, "idle")]
    ours._sweep_due = 101.0  # not due
    request = httpcore._async.connection_pool.AsyncPoolRequest(httpcore.Request("POST", "http://a.test/v1"))
    ours._requests = [request]
    closing = ours._assign_requests_to_connections()
    assert request.connection.n == 4  # type: ignore[union-attr]
    assert [c.n for c in closing] == [2]  # the expired one it met first is closed
    assert [c.n for c in ours._connections] == [0, 1, 3, 4, 5]  # the rest waits for the whole pass
    assert ours._connections[4].asked_expired == 0  # only the connections it would take are asked


def _request(url: str = "http://a.test/v1") -> Any:
    return httpcore._async.connection_pool.AsyncPoolRequest(httpcore.Request("POST", url))


async def test_requests_queued_together_get_a_connection_each_until_theirs_start_or_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module.time, "monotonic", lambda: 100.0)
    ours = LeanPool(max_connections=10, max_keepalive_connections=10)
    ours.created = 0  # type: ignore[attr-defined]
    ours.create_connection = _made(ours)  # type: ignore[method-assign]
    a, b = ORIGINS
    ours._connections = [Fake(0, a, "idle"), Fake(1, b, "idle"), Fake(2, a, "idle")]
    ours._sweep_due = 101.0
    first, second, third = _request(), _request(), _request()
    ours._requests = [first, second, third]
    assert ours._assign_requests_to_connections() == []
    assert [r.connection.n for r in ours._requests] == [0, 2, 1001]  # a new one rather than a taken one
    # The first ends without ever starting (cancelled): its connection is free again.
    ours._requests.remove(first)
    fourth = _request()
    ours._requests.append(fourth)
    ours._assign_requests_to_connections()
    assert fourth.connection.n == 0  # type: ignore[union-attr]
    # The second started on its connection (busy), and ended (idle again, and gone from the list): free again.
    ours._requests.remove(second)
    fifth = _request()
    ours._requests.append(fifth)
    ours._assign_requests_to_connections()
    assert fifth.connection.n == 2  # type: ignore[union-attr]
    # The whole pass forgets the connections whose requests are gone.
    ours._sweep_due = 0.0
    ours._requests.remove(fifth)
    ours._assign_requests_to_connections()
    assert set(ours._given or {}) == {ours._connections[0]}  # the fourth's, still waiting


async def test_a_full_pool_leaves_the_choice_to_httpcore(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection available and no room: httpcore's pass, which closes an idle connection to another origin."""
    monkeypatch.setattr(pool_module.time, "monotonic", lambda: 100.0)
    ours = LeanPool(max_connections=2, max_keepalive_connections=2)
    ours.created = 0  # type: ignore[attr-defined]
    ours.create_connection = _made(ours)  # type: ignore[method-assign]
    a, b = ORIGINS
    ours._connections = [Fake(0, a, "active"), Fake(1, b, "idle")]
    ours._sweep_due = 101.0
    request = httpcore._async.connection_pool.AsyncPoolRequest(httpcore.Request("POST", "http://a.test/v1"))
    ours._requests = [request]
    closing = ours._assign_requests_to_connections()
    assert [c.n for c in closing] == [1]
    assert request.connection.n == 1001 and [c.n for c in ours._connections] == [0, 1001]  # type: ignore[union-attr]


def test_only_httpx_own_pool_is_replaced() -> None:
    assert type(UpstreamClient()._http._transport._pool) is LeanPool  # type: ignore[attr-defined]
    proxied = lean(httpx.AsyncClient(proxy="http://127.0.0.1:9"))
    assert type(proxied._mounts[next(iter(proxied._mounts))]._pool) is not LeanPool  # type: ignore[union-attr]
    given = lean(httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200))))
    assert isinstance(given._transport, httpx.MockTransport)


async def test_many_replies_at_once_are_whole_and_reuse_their_connections() -> None:
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([events_bytes()])]) as (gw, endpoint):
        async with UpstreamClient() as client:
            for _ in range(3):
                for events in await asyncio.gather(*(reply(client, endpoint) for _ in range(20))):
                    assert_whole(events)
    assert gw.connections == 20  # the first round opened them; the others reused them
