"""The circuit breaker's rules, with a clock the test moves."""
from __future__ import annotations

import pytest
from django.core.cache import caches

from gateways.breaker import Breaker, Policy, cooldown_for
from gateways.stats import percentile, summarize


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> Breaker:
    caches["default"].clear()
    return Breaker(policy=Policy(threshold=3, window_s=60, cooldown_s=30), clock=clock)


def test_it_opens_after_the_threshold_and_closes_after_the_cool_down(breaker: Breaker, clock: Clock) -> None:
    assert breaker.failure("r1") is None and breaker.failure("r1") is None
    assert not breaker.is_open("r1")
    assert breaker.failure("r1") == 30
    assert breaker.is_open("r1") and not breaker.is_open("r2")
    clock.now += 31
    assert not breaker.is_open("r1")  # half-open: one call may try again
    assert breaker.failure("r1") == 30  # ... and a failure reopens it at once


def test_a_success_resets_the_count(breaker: Breaker) -> None:
    breaker.failure("r1")
    breaker.failure("r1")
    breaker.success("r1")
    assert breaker.failure("r1") is None and not breaker.is_open("r1")


def test_retry_after_opens_at_once_for_that_long(breaker: Breaker, clock: Clock) -> None:
    assert breaker.failure("r1", retry_after=12) == 12
    assert breaker.open_until("r1") == clock.now + 12


def test_cooldown_rules_are_pure() -> None:
    policy = Policy(threshold=2, cooldown_s=40, max_cooldown_s=100)
    assert cooldown_for(policy, 1, None) is None
    assert cooldown_for(policy, 2, None) == 40
    assert cooldown_for(policy, 1, 500) == 100  # a huge Retry-After is capped
    assert cooldown_for(policy, 1, 0.2) == 1.0


async def test_the_async_side_sees_what_the_sync_side_wrote(breaker: Breaker) -> None:
    for _ in range(3):
        await breaker.afailure("r9")
    assert await breaker.ais_open("r9") and breaker.is_open("r9")
    await breaker.asuccess("r9")
    assert not await breaker.ais_open("r9")


def test_percentiles_and_summaries() -> None:
    assert percentile([], 50) is None
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile(list(range(1, 101)), 95) == 95
    rows = summarize([("A", "m", "ok", 100), ("A", "m", "timeout", None), ("A", "m", "ok", 300),
                      ("B", "m", "upstream_unavailable", None)])
    assert [(r.provider, r.calls, r.error_count, r.p50) for r in rows] == [("A", 3, 1, 100), ("B", 1, 1, None)]
    assert rows[0].errors_by_code == [("timeout", 1)] and rows[1].error_rate == 1.0


def test_the_policy_comes_from_the_settings(settings) -> None:
    settings.GATEWAY_BREAKER = {"THRESHOLD": 1, "WINDOW_S": 30, "COOLDOWN_S": 5}
    breaker = Breaker()
    assert breaker.policy == Policy(threshold=1, window_s=30.0, cooldown_s=5.0)
    caches["default"].clear()
    assert breaker.failure("r1") == 5.0 and breaker.is_open("r1")


@pytest.mark.parametrize(("code", "elsewhere"), [
    ("upstream_unavailable", True), ("upstream_rate_limited", True), ("timeout", True), ("upstream_auth", True),
    ("upstream_forbidden", True), ("model_unavailable", True),
    ("content_blocked", False), ("context_too_long", False), ("bad_request", False),
])
def test_only_the_gateways_own_failures_go_elsewhere(code: str, elsewhere: bool) -> None:
    from gateways.failover import fails_over
    from gateways.wire.errors import UpstreamError

    assert fails_over(UpstreamError(code, "detail")) is elsewhere


def test_one_trial_at_a_time_and_none_while_the_gateway_asked_to_wait(breaker: Breaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.failure("r1")
    assert breaker.is_open("r1")
    assert breaker.begin_trial("r1", ttl_s=10) is True
    assert breaker.begin_trial("r1", ttl_s=10) is False  # one at a time, whichever process asks
    breaker.end_trial("r1")
    assert breaker.begin_trial("r1", ttl_s=10) is True
    breaker.end_trial("r1")
    breaker.failure("r2", retry_after=20)  # the gateway's own Retry-After: honoured, no trial before it
    assert breaker.begin_trial("r2", ttl_s=10) is False
    breaker.success("r2")
    assert breaker.begin_trial("r2", ttl_s=10) is True
