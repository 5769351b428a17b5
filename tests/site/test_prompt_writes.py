"""Writes that go out at once (grokweb.serving.prompt_writes) keep Twisted's order, completeness and buffering.

A websocket frame or streamed chunk is sent when written if nothing is waiting before it; what
the kernel does not take goes through Twisted's buffer as before. A real Twisted server on the
asyncio reactor (as daphne runs), a real socket, clients that read slowly or hang up.
"""
from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.site.prompt_writes_server"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait(10)


def ask(port: int, command: str, receive_buffer: int | None = None) -> bytes:
    """Send a command and read the answer to its end, in small reads (a slow reader)."""
    with socket.socket() as sock:
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect(("127.0.0.1", port))
        sock.sendall(command.encode() + b"\n")
        sock.settimeout(60)
        got = bytearray()
        while data := sock.recv(4096):
            got += data
        return bytes(got)


def report(port: int) -> dict[str, int]:
    return json.loads(ask(port, "report"))  # type: ignore[no-any-return]


def records(data: bytes, size: int) -> list[int]:
    assert len(data) % size == 0
    out = []
    for i in range(0, len(data), size):
        rec = data[i:i + size]
        assert rec.endswith(b"\n") and rec[8:9] == b":" and rec[9:-1] == b"x" * (size - 10)
        out.append(int(rec[:8]))
    return out


def test_a_burst_larger_than_the_socket_buffer_arrives_whole_and_in_order(server: int) -> None:
    before = report(server)
    data = ask(server, "burst 3000 700 tight", receive_buffer=4096)  # 2.1 MB through small buffers
    assert records(data, 700) == list(range(3000))
    after = report(server)
    assert after["immediate"] > before["immediate"]  # the first write went out at once,
    assert after["buffered"] > before["buffered"]  # the rest waited in Twisted's buffer, in order


def test_writes_spread_over_loop_turns_to_a_slow_reader_arrive_whole_and_in_order(server: int) -> None:
    data = ask(server, "spread 2000 1500 tight", receive_buffer=4096)
    assert records(data, 1500) == list(range(2000))


def test_small_writes_each_go_out_at_once(server: int) -> None:
    before = report(server)
    assert records(ask(server, "spread 50 100"), 100) == list(range(50))
    assert report(server)["immediate"] - before["immediate"] == 50


def test_a_client_that_hangs_up_midway_ends_the_connection_and_the_server_goes_on(server: int) -> None:
    before = report(server)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, not a close
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server))
        sock.sendall(b"spread 5000 1000 tight\n")
        sock.recv(1000)
    assert records(ask(server, "burst 10 100"), 100) == list(range(10))  # still serving, in order
    after = report(server)
    assert after["lost"] >= before["lost"] + 2  # the reset connection and the burst's were both ended


def test_autobahn_log_arguments_are_plain_text() -> None:
    """Colouring an unused debug line's arguments cost as much per frame as autobahn's framing (grokweb.serving)."""
    from autobahn import util

    from grokweb.serving import plain_autobahn_log_arguments

    plain_autobahn_log_arguments()
    assert util.hl("frame") == "frame" and util.hlval(5) == "5"
