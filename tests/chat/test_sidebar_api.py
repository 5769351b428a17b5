"""The sidebar's list views, exports and share links over the JSON API (issue 14)."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import SiteSettings
from chat.models import Conversation, Message
from chat.titles import write_title
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


def make(owner: Any, title: str, *, days_ago: int = 0, pinned: bool = False, archived: bool = False) -> Conversation:
    conversation = Conversation.objects.create(owner=owner, title=title, pinned=pinned, archived=archived)
    question = Message.objects.create(conversation=conversation, role="user", content=f"about {title}")
    answer = Message.objects.create(conversation=conversation, role="assistant", parent=question,
                                    content=f"**{title}** answered", status="complete", model_slug="grok-4")
    conversation.current_leaf = answer
    conversation.save()
    Conversation.objects.filter(id=conversation.id).update(updated_at=timezone.now() - timedelta(days=days_ago))
    return conversation


def titles(client: Client, **params: Any) -> list[str]:
    out: list[str] = []
    cursor = ""
    while True:
        page = client.get("/api/conversations/", {**params, "cursor": cursor} if cursor else params).json()
        out += [row["title"] for row in page["results"]]
        if not page["next"]:
            return out
        cursor = page["next"]


def test_the_active_view_puts_pinned_first_and_leaves_archived_out(logged_in: Client, user) -> None:
    for i in range(7):
        make(user, f"chat {i}", days_ago=i)
    make(user, "old pinned", days_ago=30, pinned=True)
    make(user, "new pinned", days_ago=1, pinned=True)
    make(user, "archived", archived=True)
    active = titles(logged_in, view="active", limit=2)  # pages of two cross the pinned/unpinned edge
    assert active == ["new pinned", "old pinned"] + [f"chat {i}" for i in range(7)]
    assert titles(logged_in, view="archived") == ["archived"]
    assert len(titles(logged_in)) == 10  # without a view: everything, newest first, as before
    assert titles(logged_in, view="active", q="pinned") == ["new pinned", "old pinned"]
    assert logged_in.get("/api/conversations/", {"view": "deleted"}).status_code == 400


def test_a_renamed_chat_keeps_its_name(logged_in: Client, user, emulator_provider) -> None:
    conversation = make(user, "")
    logged_in.patch(f"/api/conversations/{conversation.id}/", {"title": "My own name"},
                    content_type="application/json")
    assert write_title(conversation.id) is None
    assert Conversation.objects.get(id=conversation.id).title == "My own name"


def test_exports_download_the_branch_and_the_tree(logged_in: Client, user, make_user) -> None:
    conversation = make(user, "Harbor plans")
    first = Message.objects.filter(conversation=conversation, role="user").get()
    Message.objects.create(conversation=conversation, role="user", content="an edit on another branch",
                           parent=first.parent)
    md = logged_in.get(f"/api/conversations/{conversation.id}/export", {"format": "md"})
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    assert md["Content-Disposition"] == f'attachment; filename="grokweb-harbor-plans-{str(conversation.id)[:8]}.md"'
    text = md.content.decode()
    assert "# Harbor plans" in text and "**Harbor plans** answered" in text and "another branch" not in text
    doc = json.loads(logged_in.get(f"/api/conversations/{conversation.id}/export", {"format": "json"}).content)
    assert len(doc["messages"]) == 3 and len(doc["branch"]) == 2 and doc["title"] == "Harbor plans"
    assert logged_in.get(f"/api/conversations/{conversation.id}/export", {"format": "pdf"}).status_code == 400

    theirs = make(make_user("bob"), "bob's secret")
    assert logged_in.get(f"/api/conversations/{theirs.id}/export", {"format": "md"}).status_code == 404
    everything = logged_in.get("/api/conversations/export", {"format": "json"})
    assert everything.status_code == 200 and "attachment" in everything["Content-Disposition"]
    body = json.loads(b"".join(everything.streaming_content))
    assert [c["title"] for c in body["conversations"]] == ["Harbor plans"]


def test_a_share_link_shows_the_branch_as_it_was_without_usage(logged_in: Client, user, make_user) -> None:
    conversation = make(user, "Shared plans")
    answer = Message.objects.get(conversation=conversation, role="assistant")
    UsageRecord.objects.create(user=user, conversation=conversation, message=answer, model_slug="grok-4",
                               prompt_tokens=12345, completion_tokens=678, total_tokens=13023, price_input=0,
                               price_cached_input=0, price_output=0, cost_ticks=987654321)
    state = logged_in.get(f"/api/conversations/{conversation.id}/share").json()
    assert state == {"enabled": True, "url": None, "created_at": None}
    url = logged_in.post(f"/api/conversations/{conversation.id}/share").json()["url"]
    assert url.startswith("/s/") and len(url) > 30

    # A later message is not part of what was shared.
    Message.objects.create(conversation=conversation, role="user", parent=answer, content="a private follow-up")
    page = Client().get(url)
    assert page.status_code == 200 and page["X-Robots-Tag"].startswith("noindex")
    html = page.content.decode()
    assert "Shared plans" in html and "about Shared plans" in html
    assert "private follow-up" not in html and "12,345" not in html and "12345" not in html and "$" not in html

    other = make_user("bob")
    theirs = Client()
    theirs.force_login(other)
    assert theirs.post(f"/api/conversations/{conversation.id}/share").status_code == 404

    # Staff turn sharing off for the team: links stop working and none are made.
    site = SiteSettings.load()
    site.sharing_enabled = False
    site.save()
    assert Client().get(url).status_code == 404
    assert logged_in.post(f"/api/conversations/{conversation.id}/share").status_code == 403
    site.sharing_enabled = True
    site.save()
    assert Client().get(url).status_code == 200

    # Revoked: the link answers 404 like one that never existed.
    assert logged_in.delete(f"/api/conversations/{conversation.id}/share").status_code == 204
    assert Client().get(url).status_code == 404
    assert Client().get("/s/not-a-real-token/").status_code == 404
