"""What one more open, idle, signed-in websocket costs daphne in memory, and what holds it.

    .venv/bin/python bench/socket_memory.py                    # 400 sockets, tracemalloc (15 frames)
    .venv/bin/python bench/socket_memory.py --frames 0         # RSS, object counts and pymalloc only
    RELAY_ROOT=<another checkout> .venv/bin/python bench/socket_memory.py ...   # that tree's daphne

daphne runs under bench/traced_daphne.py. It is warmed (a few tabs of other users open, each gets a
short reply, then closed), garbage collected, and probed (RSS, live objects per type, pymalloc's
arenas, a tracemalloc snapshot); then --sockets sockets of distinct signed-in users open and are
pinged (what an idle tab does), and it is probed again. Per socket: the RSS growth, the traced
growth grouped by line and by traceback, and the objects per type that grew. RSS minus traced is
what Python's allocators hold beyond live objects (arenas, pools, the C heap) plus what C code holds
that tracemalloc cannot see (sockets' kernel buffers are not in RSS). tracemalloc's own bookkeeping
inflates RSS: read RSS per socket from a --frames 0 run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.relay_cost import Tab
from bench.relay_paced import USERS_SCRIPT
from bench.stack import PY, ROOT, manage, running_stack


def probe(pid: int, path: str, last: bool = False) -> tuple[int, dict, tracemalloc.Snapshot | None]:  # type: ignore[type-arg]
    """Have daphne collect garbage and dump; RSS after the collection. Only the `last` probe reads the
    instances' `__dict__`s: on Python 3.11 reading one creates it, memory the next probe's RSS would count."""
    Path(path).unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2 if last else signal.SIGUSR1)
    deadline = time.monotonic() + 120
    while not Path(path).exists() or not Path(path + ".json").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("no dump from daphne")
        time.sleep(0.1)
    time.sleep(0.2)  # the snapshot file is renamed into place whole; give the side file's reader a beat
    side = json.loads(Path(path + ".json").read_text())
    snap = tracemalloc.Snapshot.load(path) if Path(path).stat().st_size else None
    return side["rss"], side, snap


async def run(args: argparse.Namespace, tree: Path, dump: str) -> None:
    env = {"TRACE_SNAPSHOT": dump, "TRACE_FRAMES": str(args.frames), "TRACE_TRIM": "1" if args.trim else "0"}
    with running_stack(env, daphne=[PY, str(ROOT / "bench" / "traced_daphne.py")], root=tree,
                       ready_s=300) as stack:
        pid = stack.daphne_pid
        users = args.users or args.sockets
        keys = json.loads(manage(stack.env, "shell", "-c", USERS_SCRIPT.replace(
            "COUNT", str(args.warm + users - 1))).strip().splitlines()[-1])
        keys = keys[:args.warm] + [keys[args.warm + i % users] for i in range(args.held + args.sockets)]
        warm = [await Tab(stack.web, key).open() for key in keys[:args.warm]]
        for tab in warm:
            await tab.reply("[[tokens=3]]")
        for tab in warm:
            await tab.ws.close()  # type: ignore[union-attr]
        await asyncio.sleep(1)  # their disconnects done
        held = await open_tabs(stack.web, keys[args.warm:args.warm + args.held]) if args.held else []
        rss0, side0, snap0 = probe(pid, dump)
        tabs = await open_tabs(stack.web, keys[args.warm + args.held:])
        rss1, side1, snap1 = probe(pid, dump, last=True)
        n = len(tabs)
        print(f"# bench/socket_memory.py, tree {tree}: {n} idle signed-in sockets ({args.users or n} users), "
              f"tracemalloc {args.frames or 'off'} frames; load {os.getloadavg()[0]:.1f}")
        print(f"RSS per socket: {(rss1 - rss0) / n / 1024:.1f} KiB (warmed process before them: "
              f"{rss0 / 2**20:.1f} MiB, after: {rss1 / 2**20:.1f} MiB)")
        p0, p1 = side0["pymalloc"], side1["pymalloc"]
        for key in ("arena_bytes", "bytes_in_allocated_blocks", "bytes_in_available_blocks", "unused_pool_bytes"):
            if key in p0 and key in p1:
                print(f"pymalloc {key.replace('_', ' ')}: {(p1[key] - p0[key]) / n / 1024:+.1f} KiB per socket")
        m0, m1 = side0.get("malloc") or {}, side1.get("malloc") or {}
        for key in ("rss_after_trim", "rss_anon", "rss_file", "in_use", "free", "heap"):
            if key in m0 and key in m1:
                print(f"{'' if key.startswith('rss') else 'glibc malloc '}{key.replace('_', ' ')}: "
                      f"{(m1[key] - m0[key]) / n / 1024:+.1f} KiB per socket")
        k0, k1 = side0.get("mappings") or {}, side1.get("mappings") or {}
        for kind in sorted(set(k0) | set(k1)):
            print(f"RSS in {kind}: {(k1.get(kind, 0) - k0.get(kind, 0)) / n / 1024:+.1f} KiB per socket")
        if args.mappings:
            for kind in sorted(set(k0) | set(k1)):
                print(f"  {kind}: {k0.get(kind, 0) / 2**20:.2f} -> {k1.get(kind, 0) / 2**20:.2f} MiB")
            for key in sorted(set(p0) & set(p1)):
                print(f"  pymalloc {key}: {p0[key] / 2**20:.2f} -> {p1[key] / 2**20:.2f} MiB")
            print_mappings_grown(side0.get("mapping_list") or [], side1.get("mapping_list") or [], n)
        if not p1:
            print("pymalloc: no figures (under tracemalloc, Python reports none: run --frames 0)")
        if side0["traced"] is not None:
            print(f"traced (tracemalloc) per socket: {(side1['traced'] - side0['traced']) / n / 1024:+.1f} KiB")
        grown = sorted(((c - side0["types"].get(t, 0), t) for t, c in side1["types"].items()), reverse=True)
        print("live objects per socket (gc-tracked, grown):")
        for count, name in grown[:args.top]:
            if count <= 0:
                break
            print(f"  {count / n:6.2f}  {name}")
        print("instance __dict__s of those, per instance (sys.getsizeof, entries):")
        for count, name in grown[:args.top]:
            row = side1["dicts"].get(name)
            if count / n >= 0.9 and row:
                print(f"  {row[1] / row[0]:6.0f} B {row[2] / row[0]:5.0f} entries  {name}")
        if snap0 is not None and snap1 is not None:
            for group in ("lineno", "traceback"):
                stats = snap1.compare_to(snap0, group)
                print(f"\ntraced growth per socket by {group}:")
                for stat in stats[:args.top]:
                    if group == "lineno":
                        where = stat.traceback.format()[-1].strip()
                    else:
                        lines = stat.traceback.format()[-2 * args.depth::2]
                        where = " <- ".join(line.strip() for line in reversed(lines))
                    print(f"  {stat.size_diff / n:+8.0f} B {stat.count_diff / n:+6.1f} blocks  {where[:400]}")
        for tab in held + tabs:
            await tab.ws.close()  # type: ignore[union-attr]


def print_mappings_grown(before: list[list[Any]], after: list[list[Any]], n: int) -> None:
    """The mappings whose RSS grew between the probes (each against the ones it overlaps before), per socket."""
    rows = []
    for start, end, kind, rss in after:
        was = sum(r for s, e, _, r in before if s < end and e > start)
        if rss != was:
            rows.append((rss - was, start, end, kind, was, rss))
    gone = sum(r for s, e, _, r in before if not any(s2 < e and e2 > s for s2, e2, _, _ in after))
    print(f"mappings whose RSS changed (per socket; gone since: {-gone / n / 1024:+.2f} KiB):")
    for grown, start, end, kind, was, rss in sorted(rows, reverse=True)[:12]:
        print(f"  {grown / n / 1024:+7.2f} KiB  {start:x}-{end:x} {(end - start) / 2**20:7.2f} MiB  {kind}"
              f"  (RSS {was / 2**20:.2f} -> {rss / 2**20:.2f} MiB)")


async def open_tabs(web: str, keys: list[str]) -> list[Tab]:
    """Open a tab per key, 25 at a time (a burst of tabs), then ping each (what an idle tab does)."""
    tabs: list[Tab] = []
    for start in range(0, len(keys), 25):
        tabs += await asyncio.gather(*(Tab(web, key).open() for key in keys[start:start + 25]))
    for start in range(0, len(tabs), 25):
        await asyncio.gather(*(ping(tab) for tab in tabs[start:start + 25]))
    return tabs


async def ping(tab: Tab) -> None:
    await tab.ws.send('{"type":"ping"}')  # type: ignore[union-attr]
    await tab.ws.recv()  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=400)
    parser.add_argument("--users", type=int, default=0,
                        help="distinct users among the sockets (default: one each). With SQLite, every thread's "
                             "connection caches the pages it read: more users, more cache, not more per socket")
    parser.add_argument("--trim", action="store_true",
                        help="after each probe's RSS, malloc_trim(0) and RSS again (what glibc held free)")
    parser.add_argument("--held", type=int, default=0,
                        help="sockets opened the same way before the first probe and kept open: the probes then "
                             "measure what more sockets cost, past what the first burst set up once (executor "
                             "threads, their glibc arenas and database connections, caches)")
    parser.add_argument("--mappings", action="store_true", help="list the mappings whose RSS changed")
    parser.add_argument("--warm", type=int, default=5, help="tabs that chat and close before the first probe")
    parser.add_argument("--frames", type=int, default=15, help="tracemalloc traceback depth; 0: tracemalloc off")
    parser.add_argument("--depth", type=int, default=6, help="frames shown per traceback")
    parser.add_argument("--top", type=int, default=30)
    dump = tempfile.mktemp(prefix="grokweb-sockmem-")
    try:
        asyncio.run(run(parser.parse_args(), Path(os.environ.get("RELAY_ROOT") or ROOT).resolve(), dump))
    finally:
        for leftover in (dump, dump + ".json"):
            Path(leftover).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
