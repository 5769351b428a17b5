"""Serve grokweb with one daphne process per core, all accepting on one listening socket.

    python scripts/web.py                      # WEB_PROCESSES (default: the CPUs this container may use)
    WEB_PROCESSES=4 python scripts/web.py --host 127.0.0.1 --port 8000
    python scripts/web.py --ping-interval 20   # anything else is passed to each daphne

One Python process uses one core; a relay is CPU-bound, so the team deployment runs one
per core. This opens the port once and starts WEB_PROCESSES `daphne --fd` processes that
inherit it (daphne's documented way to bind to a socket a process manager made): the
kernel hands each new connection to one of them. They share PostgreSQL and Redis (the
channel layer carries frames between them, chat.fanout), so a tab may land on any of
them. If one exits, the others are stopped and this exits with its code, so the
container's restart policy starts them all again.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

APP = "grokweb.asgi:application"
# A burst of sockets (a deploy's reconnecting tabs, a whole team at 9:00) queues in the kernel
# and then in daphne's handshake: the listen backlog must hold them (the kernel caps it at
# net.core.somaxconn) and daphne's 5 s handshake timeout would drop the end of the queue.
BACKLOG = 4096
CONNECT_TIMEOUT_S = 30


def processes() -> int:
    configured = os.environ.get("WEB_PROCESSES", "").strip()
    if configured:
        return max(1, int(configured))
    return max(1, len(os.sched_getaffinity(0)))


def listen(host: str, port: int) -> socket.socket:
    sock = socket.create_server((host, port), backlog=BACKLOG, reuse_port=False)
    sock.set_inheritable(True)
    return sock


def daphne_options(given: list[str]) -> list[str]:
    """The options each daphne gets: ours (WS_CONNECT_TIMEOUT_S), unless given on the command line."""
    options = list(given)
    if not any(arg.startswith("--websocket_connect_timeout") for arg in given):
        timeout = os.environ.get("WS_CONNECT_TIMEOUT_S", "").strip() or str(CONNECT_TIMEOUT_S)
        options += ["--websocket_connect_timeout", timeout]
    return options


def main() -> int:
    parser = argparse.ArgumentParser(description="One daphne process per core on one port.")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    args, daphne_args = parser.parse_known_args()  # anything else goes to each daphne as given
    host, port, count = args.host, args.port, processes()
    sock = listen(host, port)
    daphne = [sys.executable, "-m", "daphne", "--fd", str(sock.fileno()), *daphne_options(daphne_args), APP]
    children = [subprocess.Popen(daphne, pass_fds=(sock.fileno(),)) for _ in range(count)]
    print(f"web: {count} daphne process(es) on {host}:{port}", flush=True)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while any(child.poll() is None for child in children):
        for child in children:
            if child.poll() is not None and not stopping:
                code = child.returncode or 1
                print(f"web: daphne {child.pid} exited ({child.returncode}); stopping the others", flush=True)
                stop(signal.SIGTERM, None)
        time.sleep(0.5)
    return code


if __name__ == "__main__":
    sys.exit(main())
