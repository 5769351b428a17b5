"""What machine a benchmark ran on, and how fast it runs Python: printed in every report's header.

The relay's figures are CPU time and latency on one core, so they move with the machine: the same
tree gave 82–103 ms per 1k relayed tokens on one development machine and 138–143 ms on the next
(2026-11-30). A figure is comparable with another only next to this reference, or when both trees
ran on the same machine in the same hour (alternated). The reference is a fixed piece of the
relay's kind of work (an SSE chunk split, parsed and re-encoded as a frame) timed on one core,
best of several rounds so a neighbour's burst does not count.

    .venv/bin/python bench/machine.py     # prints the line the reports print
"""
from __future__ import annotations

import os
import platform
import time

import orjson

CHUNK = (b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764460800,'
         b'"model":"grok-4-1-fast-non-reasoning","choices":[{"index":0,"delta":{"content":" word"},'
         b'"finish_reason":null}]}\n\n')
READ = CHUNK * 6  # one paced read at 200 tok/s brings about six events (one frame interval)


def _one_read(buffer: bytes) -> int:
    """Split a read into events, take each one's text, build the frame a tab would get."""
    parts = []
    for event in buffer.split(b"\n\n"):
        if not event:
            continue
        choice = orjson.loads(event[6:])["choices"][0]
        parts.append(choice["delta"]["content"])
    frame = {"type": "message.delta", "message": "m", "seq": 1, "content": "".join(parts)}
    return len(orjson.dumps(frame))


def reference_us(rounds: int = 5, reads: int = 4000) -> float:
    """Microseconds per read of the work above: best of `rounds` (lower is a faster machine)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reads):
            _one_read(READ)
        best = min(best, time.perf_counter() - start)
    return best / reads * 1e6


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> str:
    """One line for a report's header: the CPU, its cores, and the Python reference."""
    return (f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"reference {reference_us():.1f} µs per read (bench/machine.py; lower is faster)")


if __name__ == "__main__":
    print(describe())
