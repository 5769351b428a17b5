"""The Team API as a script sees it: the official openai SDK against a real server, the emulator upstream."""
from __future__ import annotations

import datetime as dt

import httpx
import openai
import pytest
from django.utils import timezone

from accounts import tokens
from accounts.models import ApiToken, Reservation
from gateways.models import Model, Provider, Route
from tests.emulator_server import free_port
from usage.models import UsageRecord
from usage.money import format_usd

pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "grok-4-1-fast-non-reasoning"
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
       "AAAABJRU5ErkJggg==")
USAGE = {"include_usage": True}


def ask(client, content, model=MODEL, **extra):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **extra)


def error_of(raised: pytest.ExceptionInfo) -> dict:  # type: ignore[type-arg]
    """The error object of an SDK exception (its `body`)."""
    body = raised.value.body
    assert isinstance(body, dict), body
    return body


# Answers -------------------------------------------------------------------------------------


def test_a_streamed_completion_arrives_in_chunks_with_usage_and_cost(user, emulator_provider, make_token, sdk,
                                                                     ledger_written) -> None:
    stream = ask(sdk(make_token(user)), "Hello [[tokens=25]]", stream=True, stream_options=USAGE)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert chunks[0].choices[0].delta.role == "assistant" and {c.model for c in chunks} == {MODEL}
    assert text and finishes == ["stop"] and chunks[-1].choices == []
    assert usage.completion_tokens == 25 and usage.total_tokens == usage.prompt_tokens + 25
    row = ledger_written()
    assert (row.source, row.outcome, row.completion_tokens, row.estimated) == ("api", "complete", 25, False)
    assert usage.model_extra["cost_usd"] == format_usd(row.cost_ticks) and row.cost_ticks > 0
    assert not Reservation.objects.exists()


def test_without_include_usage_a_stream_ends_without_a_usage_chunk(user, emulator_provider, make_token, sdk,
                                                                    ledger_written) -> None:
    chunks = list(ask(sdk(make_token(user)), "Hi [[tokens=5]]", stream=True))
    assert all(c.usage is None and c.choices for c in chunks)
    assert ledger_written().completion_tokens == 5


def test_a_whole_completion(user, emulator_provider, make_token, sdk, ledger_written) -> None:
    answer = sdk(make_token(user)).chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."},
                               {"role": "developer", "content": "Answer in English."},
                               {"role": "user", "content": "Hi [[tokens=7]]"}],
        temperature=0.2, top_p=0.9, max_completion_tokens=50, seed=3)
    assert answer.object == "chat.completion" and answer.model == MODEL
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    assert answer.usage.completion_tokens == 7
    row = ledger_written()
    assert row.token_id is not None and UsageRecord.objects.get().pk == row.pk
    assert answer.usage.model_extra == {"cost_usd": format_usd(row.cost_ticks), "estimated": False}


def test_max_tokens_reaches_the_gateway(user, emulator_provider, make_token, sdk) -> None:
    answer = ask(sdk(make_token(user)), "Long [[tokens=200]]", max_tokens=12)
    assert answer.usage.completion_tokens == 12


def test_reasoning_streams_as_reasoning_content_and_counts_in_completion_tokens(user, emulator_provider, make_token,
                                                                              sdk) -> None:
    chunks = list(ask(sdk(make_token(user)), "Think [[tokens=10]]", model="grok-3-mini", stream=True,
                      stream_options=USAGE, reasoning_effort="high"))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in chunks if c.choices)
    usage = chunks[-1].usage
    thought = usage.completion_tokens_details.reasoning_tokens
    assert reasoning and thought > 0
    assert usage.completion_tokens == 10 + thought  # OpenAI's convention: reasoning is inside completion_tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_reasoning_effort_is_left_out_for_a_model_that_does_not_take_it(user, emulator_provider, make_token,
                                                                         sdk) -> None:
    # The emulator answers 400 to reasoning_effort on this model, as xAI does.
    assert ask(sdk(make_token(user)), "Hi [[tokens=3]]", reasoning_effort="low").choices[0].message.content


def test_image_parts_reach_a_vision_model(user, emulator_provider, make_token, sdk) -> None:
    client = sdk(make_token(user))
    text = {"type": "text", "text": "What is this? [[tokens=4]]"}
    plain = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [text]}])
    seen = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        text, {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}]}])
    assert seen.usage.prompt_tokens - plain.usage.prompt_tokens == 512  # the emulator bills the image it got


def test_an_image_to_a_text_only_model_is_refused_before_any_upstream_call(user, emulator_provider, make_token,
                                                                           sdk) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sdk(make_token(user)).chat.completions.create(model="grok-3-mini", messages=[{"role": "user", "content": [
            {"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert error_of(raised)["code"] == "bad_request" and "does not accept images" in raised.value.message
    assert not UsageRecord.objects.exists() and not Reservation.objects.exists()


def test_models_lists_what_the_token_may_use(user, emulator_provider, make_token, sdk) -> None:
    everything = [m.id for m in sdk(make_token(user)).models.list()]
    assert MODEL in everything and len(everything) == Model.objects.count()
    narrow = sdk(make_token(user, model_slugs=[MODEL]))
    assert [m.id for m in narrow.models.list()] == [MODEL]
    one = narrow.models.retrieve(MODEL)
    assert one.id == MODEL and one.model_extra["vision"] is True and one.model_extra["pricing"]["input"]
    with pytest.raises(openai.PermissionDeniedError) as raised:
        ask(narrow, "Hi", model="grok-3-mini")
    assert error_of(raised)["code"] == "model_not_allowed"


# Refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sk-not-ours", "grokweb_" + "A" * 38, ""])
def test_a_wrong_token_answers_401(key, emulator_provider, sdk) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        ask(sdk(key or "-"), "Hi")
    assert error_of(raised)["code"] == "invalid_api_key" and error_of(raised)["type"] == "authentication_error"


def test_a_well_formed_token_nobody_has_answers_401(user, emulator_provider, sdk) -> None:
    with pytest.raises(openai.AuthenticationError):
        ask(sdk(tokens.generate()), "Hi")


def test_a_revoked_token_stops_at_once(user, emulator_provider, make_token, sdk) -> None:
    client = sdk(make_token(user))
    assert ask(client, "Hi [[tokens=2]]").choices
    tokens.revoke(ApiToken.objects.get())
    with pytest.raises(openai.AuthenticationError) as raised:
        ask(client, "Hi again")
    assert error_of(raised)["code"] == "token_revoked"


def test_an_expired_token_answers_401(user, emulator_provider, make_token, sdk) -> None:
    client = sdk(make_token(user, expires_at=timezone.now() - dt.timedelta(minutes=1)))
    with pytest.raises(openai.AuthenticationError) as raised:
        client.models.list()
    assert error_of(raised)["code"] == "token_expired"


def test_disabling_someone_stops_their_tokens_at_once(user, emulator_provider, make_token, sdk) -> None:
    client = sdk(make_token(user))
    assert ask(client, "Hi [[tokens=2]]").choices
    user.status = user.Status.DISABLED
    user.save(update_fields=["status"])
    with pytest.raises(openai.PermissionDeniedError) as raised:
        ask(client, "Hi again")
    assert error_of(raised)["code"] == "account_disabled"


def test_removing_someones_model_access_stops_their_tokens_on_it(user, emulator_provider, make_token, sdk) -> None:
    from accounts.access import limit_to_groups

    client = sdk(make_token(user))
    assert ask(client, "Hi [[tokens=2]]").choices
    limit_to_groups(Model.objects.get(slug=MODEL), [])  # staff only now
    with pytest.raises(openai.PermissionDeniedError) as raised:
        ask(client, "Hi again")
    assert error_of(raised)["code"] == "model_not_allowed"
    assert MODEL not in [m.id for m in client.models.list()]


def test_an_unknown_model_answers_404(user, emulator_provider, make_token, sdk) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        ask(sdk(make_token(user)), "Hi", model="gpt-9")
    assert error_of(raised)["code"] == "model_not_found" and error_of(raised)["param"] == "model"


@pytest.mark.parametrize("extra, param", [
    ({"temperature": 3}, "temperature"), ({"n": 2}, "n"), ({"top_p": 0}, "top_p"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
])
def test_a_bad_body_answers_400_naming_the_field(extra, param, user, emulator_provider, make_token, sdk) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        ask(sdk(make_token(user)), "Hi", **extra)
    assert error_of(raised)["param"] == param and raised.value.response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens"])
def test_an_output_limit_past_the_models_window_answers_400_before_any_upstream_call(
        name, user, emulator_provider, make_token, sdk) -> None:
    window = Model.objects.get(slug=MODEL).context_window
    client = sdk(make_token(user))
    with pytest.raises(openai.BadRequestError) as raised:
        ask(client, "Hi", **{name: window + 1})
    assert error_of(raised)["param"] == name and f"{window:,}" in raised.value.message
    assert not UsageRecord.objects.exists() and not Reservation.objects.exists()
    with pytest.raises(openai.BadRequestError):
        ask(client, "Hi", max_tokens=10**400)  # a number no gateway should be handed
    assert ask(client, "Hi [[tokens=3]]", **{name: window}).usage.completion_tokens == 3  # the window itself is fine


def test_a_bad_body_from_a_stranger_answers_401_first(emulator_provider, api_url) -> None:
    answer = httpx.post(f"{api_url}/chat/completions", content=b"not json", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 401


def test_other_paths_answer_openais_404(user, api_url) -> None:
    answer = httpx.post(f"{api_url}/embeddings", json={})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert httpx.get(f"{api_url}/chat/completions").status_code == 405


def test_the_per_minute_limit_answers_429_with_retry_after(user, emulator_provider, make_token, sdk,
                                                           settings) -> None:
    settings.GROKWEB = {**settings.GROKWEB, "MESSAGES_PER_MINUTE": 0}
    with pytest.raises(openai.RateLimitError) as raised:
        ask(sdk(make_token(user)), "Hi")
    assert error_of(raised)["code"] == "rate_limited" and 1 <= int(raised.value.response.headers["retry-after"]) <= 60
    assert not Reservation.objects.exists()


def test_the_live_call_limit_counts_api_calls_and_chat_replies_alike(user, emulator_provider, make_token, sdk,
                                                                     settings, ledger_written) -> None:
    settings.GROKWEB = {**settings.GROKWEB, "MAX_LIVE_GENERATIONS": 1}
    client = sdk(make_token(user))
    with ask(client, "Write at length [[tokens=100000]]", stream=True) as long:
        next(iter(long))
        held = Reservation.objects.get()
        assert held.user_id == user.pk and held.holder.startswith("api:")
        with pytest.raises(openai.RateLimitError) as raised:
            ask(client, "meanwhile")
        assert "being written" in raised.value.message and raised.value.response.headers["retry-after"] == "5"
    assert ledger_written().outcome == "cancelled"  # closing the stream ended the call


def test_a_used_up_budget_answers_402_and_says_not_to_retry(user, emulator_provider, make_token, sdk) -> None:
    user.budget_tokens = 1
    user.save(update_fields=["budget_tokens"])
    with pytest.raises(openai.APIStatusError) as raised:
        ask(sdk(make_token(user)), "Hello there, how are you?")
    assert raised.value.status_code == 402 and raised.value.response.headers["x-should-retry"] == "false"
    assert error_of(raised)["code"] == "budget_exceeded" and error_of(raised)["remaining_tokens"] == 1
    assert error_of(raised)["type"] == "insufficient_quota"


# Upstream failures, after failover ---------------------------------------------------------------


def _one_try(provider: Provider, **fields: float) -> None:
    Provider.objects.filter(pk=provider.pk).update(max_retries=0, **fields)


@pytest.mark.parametrize("fault, status, code", [
    ("500", 502, "upstream_unavailable"), ("401", 502, "upstream_auth"), ("429", 503, "upstream_rate_limited"),
    ("403_policy", 400, "content_blocked"),
])
def test_an_upstream_failure_answers_with_its_status(fault, status, code, user, emulator_provider, make_token, sdk,
                                                     ledger_written) -> None:
    _one_try(emulator_provider)
    with pytest.raises(openai.APIStatusError) as raised:
        ask(sdk(make_token(user)), f"Hi [[fault:{fault}]]", stream=True)
    assert raised.value.status_code == status and error_of(raised)["code"] == code
    if status == 503:
        assert int(raised.value.response.headers["retry-after"]) >= 1
    row = ledger_written()  # the gateway refused the call: a row, with nothing billed
    assert (row.outcome, row.total_tokens, row.cost_ticks) == ("error", 0, 0)
    assert not Reservation.objects.exists()


def test_a_gateway_that_says_nothing_answers_504(user, emulator_provider, make_token, sdk) -> None:
    _one_try(emulator_provider, first_token_timeout=0.5)
    with pytest.raises(openai.InternalServerError) as raised:
        ask(sdk(make_token(user)), "Hi [[fault:stall]]")
    assert raised.value.status_code == 504 and error_of(raised)["code"] == "timeout"


def test_a_failed_first_route_fails_over_and_both_calls_are_in_the_ledger(user, emulator_provider, make_token,
                                                                          sdk) -> None:
    dead = Provider(name="Dead gateway", kind=Provider.Kind.OPENAI, base_url=f"http://127.0.0.1:{free_port()}/v1",
                    max_retries=0)
    dead.set_api_key("k")
    dead.save()
    Route.objects.create(model=Model.objects.get(slug=MODEL), provider=dead, upstream_id=MODEL, priority=1)
    answer = ask(sdk(make_token(user)), "Hi [[tokens=3]]")
    assert answer.usage.completion_tokens == 3
    rows = {r.provider_id: r for r in UsageRecord.objects.all()}
    assert set(rows) == {dead.pk, emulator_provider.pk}
    assert rows[dead.pk].outcome == "error" and rows[dead.pk].source == "api" and rows[dead.pk].token_id
    assert rows[emulator_provider.pk].outcome == "complete"


def test_an_error_mid_stream_ends_the_stream_with_an_error_event(user, emulator_provider, make_token, sdk,
                                                                 ledger_written) -> None:
    stream = ask(sdk(make_token(user)), "Hi [[tokens=50]] [[fault:stream_error:5]]", stream=True,
                 stream_options=USAGE)
    seen = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            seen.append(chunk)
    assert raised.value.code == "upstream_unavailable"
    assert sum(1 for c in seen if c.choices and c.choices[0].delta.content) == 5 and seen[-1].usage is not None
    row = ledger_written()
    assert row.outcome == "error" and row.estimated and row.completion_tokens > 0


def test_a_gateway_that_falls_silent_mid_stream_ends_the_stream_with_a_timeout(user, emulator_provider, make_token,
                                                                              sdk, ledger_written) -> None:
    """The idle timeout's watchdog cancels the task that reads: it must be the one reading after the first token
    too (it was the first event's own task once, which had ended: a silent gateway then hung the stream)."""
    _one_try(emulator_provider, idle_timeout=0.5)
    stream = ask(sdk(make_token(user)), "Hi [[tokens=50]] [[fault:stall:5]]", stream=True, stream_options=USAGE)
    seen = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            seen.append(chunk)
    assert raised.value.code == "timeout"
    assert sum(1 for c in seen if c.choices and c.choices[0].delta.content) == 5
    row = ledger_written()
    assert row.outcome == "error" and row.estimated and row.completion_tokens > 0


# Budgets mid-stream and clients that leave ---------------------------------------------------


def test_a_budget_hit_mid_stream_cuts_the_reply_and_bills_what_was_sent(user, emulator_provider, make_token, sdk,
                                                                        ledger_written) -> None:
    user.budget_tokens = 300
    user.save(update_fields=["budget_tokens"])
    client = sdk(make_token(user))
    text = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in ask(client, "Write [[tokens=5000]]", stream=True):
            text.append(chunk.choices[0].delta.content or "")
    assert raised.value.code == "budget_exceeded" and "".join(text)
    row = ledger_written()
    assert row.outcome == "error" and row.estimated
    assert 280 <= row.total_tokens <= 300 + 5  # cut within one chunk of the limit, text included
    assert not Reservation.objects.exists()
    with pytest.raises(openai.APIStatusError) as refused:
        ask(client, "More?")
    assert refused.value.status_code == 402


def test_a_whole_completion_cut_by_its_budget_answers_402_with_its_text(user, emulator_provider, make_token, sdk,
                                                                        ledger_written) -> None:
    user.budget_tokens = 200
    user.save(update_fields=["budget_tokens"])
    with pytest.raises(openai.APIStatusError) as raised:
        ask(sdk(make_token(user)), "Write [[tokens=5000]]")
    error = error_of(raised)
    assert raised.value.status_code == 402 and error["code"] == "budget_exceeded"
    assert error["content"] and error["usage"]["estimated"] is True
    assert ledger_written().total_tokens == error["usage"]["total_tokens"]


def test_a_client_that_goes_away_stops_the_call_and_is_billed_what_it_got(user, emulator_provider, make_token, sdk,
                                                                         ledger_written) -> None:
    stream = ask(sdk(make_token(user)), "Write at length [[tokens=100000]]", stream=True)
    for _, _chunk in zip(range(5), stream, strict=False):
        pass
    assert Reservation.objects.count() == 1
    stream.close()
    row = ledger_written()
    assert (row.outcome, row.estimated) == ("cancelled", True)
    assert 0 < row.completion_tokens < 100000
    assert not Reservation.objects.exists()
