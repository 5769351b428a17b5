"""The Team API as a script sees it: the official openai SDK against a real server, the emulator upstream."""
from __future__ import annotations

import pytest

from accounts.models import Reservation
from usage.models import UsageRecord
from usage.money import format_usd

pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "grok-4-1-fast-non-reasoning"


def test_a_streamed_completion_arrives_in_chunks_with_usage_and_cost(user, emulator_provider, make_token, sdk,
                                                                     ledger_written) -> None:
    client = sdk(make_token(user))
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello [[tokens=25]]"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert text and finishes == ["stop"] and chunks[-1].choices == []
    assert usage.completion_tokens == 25 and usage.total_tokens == usage.prompt_tokens + 25
    row = ledger_written()
    assert (row.source, row.outcome, row.completion_tokens, row.estimated) == ("api", "complete", 25, False)
    assert usage.model_extra["cost_usd"] == format_usd(row.cost_ticks) and row.cost_ticks > 0
    assert not Reservation.objects.exists()


def test_a_whole_completion(user, emulator_provider, make_token, sdk, ledger_written) -> None:
    answer = sdk(make_token(user)).chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "Hi [[tokens=7]]"}])
    assert answer.object == "chat.completion" and answer.model == MODEL
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    assert answer.usage.completion_tokens == 7
    row = ledger_written()
    assert row.token_id is not None and UsageRecord.objects.get().pk == row.pk
