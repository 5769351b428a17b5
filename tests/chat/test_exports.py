"""Pure: downloads of a conversation (chat.exports)."""
from __future__ import annotations

import json

from chat.exports import filename, stream_json_list, to_markdown


def test_markdown_has_each_turn_and_fences_system_prompts_safely() -> None:
    text = to_markdown(
        {"title": "Harbor plans", "created_at": "2026-11-29T10:00:00", "model": "grok-4",
         "system_prompt": "Use ``` well"},
        [
            {"role": "user", "content": "How deep is it?"},
            {"role": "assistant", "model": "grok-4", "content": "About **12 m**.",
             "reasoning": "Check the chart.\n\nYes."},
            {"role": "assistant", "model": "grok-4", "content": "Partial", "status": "cancelled"},
        ],
    )
    assert text.startswith("# Harbor plans\n")
    assert "## You\n\nHow deep is it?" in text
    assert "## grok-4\n\n> **Reasoning**\n>\n> Check the chart.\n>\n> Yes.\n\nAbout **12 m**." in text
    assert "````\nUse ``` well\n````" in text
    assert "*(stopped)*" in text


def test_file_names_are_plain_ascii() -> None:
    assert filename("Ünïcode: plans / 2026?", "1a2b3c4d-0000", "md") == "grokweb-unicode-plans-2026-1a2b3c4d.md"
    assert filename("🙂", "1a2b3c4d-0000", "json") == "grokweb-1a2b3c4d.json"


def test_streamed_json_is_one_document() -> None:
    body = "".join(stream_json_list({"user": "ann"}, "conversations", iter([{"id": 1}, {"id": 2}])))
    assert json.loads(body) == {"user": "ann", "conversations": [{"id": 1}, {"id": 2}]}
    assert json.loads("".join(stream_json_list({}, "conversations", iter([])))) == {"conversations": []}


def test_markdown_names_a_messages_attachments() -> None:
    text = to_markdown({"title": "T", "created_at": "2026-11-29"}, [
        {"role": "user", "content": "What is this?",
         "attachments": [{"name": "cat.png", "kind": "image"}, {"name": "notes.md", "kind": "file"}]},
    ])
    assert "## You\n\n*Attached: cat.png (image), notes.md (file)*\n\nWhat is this?" in text
