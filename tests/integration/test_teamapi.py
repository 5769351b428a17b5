"""The Team API on the team stack: PostgreSQL, Redis, and two daphne processes sharing one user's limits."""
from __future__ import annotations

import time

import openai
import pytest

from accounts import tokens
from accounts.models import Reservation
from usage.models import UsageRecord

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
MODEL = "grok-4-1-fast-non-reasoning"


def _client(port: int, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=token, max_retries=0, timeout=60)


def _ask(client: openai.OpenAI, content: str, **extra):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}], **extra)


def test_two_web_processes_share_the_api_rate_limits(user, emulator_provider, two_web_processes) -> None:
    """4 calls a minute and 1 live call per user (the fixture's settings), counted once across both processes:
    the per-minute counter in Redis, live calls as reservations in PostgreSQL."""
    _, token = tokens.create(user, "two processes")
    if time.time() % 60 > 40:  # keep the six calls inside one clock minute (the counter's window)
        time.sleep(61 - time.time() % 60)
    one, other = (_client(port, token) for port in two_web_processes)

    long = _ask(one, "Write at length [[tokens=100000]]", stream=True)  # call 1, live on the first process
    next(iter(long))
    with pytest.raises(openai.RateLimitError) as live:  # call 2: the other process sees it streaming
        _ask(other, "meanwhile [[tokens=3]]")
    assert "being written" in live.value.message and int(live.value.response.headers["retry-after"]) > 0
    long.close()
    deadline = time.monotonic() + 15  # the first process ends the call once it sees the client gone
    while Reservation.objects.exists():
        assert time.monotonic() < deadline, "the stopped call still holds its reservation"
        time.sleep(0.05)

    assert _ask(one, "quick [[tokens=3]]").usage.completion_tokens == 3  # call 3
    assert _ask(other, "quick [[tokens=3]]").usage.completion_tokens == 3  # call 4
    for client in (one, other):  # calls 5 and 6 of this minute
        with pytest.raises(openai.RateLimitError) as refused:
            _ask(client, "quick [[tokens=3]]")
        assert "4 messages a minute" in refused.value.message
        assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
    rows = UsageRecord.objects.filter(source="api")
    assert sorted(rows.values_list("outcome", flat=True)) == ["cancelled", "complete", "complete"]
    assert set(rows.values_list("token__name", flat=True)) == {"two processes"}


def test_a_revoked_token_and_a_disabled_owner_are_refused_by_every_process_at_once(user, emulator_provider,
                                                                                  two_web_processes) -> None:
    """Each process keeps its token checks (teamapi.grants); a change made anywhere bumps their version in Redis."""
    from accounts.models import ApiToken, User

    other = User.objects.create_user("other", "", "other-password-123")
    _, revoked = tokens.create(user, "to revoke")
    _, owned = tokens.create(other, "to disable")
    clients = [(_client(port, revoked), _client(port, owned)) for port in two_web_processes]
    for first, second in clients:  # both processes keep both checks
        assert _ask(first, "quick [[tokens=1]]").choices and _ask(second, "quick [[tokens=1]]").choices
    tokens.revoke(ApiToken.objects.get(user=user))
    other.status = User.Status.DISABLED
    other.save(update_fields=["status"])
    for first, second in clients:
        with pytest.raises(openai.AuthenticationError) as gone:
            _ask(first, "again")
        assert gone.value.body["code"] == "token_revoked"
        with pytest.raises(openai.PermissionDeniedError) as closed:
            _ask(second, "again")
        assert closed.value.body["code"] == "account_disabled"
