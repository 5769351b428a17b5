"""The Team API's streaming under the server it runs on in production (daphne), not only uvicorn.

A script that stops reading and closes mid-stream: daphne tells the app (`http.disconnect`), the call
stops its upstream request and is billed what it used (an estimate, flagged), and its slot is freed.
The ledger row is written by the daphne process, so this test looks for it in the shared database.
"""
from __future__ import annotations

import time

import openai
import pytest

from accounts import tokens
from accounts.models import Reservation
from tests.site.daphne import running_daphne
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "grok-4-1-fast-non-reasoning"


def _row(deadline_s: float = 30) -> UsageRecord:
    """The Team API's ledger row, once the daphne process has committed it (another process: polled)."""
    deadline = time.monotonic() + deadline_s
    while True:
        row = UsageRecord.objects.filter(source="api").first()
        if row is not None:
            return row
        assert time.monotonic() < deadline, "no ledger row was written"
        time.sleep(0.1)


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_script_gone_mid_stream_stops_the_call_and_is_billed_what_it_got(include_usage, user,
                                                                           emulator_provider) -> None:
    token = tokens.create(user, "script")[1]
    with running_daphne() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=60)
        extra = {"stream_options": {"include_usage": True}} if include_usage else {}
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Write at length [[tokens=100000]] [[usage=every]]"}],
            stream=True, **extra)
        got = "".join(c.choices[0].delta.content or "" for _, c in zip(range(20), stream, strict=False) if c.choices)
        assert got
        stream.close()
        row = _row()
        assert (row.outcome, row.estimated) == ("cancelled", True)
        assert 0 < row.completion_tokens < 100000
        deadline = time.monotonic() + 30
        while Reservation.objects.exists():  # freed by the ending, in the same thread hop as the row
            assert time.monotonic() < deadline
            time.sleep(0.1)
