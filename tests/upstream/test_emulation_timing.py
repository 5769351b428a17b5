"""The emulator's timing markers: a benchmark asks for a fixed profile whatever the model and the delay scale."""
from __future__ import annotations

from emulator import emulation
from gateways import catalog


def _plan(text: str, delay_scale: float) -> emulation.Reply:
    entry = catalog.lookup("grok-4-1-fast-non-reasoning")
    assert entry is not None
    return emulation.plan_reply({"messages": [{"role": "user", "content": text}]}, entry, delay_scale)


def test_timing_markers_set_the_first_token_and_the_rate() -> None:
    reply = _plan("bench [[tokens=256]] [[ttft_ms=300]] [[tps=200]]", 0.0)
    assert (reply.think_s, reply.token_interval_s, len(reply.tokens)) == (0.3, 0.005, 256)


def test_without_markers_the_catalogs_timing_is_scaled() -> None:
    reply = _plan("bench [[tokens=10]]", 0.5)
    assert (reply.think_s, reply.token_interval_s) == (0.2, 0.5 / 250)
    assert _plan("x [[tps=0]]", 0.0).token_interval_s == 0.0  # not a marker: the rate must be positive
