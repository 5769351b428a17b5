"""daphne with a memory probe: SIGUSR1 collects garbage and dumps to $TRACE_SNAPSHOT (SIGUSR2: and __dict__ sizes).

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
from typing import Any


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


POOL = 16384  # pymalloc's pool size (Python 3.10+ on 64-bit): its arenas' pools start at multiples of it


def _pymalloc_pools(start: int, end: int) -> int:
    """How many of a mapping's 16 KiB-aligned slots carry a pymalloc pool header (Objects/obmalloc.c's
    pool_header: after four pointers, arenaindex, szidx, nextoffset, maxnextoffset; maxnextoffset is
    POOL_SIZE - the size class's block size). Reading an untouched page maps the zero page: no RSS."""
    pools = 0
    at = (start + POOL - 1) // POOL * POOL
    while at + 48 <= end:
        raw = ctypes.string_at(at + 36, 12)
        szidx, nextoffset, maxnext = (int.from_bytes(raw[i:i + 4], "little") for i in (0, 4, 8))
        if szidx < 32 and maxnext == POOL - (szidx + 1) * 16 and 48 <= nextoffset <= POOL:
            pools += 1
        at += POOL
    return pools


def _mapping_list() -> list[list[Any]]:
    """Every mapping of /proc/self/smaps as [start, end, kind, rss]. Kinds: glibc's main heap ([heap]), the
    arenas glibc makes for other threads (their read-write part starts at a multiple of 64 MiB), pymalloc's
    arenas (1 MiB each, adjacent ones merged into one mapping by the kernel: told by their pool headers),
    thread stacks (8 MiB), other anonymous memory, files, and the rest."""
    rows: list[list[Any]] = []
    with open("/proc/self/smaps") as smaps:
        text = smaps.read()
    for line in text.splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            name = head[5] if len(head) > 5 else ""
            rows.append([start, end, name, 0, head[1]])
        elif head and head[0] == "Rss:":
            rows[-1][3] = int(head[1]) * 1024
    out = []
    for start, end, name, rss, perms in rows:
        if name == "[heap]":
            kind = "glibc main heap"
        elif name.startswith("/"):
            kind = "file"
        elif name or not perms.startswith("rw"):
            kind = "other"
        elif start % 2**26 == 0:
            kind = "glibc thread arenas"
        elif rss and _pymalloc_pools(start, end):
            kind = "pymalloc arenas"
        elif end - start in (2**23, 2**23 + 4096):
            kind = "thread stacks"
        else:
            kind = "anonymous, other"
        out.append([start, end, kind, rss])
    return out


def _mappings(rows: list[list[Any]]) -> dict[str, int]:
    """RSS by kind of mapping (see _mapping_list)."""
    kinds: dict[str, int] = {}
    for _, _, kind, rss in rows:
        kinds[kind] = kinds.get(kind, 0) + rss
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
    pymalloc = _pymalloc()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None
    heap = {**_malloc(), "rss_anon": _rss("RssAnon"), "rss_file": _rss("RssFile")}
    mapping_list = _mapping_list()
    maps = _mappings(mapping_list)
    if os.environ.get("TRACE_TRIM") == "1":  # what glibc holds free: give it back, then read RSS again
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)
            heap["rss_after_trim"] = _rss()
    path = os.environ["TRACE_SNAPSHOT"]
    objects = gc.get_objects()
    types = Counter(_name(o) for o in objects)
    # After the count (its traces are tuples) and before the __dict__ reads below (each read
    # materializes a dict, which the snapshot would count as the sockets').
    snapshot = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    dicts: dict[str, list[int]] = {}  # per type: instances, their __dict__s' bytes and entries
    for o in objects if signum == signal.SIGUSR2 else ():  # a __dict__ read materializes it: the last probe only
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
    side = {"rss": rss, "malloc": heap, "mappings": maps, "mapping_list": mapping_list, "types": dict(types),
            "dicts": dicts, "pymalloc": pymalloc, "traced": traced}
    with open(path + ".json.tmp", "w") as out:
        json.dump(side, out)
    os.replace(path + ".json.tmp", path + ".json")
    if snapshot is not None:
        snapshot.dump(path + ".tmp")
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
    signal.signal(signal.SIGUSR2, _snapshot)
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()
