"""httpx's connection pool, with a cheaper check of its idle connections.

Each time a request starts or a response closes, httpcore's pool asks every idle connection
whether the gateway closed it meanwhile (`get_extra_info("is_readable")`). anyio answers by
building a dict of the socket's attributes, with a `getpeername` system call and an import,
before httpcore polls the socket: with 50 replies streaming at once that is 50 checks per
reply start and end, about a tenth of the relay's CPU. Here each connection's stream keeps
its socket from the start and answers with the poll alone: the same answer, the same moment.

Installed into the pools an httpx.AsyncClient built itself (its default transport and the
proxies it took from the environment), through httpcore's `network_backend` of those pools.
A pool that is not httpcore's (a transport given to the client, a future httpx) is left as is.
"""
# ruff: noqa: ASYNC109  # httpcore's network stream interface takes `timeout` arguments
from __future__ import annotations

import select
import ssl
import typing
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]  # httpcore's


def cheaper_idle_checks(client: httpx.AsyncClient) -> int:
    """Wrap the network backend of the client's httpcore pools; returns how many were wrapped."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    wrapped = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(pool, httpcore.AsyncConnectionPool) and isinstance(backend, httpcore.AsyncNetworkBackend) \
                and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)
            wrapped += 1
    return wrapped


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[SocketOption] | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[SocketOption] | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    __slots__ = ("_inner", "_socket")

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return readable(self._socket)
        return self._inner.get_extra_info(info)


def readable(sock: typing.Any) -> bool:
    """Whether a read would return at once (data, or the b"" of a closed connection), as httpcore asks it."""
    fd = sock.fileno()
    if fd < 0:
        return True  # closed here: the next read ends at once
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
