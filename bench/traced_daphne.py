"""daphne with a memory probe: SIGUSR1 collects garbage and writes what the process holds to $TRACE_SNAPSHOT.

    .venv/bin/python bench/traced_daphne.py -b 127.0.0.1 -p 8000 grokweb.asgi:application

With TRACE_FRAMES > 0 (default 12) tracemalloc runs and the dump is its snapshot (bench/tab_memory.py,
bench/socket_memory.py); with TRACE_FRAMES=0 it does not (no bookkeeping in the RSS) and the dump is
only the JSON side file. The side file ($TRACE_SNAPSHOT.json) has the count of live objects per type
(gc.get_objects(), containers only), its RSS right after the collection, glibc's heap figures
(mallinfo2) and pymalloc's arena figures (sys._debugmallocstats, none under tracemalloc), so RSS can be
set against what Python itself holds. It runs the cwd's daphne and app, as daphne does (a RELAY_ROOT tree).
"""
from __future__ import annotations

import contextlib
import ctypes
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


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _malloc() -> dict[str, int]:
    """glibc's heap over all its arenas: bytes in use (heap and mmapped chunks) and free but held."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):  # not glibc
        return {}
    return {"in_use": info.uordblks + info.hblkhd, "free": info.fordblks, "heap": info.arena}


def _mappings() -> dict[str, int]:
    """RSS by kind of mapping (/proc/self/smaps): the main heap, 1 MiB anonymous ones (pymalloc's arenas),
    64 MiB ones (glibc's arenas of other threads), 8 MiB ones (thread stacks), other anonymous, files."""
    kinds: dict[str, int] = {}
    kind = "other"
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                size, name = end - start, (head[5] if len(head) > 5 else "")
                kind = ("heap" if name == "[heap]" else "file" if name.startswith("/") else "other" if name
                        else "pymalloc arenas" if size == 2**20 else "thread malloc arenas" if size <= 2**26
                        and size % 2**20 == 0 and size >= 2**25 else "thread stacks" if size in (2**23, 2**23 + 4096)
                        else "anonymous, other")
            elif head[0] == "Rss:":
                kinds[kind] = kinds.get(kind, 0) + int(head[1]) * 1024
    return kinds


def _rss(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _name(o: object) -> str:
    kind = type(o)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _snapshot(signum: int, frame: FrameType | None) -> None:
    gc.collect()
    rss = _rss()  # before this probe allocates anything (and before __dict__ below materializes lazy ones)
    heap = {**_malloc(), "rss_anon": _rss("RssAnon"), "rss_file": _rss("RssFile")}
    maps = _mappings()
    if os.environ.get("TRACE_TRIM") == "1":  # what glibc holds free: give it back, then read RSS again
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)
            heap["rss_after_trim"] = _rss()
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
    side = {"rss": rss, "malloc": heap, "mappings": maps, "types": dict(types), "dicts": dicts, "pymalloc": _pymalloc(),
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
