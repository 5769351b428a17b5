"""'Test connection': list the models, ask for one token, and say in plain words how it went."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from django.conf import settings

from .mapping import map_id
from .wire.client import ChatRequest, Endpoint, UpstreamClient
from .wire.errors import UpstreamError

SLOW_MS = 5000


@dataclass(frozen=True)
class Outcome:
    ok: bool
    verdict: str  # a few words: "Working", "Bad key", "No credits", "Unknown model", "Unreachable", "Misconfigured",
    # "Slow"
    detail: str
    elapsed_ms: int = 0

    def message(self) -> str:
        return f"{self.verdict}: {self.detail}"


def verdict_for(exc: UpstreamError, step: str, model: str = "") -> tuple[str, str]:
    """Plain words for a failed step. Pure."""
    code = exc.code
    if code == "upstream_auth":
        return "Bad key", "the gateway did not accept the API key."
    if code == "upstream_forbidden":
        return "No credits", "the gateway refused the request: the balance looks exhausted or the key lacks access."
    if code == "model_unavailable":
        if step == "list":
            return "Unreachable", "there is no model list at this base URL; check that it ends in /v1."
        return "Unknown model", f"the gateway does not offer {model} to this key."
    if code == "upstream_rate_limited":
        return "Rate limited", "the gateway is rate limiting this key right now; try again shortly."
    if code == "timeout":
        return "Unreachable", "the gateway did not answer in time."
    if code == "upstream_unavailable" and not exc.retryable:
        # A redirect, a web page or an unreadable coding (gateways.wire.errors): its detail says what to fix.
        return "Misconfigured", exc.detail
    if code == "upstream_unavailable" and exc.status is None:
        return "Unreachable", "no connection to the gateway (check the base URL and the network)."
    if code == "upstream_unavailable" and exc.status == 200:  # an error written in its answer: its words
        return "Gateway trouble", exc.detail
    if code == "upstream_unavailable":
        return "Gateway trouble", f"the gateway answered with an error ({exc.status}); try again shortly."
    return "Failed", f"the gateway refused a one-token request ({code})."


def _pick(listed: list[str], preferred: list[str]) -> str | None:
    """The model to ask: a route's id if given, else the first listed Grok model, else anything listed."""
    for upstream_id in preferred:
        return upstream_id
    return next((i for i in listed if map_id(i)), listed[0] if listed else None)


async def probe(endpoint: Endpoint, preferred: list[str] | None = None, slow_ms: int | None = None) -> Outcome:
    slow_ms = slow_ms if slow_ms is not None else getattr(settings, "GATEWAY_SLOW_MS", SLOW_MS)
    endpoint = dataclasses.replace(endpoint, max_retries=0, first_token_timeout=min(endpoint.first_token_timeout,
                                                                                   30.0))
    async with UpstreamClient() as client:
        started = time.monotonic()
        try:
            listed = await client.list_models(endpoint)
        except UpstreamError as exc:
            verdict, detail = verdict_for(exc, "list")
            return Outcome(False, verdict, detail, _ms(started))
        model = _pick(listed, preferred or [])
        if model is None:
            return Outcome(False, "No models", "the gateway lists no models for this key.", _ms(started))
        asked = time.monotonic()
        request = ChatRequest(model=model, messages=[{"role": "user", "content": "Say OK."}],
                              params={"max_tokens": 1})
        try:
            await client.complete(endpoint, request)
        except UpstreamError as exc:
            verdict, detail = verdict_for(exc, "complete", model)
            return Outcome(False, verdict, detail, _ms(started))
        answer_ms, total = _ms(asked), _ms(started)
    summary = f"{len(listed)} models listed; {model} answered a one-token request in {duration(answer_ms)}"
    if total > slow_ms:
        return Outcome(True, "Slow", f"{summary} ({duration(total)} in all, more than {duration(slow_ms)}).", total)
    return Outcome(True, "Working", summary + ".", total)


def duration(ms: int) -> str:
    """`340 ms`, `2.4 s`: what a person reads at a glance. Pure."""
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _ms(since: float) -> int:
    return round((time.monotonic() - since) * 1000)
