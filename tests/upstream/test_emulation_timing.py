"""The emulator's timing markers: a benchmark asks for a fixed profile whatever the model and the delay scale."""
from __future__ import annotations

import json

import httpx

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


def test_an_answer_cut_by_max_tokens_finishes_with_length_as_gateways_say() -> None:
    entry = catalog.lookup("grok-4-1-fast-non-reasoning")
    assert entry is not None
    body = {"messages": [{"role": "user", "content": "long [[tokens=50]]"}], "max_tokens": 20}
    cut = emulation.plan_reply(body, entry, 0.0)
    assert (len(cut.tokens), cut.finish) == (20, "length")
    whole = emulation.plan_reply({**body, "max_tokens": 50}, entry, 0.0)
    assert (len(whole.tokens), whole.finish) == (50, "stop")


def test_the_prompt_estimate_for_budgets_never_falls_below_the_emulators_count() -> None:
    from gateways.wire.usage import prompt_tokens_for

    for messages in ([{"role": "user", "content": "x"}],
                     [{"role": "system", "content": "Be brief." * 7}, {"role": "user", "content": "a" * 401},
                      {"role": "assistant", "content": "b" * 13}, {"role": "user", "content": "c"}]):
        assert prompt_tokens_for(messages) >= emulation.prompt_tokens(messages)[0]


def test_numbered_marker_gives_checkable_tokens() -> None:
    reply = _plan("bench [[numbered]] [[tokens=4]]", 0.0)
    assert reply.tokens == [" w1", " w2", " w3", " w4"]
    assert _plan("bench [[tokens=4]]", 0.0).tokens != reply.tokens  # only when asked


def test_a_paced_stream_sends_one_token_per_event_in_order(emulator_url: str) -> None:
    """What the paced benchmark relies on: every token is its own SSE event, as real gateways send them."""
    body = {"model": "grok-4-1-fast-non-reasoning", "stream": True,
            "messages": [{"role": "user", "content": "x [[numbered]] [[tokens=12]] [[ttft_ms=0]] [[tps=2000]]"}]}
    contents = []
    with httpx.stream("POST", f"{emulator_url}/chat/completions", json=body,
                      headers={"Authorization": "Bearer emulator"}, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                delta = (json.loads(line[6:])["choices"] or [{}])[0].get("delta", {})
                if delta.get("content"):
                    contents.append(delta["content"])
    assert contents == emulation.numbered_tokens(12)


def test_a_token_event_is_written_byte_for_byte_as_the_generic_chunk_would_be() -> None:
    """The emulator's cheap per-token event (the envelope encoded once a second) is the same bytes a
    gateway's chunk gets from the generic encoder, in every flavour, for any token text."""
    from emulator.app import _Framer

    for flavour in emulation.FLAVOURS:
        frame = _Framer(flavour, "grok-4-1-fast-non-reasoning")
        frame.chunk({"content": "first", "role": "assistant"})
        for field in ("content", "reasoning_content"):
            for token in (" w1", "", 'é\n"\\ \U0001f600\u0000\u2028', "a" * 300):
                generic = json.dumps(frame.chunk({field: token}), separators=(",", ":"), ensure_ascii=False)
                want = b"data: " + generic.encode() + b"\n\n"
                fast = frame.piece(field, token)
                if fast != want:  # the clock's second may turn between the two (`created`): once more
                    want = b"data: " + json.dumps(frame.chunk({field: token}), separators=(",", ":"),
                                                  ensure_ascii=False).encode() + b"\n\n"
                    fast = frame.piece(field, token)
                assert fast == want
