"""daphne with a memory probe: SIGUSR1 collects garbage and writes what the process holds to $TRACE_SNAPSHOT.

    .venv/bin/python bench/traced_daphne.py -b 127.0.0.1 -p 8000 grokweb.asgi:application

With TRACE_FRAMES > 0 (default 12) tracemalloc runs and the dump is its snapshot (bench/tab_memory.py,
bench/socket_memory.py); with TRACE_FRAMES=0 it does not (no bookkeeping in the RSS) and the dump is
only the JSON side file. The side file ($TRACE_SNAPSHOT.json) has the count of live objects per type
(gc.get_objects(), containers only), its RSS right after the collection and
pymalloc's arena figures (sys._debugmallocstats, none under tracemalloc), so RSS can be
set against what Python itself holds. It runs the cwd's daphne and app, as daphne does (a RELAY_ROOT tree).
"""
from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import signal
import sys
import tempfile
import tracemalloc
from collections import Counter
from types import FrameType


def _pymalloc() -> dict[str, int]:
    """pymalloc's totals from sys._debugmallocstats (it writes to the C stderr: read it back from a file)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    figures = {}
    for key, pattern in (("arenas_allocated_now", r"# arenas allocated current\s*=\s*([\d,]+)"),
                         ("arena_bytes", r"([\d,]+) arenas \* \d+ bytes/arena\s*=\s*([\d,]+)"),
                         ("bytes_in_allocated_blocks", r"# bytes in allocated blocks\s*=\s*([\d,]+)"),
                         ("bytes_in_available_blocks", r"# bytes in available blocks\s*=\s*([\d,]+)"),
                         ("unused_pool_bytes", r"unused pools \* \d+ bytes\s*=\s*([\d,]+)")):
        found = re.search(pattern, text)
        if found:
            figures[key] = int(found.groups()[-1].replace(",", ""))
    return figures


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _name(o: object) -> str:
    kind = type(o)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _snapshot(signum: int, frame: FrameType | None) -> None:
    gc.collect()
    rss = _rss()  # before this probe allocates anything (and before __dict__ below materializes lazy ones)
    path = os.environ["TRACE_SNAPSHOT"]
    objects = gc.get_objects()
    types = Counter(_name(o) for o in objects)
    dicts: dict[str, list[int]] = {}  # per type: instances, their __dict__s' bytes and entries
    for o in objects:
        try:
            attrs = None if isinstance(o, type) else object.__getattribute__(o, "__dict__")
        except Exception:  # no __dict__, or a proxy that objects
            continue
        if type(attrs) is dict:
            row = dicts.setdefault(_name(o), [0, 0, 0])
            row[0] += 1
            row[1] += sys.getsizeof(attrs)
            row[2] += len(attrs)
    del objects
    side = {"rss": rss, "types": dict(types), "dicts": dicts, "pymalloc": _pymalloc(),
            "traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None}
    with open(path + ".json.tmp", "w") as out:
        json.dump(side, out)
    os.replace(path + ".json.tmp", path + ".json")
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.replace(path + ".tmp", path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        with open(path, "wb"):
            pass  # the signal that it is done


if __name__ == "__main__":
    frames = int(os.environ.get("TRACE_FRAMES", "12"))
    if frames > 0:
        tracemalloc.start(frames)
    signal.signal(signal.SIGUSR1, _snapshot)
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()
