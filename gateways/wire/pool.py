"""httpx's connection pool, without the work per request that grows with the square of its connections.

httpcore 1.0's pool re-plans every connection on every request and every response close
(`_assign_requests_to_connections`): it asks each one whether it expired (for an idle one a
`poll` of its socket, through anyio's `extra_attributes`, which builds every attribute of the
socket to return one), and for each idle one counts all connections again in a list it builds to
take its length. With 50 replies starting at once over 50 kept-alive connections to a gateway,
that was 2,500 `is_idle` calls and 50 socket polls per request, 100 times per burst: a trace of
the paced relay put a reply's upstream request 100–200 ms behind its start, in the pool alone
(docs/benchmarks.md, "Round 6").

`LeanPool` makes the same decisions with less work: a request takes the first available
connection to its origin in the pool's order (as httpcore does), and only that one is asked
whether it expired (one that did is closed, and the next is asked); when none is available it
opens one while under the limits. A connection given to a request that has not started on it
yet is not given to another: httpcore would (it stays idle until the request's first write,
a few loop turns later), and the second request then finds it taken
(`ConnectionNotAvailable`) and queues again, in a burst again and again. The rest of
httpcore's pass (dropping closed connections, closing expired and surplus idle ones) runs
whole at most once per `SWEEP_S`, and whenever the pool is full: then httpcore's own pass
decides, as before. The counting list is
`len(self._connections)` in httpcore (a list of booleans, as long as the pool): so it is here.

Installed on the pools of httpx's own transport only (`lean`), pinned with httpcore 1.0.9 like
gateways.wire.body; any other pool (a proxy's, a test's transport) is left as it is.
"""
from __future__ import annotations

import time
from typing import Any

import httpcore
import httpx

SWEEP_S = 1.0  # the whole pass at most this often (closed, expired and surplus idle connections)


class LeanPool(httpcore.AsyncConnectionPool):
    """`httpcore.AsyncConnectionPool` with a request's connection found without re-planning the whole pool."""

    _sweep_due = 0.0
    _given: dict[Any, Any] | None = None  # connection -> the request it was given to, until that request starts

    def _assign_requests_to_connections(self) -> list[Any]:
        now = time.monotonic()
        if now >= self._sweep_due:
            self._sweep_due = now + SWEEP_S
            closing = self._sweep()
        else:
            closing = []
        for pool_request in self._requests:
            if pool_request.is_queued() and not self._assign(pool_request, closing):
                # The pool is full: httpcore's own pass (it may close an idle connection for another origin).
                return closing + super()._assign_requests_to_connections()
        return closing

    def _sweep(self) -> list[Any]:
        """httpcore's cleaning pass, with the length of the pool taken as its length."""
        closing = []
        connections = self._connections
        for connection in list(connections):
            if connection.is_closed():
                connections.remove(connection)
            elif connection.has_expired():
                connections.remove(connection)
                closing.append(connection)
            elif connection.is_idle() and len(connections) > self._max_keepalive_connections:
                connections.remove(connection)
                closing.append(connection)
        if self._given:
            self._given = {c: r for c, r in self._given.items() if self._waits_for(c, r)}
        return closing

    def _waits_for(self, connection: Any, pool_request: Any) -> bool:
        """Whether `pool_request` still holds `connection` without having started on it.

        Until it ends, a request stays in the pool's list (httpcore removes it when its response
        closes or it fails); a connection that is idle while it does has not been written to yet.
        """
        return pool_request.connection is connection and connection.is_idle() and pool_request in self._requests

    def _assign(self, pool_request: Any, closing: list[Any]) -> bool:
        """Give the request the first available connection to its origin that has not expired, or a new one."""
        origin = pool_request.request.url.origin
        connections = self._connections
        if self._given is None:
            self._given = {}
        given = self._given
        i = 0
        while i < len(connections):
            connection = connections[i]
            if connection.can_handle_request(origin) and connection.is_available():
                holder = given.get(connection)
                if holder is not None:
                    if self._waits_for(connection, holder):
                        i += 1
                        continue
                    del given[connection]
                if connection.has_expired():  # what the whole pass would have closed first
                    del connections[i]
                    closing.append(connection)
                    continue
                pool_request.assign_to_connection(connection)
                given[connection] = pool_request
                return True
            i += 1
        if len(connections) >= self._max_connections:
            return False
        connection = self.create_connection(origin)
        connections.append(connection)
        pool_request.assign_to_connection(connection)
        return True


def lean(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Put `LeanPool` under the client's own transport (not a proxy's, not one a caller gave): same state, less work."""
    transport = getattr(client, "_transport", None)
    if isinstance(transport, httpx.AsyncHTTPTransport):
        pool = getattr(transport, "_pool", None)
        if type(pool) is httpcore.AsyncConnectionPool:  # exactly: proxies subclass it
            pool.__class__ = LeanPool
    return client
