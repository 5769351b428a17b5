"""Where a gateway puts usage in a stream varies (UPSTREAM.md): a last `choices: []` chunk, the finishing chunk,
a running total on every chunk, or nowhere. The emulator does each (`[[usage=...]]`); a Team API caller gets the
same answer and the ledger the same bill from all but the last, which is an estimate, flagged, never zero."""
from __future__ import annotations

import pytest

from accounts.models import Reservation

pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "grok-4-1-fast-non-reasoning"


@pytest.mark.parametrize("where", ["last", "finish", "every"])
@pytest.mark.parametrize("include_usage", [True, False], ids=["include_usage", "no-usage-asked"])
def test_usage_wherever_the_gateway_puts_it_is_billed_exactly(where, include_usage, user, emulator_provider,
                                                              make_token, sdk, ledger_written) -> None:
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = list(sdk(make_token(user)).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Hi [[tokens=30]] [[usage={where}]]"}], stream=True,
        **extra))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"]
    usages = [c.usage for c in chunks if c.usage is not None]
    if include_usage:  # exactly one usage chunk, the last, with no choices (OpenAI's shape), whatever upstream did
        assert len(usages) == 1 and chunks[-1].usage is not None and chunks[-1].choices == []
        assert usages[0].completion_tokens == 30 and usages[0].model_extra["estimated"] is False
    else:
        assert usages == []  # a running total upstream is not passed on to a caller that did not ask
    row = ledger_written()
    # Asked upstream always (stream_options.include_usage), so the gateway's own figures are billed.
    assert (row.outcome, row.completion_tokens, row.estimated) == ("complete", 30, False)
    assert not Reservation.objects.exists()


def test_a_gateway_that_never_sends_usage_is_billed_an_estimate(user, emulator_provider, make_token, sdk,
                                                                ledger_written) -> None:
    chunks = list(sdk(make_token(user)).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi [[tokens=30]] [[usage=none]]"}], stream=True,
        stream_options={"include_usage": True}))
    usage = chunks[-1].usage
    assert usage is not None and usage.model_extra["estimated"] is True and usage.completion_tokens > 0
    row = ledger_written()
    assert (row.outcome, row.estimated) == ("complete", True) and row.completion_tokens > 0


def test_a_client_gone_mid_stream_of_running_totals_stops_the_call_and_is_billed(user, emulator_provider,
                                                                                 make_token, sdk,
                                                                                 ledger_written) -> None:
    stream = sdk(make_token(user)).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Write at length [[tokens=100000]] [[usage=every]]"}],
        stream=True)
    for _, _chunk in zip(range(5), stream, strict=False):
        pass
    stream.close()
    row = ledger_written()
    assert row.outcome == "cancelled" and 0 < row.completion_tokens < 100000
    assert not Reservation.objects.exists()


def test_with_include_usage_every_chunk_carries_usage_null_until_the_last(user, emulator_provider, make_token,
                                                                          api_url) -> None:
    """OpenAI's shape: 'All other chunks will also include a usage field, but with a null value.'"""
    import json

    import httpx

    body = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Hi [[tokens=8]]"}]}
    with httpx.stream("POST", f"{api_url}/chat/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {make_token(user)}"}) as answer:
        events = [line[6:] for line in answer.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 8
    body.pop("stream_options")
    with httpx.stream("POST", f"{api_url}/chat/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {make_token(user)}"}) as answer:
        events = [line[6:] for line in answer.iter_lines() if line.startswith("data: ")]
    assert all("usage" not in json.loads(e) for e in events[:-1])  # not asked: no usage field at all
