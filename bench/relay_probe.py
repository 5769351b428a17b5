"""One tree's relay CPU per 1k paced tokens with the fixed cost taken off in the same run, A/B-able.

    TREE=<checkout> .venv/bin/python bench/relay_probe.py --replies 15          # that checkout's daphne
    .venv/bin/python bench/relay_probe.py --cmd 'py-spy record -r 1000 --nonblocking -f raw -o out.txt -p {pid}'

The quick measure of issue 12's round 5: one daphne of the tree (pinned to CPU 0), `--streams`
tabs (bench.relay_cost's), a warm-up reply, then `--fixed` one-token replies (the fixed cost per
reply) and `--replies` paced replies (256 tokens at 200 tok/s after 300 ms). CPU is the sum of
daphne's threads' /proc/…/task/*/schedstat (ns, not 10 ms ticks) minus its idle rate; "beyond
fixed" takes the replies' fixed cost off, which leaves the per-token and per-frame part. `--cmd`
runs a tool on daphne's pid over the paced replies (`{pid}` is replaced; it is sent SIGINT at the
end). `DAPHNE_CMD`: a command in place of the venv's `daphne` (a profiling wrapper, say). Every
reply is checked as relay_cost.py checks it.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TREE = Path(os.environ.get("TREE", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(TREE))
os.chdir(TREE)
from bench.relay_cost import PACED, Tab, signed_in_users  # the tree's own
from bench.stack import running_stack


def ticks(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / hz, int(fields[12]) / hz


def cpu(pid: int) -> float:
    return sum(int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
               for tid in os.listdir(f"/proc/{pid}/task")) / 1e9


async def main(args: Any) -> None:
    daphne = os.environ.get("DAPHNE_CMD")
    with running_stack(daphne=daphne.split() if daphne else None) as stack:
        pid = stack.daphne_pid
        subprocess.run(["taskset", "-pc", "0", str(pid)], check=True, capture_output=True)  # noqa: ASYNC221
        tabs = [await Tab(stack.web, cookie).open() for cookie in signed_in_users(stack.env, args.streams)]
        await asyncio.gather(*(tab.reply("[[tokens=3]]") for tab in tabs))  # a titled chat each
        paced = PACED.format(tps=args.tps, tokens=args.tokens)
        await asyncio.gather(*(tab.reply(paced) for tab in tabs))  # warm
        await asyncio.sleep(1.0)
        start = cpu(pid)
        await asyncio.sleep(1.0)
        idle = cpu(pid) - start

        async def rounds(markers: str, count: int) -> tuple[int, list[str]]:
            tokens, problems = 0, []
            for _ in range(count):
                for got, seen in await asyncio.gather(*(tab.reply(markers) for tab in tabs)):
                    tokens += got
                    problems += seen
            return tokens, problems

        start, wall = cpu(pid), time.monotonic()
        await rounds("[[tokens=1]]", args.fixed)
        fixed = (cpu(pid) - start - idle * (time.monotonic() - wall)) / (args.fixed * args.streams)
        tool = None
        if args.cmd:
            tool = subprocess.Popen(shlex.split(args.cmd.format(pid=pid)), stdout=subprocess.DEVNULL,  # noqa: ASYNC220
                                    stderr=subprocess.DEVNULL)
            await asyncio.sleep(1.5)
        (user0, sys0), start, wall = ticks(pid), cpu(pid), time.monotonic()
        tokens, problems = await rounds(paced, args.replies)
        wall = time.monotonic() - wall
        (user1, sys1), end = ticks(pid), cpu(pid)
        if tool is not None:
            tool.send_signal(signal.SIGINT)
            tool.wait(30)
        used = end - start - idle * wall
        replies = args.replies * args.streams
        print(f"tree {TREE}, {args.streams} streams, {tokens} tokens, {len(problems)} problems {problems[:3]}")
        print(f"fixed {fixed * 1000:.2f} ms per reply; per 1k tokens: all {used / tokens * 1e6:.1f} ms, beyond fixed "
              f"{(used - fixed * replies) / tokens * 1e6:.1f} ms (user {(user1 - user0) / tokens * 1e6:.0f} / "
              f"sys {(sys1 - sys0) / tokens * 1e6:.0f} ms in ticks); load {os.getloadavg()[0]:.1f}")
        for tab in tabs:
            await tab.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--replies", type=int, default=10, help="paced replies per tab")
    parser.add_argument("--fixed", type=int, default=10, help="one-token replies per tab")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--tps", type=int, default=200)
    parser.add_argument("--cmd", default="", help="a tool to run on daphne's pid over the paced replies")
    asyncio.run(main(parser.parse_args()))
