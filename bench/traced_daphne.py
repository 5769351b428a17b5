"""daphne with tracemalloc on: SIGUSR1 collects garbage and writes a snapshot to $TRACE_SNAPSHOT (bench/tab_memory.py).

    .venv/bin/python bench/traced_daphne.py -b 127.0.0.1 -p 8000 grokweb.asgi:application
"""
from __future__ import annotations

import gc
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _snapshot(signum: int, frame: FrameType | None) -> None:
    gc.collect()
    path = os.environ["TRACE_SNAPSHOT"]
    tracemalloc.take_snapshot().dump(path + ".tmp")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    tracemalloc.start(int(os.environ.get("TRACE_FRAMES", "12")))
    signal.signal(signal.SIGUSR1, _snapshot)
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()
