"""The emulator (or any ASGI app) on a real loopback port, for tests that must see a genuine stream.

httpx.ASGITransport buffers whole responses, so stream tests talk TCP.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from emulator.app import Emulator, make_emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_emulator(flavour: str = "xai", delay_scale: float = 0.0, app: Emulator | None = None) -> Iterator[str]:
    """Serve an emulator (or `app`) in a background thread; yield its base URL (ending in /v1)."""
    with serving(app or make_emulator(flavour, delay_scale), f"emulator-{flavour}") as url:
        yield f"{url}/v1"


@contextmanager
def serving(app: Any, name: str) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread; yield http://127.0.0.1:<port>."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
