"""What one more open tab costs daphne in memory, and what holds it (tracemalloc).

    .venv/bin/python bench/tab_memory.py              # 3 batches of 50 tabs with a chat, then 50 idle sockets
    .venv/bin/python bench/tab_memory.py --tabs 100 --top 20
    .venv/bin/python bench/tab_memory.py --no-trace     # RSS alone (tracemalloc's own bookkeeping inflates it)

bench/relay_paced.py's "RSS per socket" at a level is daphne's RSS growth over opening that
level's tabs on a fresh process: it includes what the process grows once (the database thread
pool's threads and their connections, allocator arenas, caches filled on first use) spread over
the tabs. Here daphne runs with tracemalloc (bench/traced_daphne.py) and is warmed first; then
batches of `--tabs` tabs of distinct users each start a conversation (a short reply, so the tab
follows its chat's group) and stay open, and after each batch (garbage collected, replies and
titles done) the RSS, the thread count and a tracemalloc snapshot are taken. The last batch's
growth divided by its tabs is the marginal cost of a tab; the snapshots' difference says which
lines allocated it. Then `--tabs` signed-in sockets with no chat, the same way.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.relay_cost import Tab, signed_in_users
from bench.stack import PY, ROOT, cpu_seconds, rss_bytes, running_stack


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def snapshot(pid: int, path: str) -> tracemalloc.Snapshot | None:
    if not path:
        return None
    Path(path).unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("no snapshot from daphne")
        time.sleep(0.1)
    return tracemalloc.Snapshot.load(path)


async def quiet(pid: int) -> None:
    """Wait until daphne is idle (titles and checkpoints of the last replies done)."""
    for _ in range(60):
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - cpu0 < 0.01:
            return


def report(label: str, before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int, top: int,
           group: str) -> None:
    stats = after.compare_to(before, group)
    traced = sum(s.size_diff for s in stats)
    print(f"\n{label}: traced Python memory {traced / count / 1024:+.1f} KiB per tab; largest growth by {group}:")
    for stat in stats[:top]:
        where = stat.traceback.format()[-1].strip() if group == "lineno" else " <- ".join(
            line.strip() for line in reversed(stat.traceback.format()[-6::2]))
        print(f"  {stat.size_diff / count:+8.0f} B/tab {stat.count_diff / count:+6.1f} blocks/tab  {where[:220]}")


async def run(args: argparse.Namespace) -> None:
    snap_path = "" if args.no_trace else tempfile.mktemp(prefix="grokweb-trace-")
    env = {"TRACE_SNAPSHOT": snap_path, "TRACE_FRAMES": str(args.frames)}
    command = None if args.no_trace else [PY, str(ROOT / "bench" / "traced_daphne.py")]
    with running_stack(env, daphne=command) as stack:
        pid = stack.daphne_pid
        users = signed_in_users(stack.env, args.warm + args.tabs * args.batches + 1)
        open_tabs: list[Tab] = []

        async def batch(cookies: list[str], chat: bool) -> None:
            tabs = [await Tab(stack.web, cookie).open() for cookie in cookies]
            open_tabs.extend(tabs)
            if chat:
                for start in range(0, len(tabs), 25):
                    await asyncio.gather(*(tab.reply("[[tokens=3]]") for tab in tabs[start:start + 25]))
            else:
                for tab in tabs:
                    await tab.ws.send('{"type":"ping"}')  # type: ignore[union-attr]
                    await tab.ws.recv()  # type: ignore[union-attr]
            await quiet(pid)

        await batch(users[:args.warm], True)
        rows = [("warm", rss_bytes(pid), threads(pid), snapshot(pid, snap_path))]
        at = args.warm
        for n in range(args.batches):
            await batch(users[at:at + args.tabs], True)
            at += args.tabs
            rows.append((f"chat tabs, batch {n + 1}", rss_bytes(pid), threads(pid), snapshot(pid, snap_path)))
        await batch([users[at]] * args.tabs, False)
        rows.append(("idle signed-in sockets", rss_bytes(pid), threads(pid), snapshot(pid, snap_path)))
        print(f"load average {os.getloadavg()[0]:.1f}; {args.tabs} tabs per batch; " + (
            "no tracemalloc" if args.no_trace else f"tracemalloc {args.frames} frames (RSS includes its bookkeeping)"))
        print("| after | RSS | threads | RSS growth per tab | traced growth per tab |\n|---|---:|---:|---:|---:|")
        for i, (label, rss, count, snap) in enumerate(rows):
            if i == 0:
                print(f"| {label} | {rss / 2**20:.1f} MiB | {count} | — | — |")
                continue
            before = rows[i - 1][3]
            traced = "—" if snap is None or before is None else \
                f"{sum(s.size_diff for s in snap.compare_to(before, 'filename')) / args.tabs / 1024:.1f} KiB"
            print(f"| {label} | {rss / 2**20:.1f} MiB | {count} | {(rss - rows[i - 1][1]) / args.tabs / 1024:.1f} KiB "
                  f"| {traced} |")
        snaps = [row[3] for row in rows]
        if snaps[-3] is not None and snaps[-2] is not None and snaps[-1] is not None:
            report("the last batch of chat tabs", snaps[-3], snaps[-2], args.tabs, args.top, "lineno")
            report("the last batch of chat tabs", snaps[-3], snaps[-2], args.tabs, args.top, "traceback")
            report("idle signed-in sockets", snaps[-2], snaps[-1], args.tabs, args.top, "lineno")
        for tab in open_tabs:
            await tab.close()
    if snap_path:
        os.unlink(snap_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tabs", type=int, default=50, help="tabs per batch")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--warm", type=int, default=10, help="tabs with a chat opened before the first snapshot")
    parser.add_argument("--frames", type=int, default=12, help="traceback depth kept by tracemalloc")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-trace", action="store_true", help="plain daphne: RSS only")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
