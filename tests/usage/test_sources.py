"""The report, My usage, their CSV and the usage APIs grouped and narrowed by source (chat, api) and by token."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse

from accounts import tokens
from usage import rollups

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(make_user, staff, record, today):  # type: ignore[no-untyped-def]
    """alice: a chat reply yesterday, API calls with her laptop token yesterday and today; bob: one API call."""
    alice, bob = make_user("alice"), make_user("bob")
    laptop, _ = tokens.create(alice, "laptop")
    ci, _ = tokens.create(bob, "ci")
    record(alice, "grok-4-fast-reasoning", today - dt.timedelta(days=1), prompt=100, visible=10)
    record(alice, "grok-3-mini", today - dt.timedelta(days=1), prompt=200, visible=20, source="api",
           token_id=laptop.pk)
    rollups.refresh()
    record(alice, "grok-3-mini", today, prompt=300, visible=30, source="api", token_id=laptop.pk)
    record(bob, "grok-4-0709", today, prompt=400, visible=40, source="api", token_id=ci.pk)
    return {"alice": alice, "bob": bob, "laptop": laptop, "ci": ci, "staff": staff}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _range(today: dt.date) -> dict[str, str]:
    return {"from": str(today - dt.timedelta(days=3)), "to": str(today)}


def test_the_report_api_groups_by_source_and_token(calls, today) -> None:
    staff = _client(calls["staff"])
    by_source = staff.get("/api/usage/report", {**_range(today), "group_by": "source"}).json()
    assert {r["key"]: r["requests"] for r in by_source} == {"api": 3, "chat": 1}
    by_token = staff.get("/api/usage/report", {**_range(today), "group_by": "token"}).json()
    assert {r["key"]: (r["label"], r["prompt_tokens"]) for r in by_token} == {
        str(calls["laptop"].pk): ("alice · laptop", 500), str(calls["ci"].pk): ("bob · ci", 400),
        "-": ("No token (the chat)", 100)}
    narrowed = staff.get("/api/usage/report", {**_range(today), "group_by": "user",
                                               "token": str(calls["laptop"].pk)}).json()
    assert [(r["key"], r["requests"]) for r in narrowed] == [("alice", 2)]
    chat_only = staff.get("/api/usage/report", {**_range(today), "group_by": "user", "source": "chat"}).json()
    assert [(r["key"], r["requests"]) for r in chat_only] == [("alice", 1)]
    for bad in ({"source": "email"}, {"token": "nope"}):
        assert staff.get("/api/usage/report", {**_range(today), **bad}).status_code == 400


def test_my_usage_api_has_my_sources_and_tokens_only(calls, today) -> None:
    mine = _client(calls["alice"]).get("/api/usage/me", _range(today)).json()
    assert {r["key"]: r["requests"] for r in mine["sources"]} == {"api": 2, "chat": 1}
    assert {r["label"]: r["requests"] for r in mine["tokens"]} == {"laptop": 2, "No token (the chat)": 1}
    api_only = _client(calls["alice"]).get("/api/usage/me", {**_range(today), "source": "api"}).json()
    assert api_only["totals"]["requests"] == 2 and [r["key"] for r in api_only["sources"]] == ["api"]
    theirs = _client(calls["alice"]).get("/api/usage/me", {**_range(today), "token": str(calls["ci"].pk)}).json()
    assert theirs["totals"]["requests"] == 0  # someone else's token narrows to nothing


def test_the_pages_show_by_source_and_by_token_and_keep_the_filter_in_links(calls, today) -> None:
    page = _client(calls["staff"]).get(reverse("usage:report"), {**_range(today), "source": "api"}).content.decode()
    assert 'id="by-source"' in page and "alice · laptop" in page and "bob · ci" in page
    assert "No token (the chat)" not in page  # narrowed to the API
    assert "table=ledger&amp;source=api" in page  # the ledger CSV link keeps the filter
    me = _client(calls["alice"]).get(reverse("usage:me"), {**_range(today),
                                                          "token": str(calls["laptop"].pk)}).content.decode()
    assert "Only the calls made with one API token" in me
    assert ">laptop<" in me and "bob" not in me


def test_the_ledger_csv_names_source_and_token_and_narrows_to_them(calls, today) -> None:
    answer = _client(calls["alice"]).get(reverse("usage:me_csv"), {**_range(today), "table": "ledger",
                                                                   "source": "api"})
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert [(r["source"], r["token"]) for r in rows] == [("api", "laptop"), ("api", "laptop")]
    chat = _client(calls["alice"]).get(reverse("usage:me_csv"), {**_range(today), "table": "ledger", "token": "-"})
    rows = list(csv.DictReader(io.StringIO(b"".join(chat.streaming_content).decode())))
    assert [(r["source"], r["token"]) for r in rows] == [("chat", "")]
    table = _client(calls["alice"]).get(reverse("usage:me_csv"), {**_range(today), "table": "token"})
    keys = {r["label"] for r in csv.DictReader(io.StringIO(b"".join(table.streaming_content).decode()))}
    assert keys == {"laptop", "No token (the chat)"}
