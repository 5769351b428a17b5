"""A send's rows written and read with plain SQL (chat.rows) are the rows the ORM would write and read."""
from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError
from django.db.models.signals import post_save, pre_save

from accounts.models import Reservation
from chat import rows, selectors, services
from chat.models import Attachment, Conversation, Message
from chat.paging import siblings_of

pytestmark = pytest.mark.django_db
MODEL = "grok-4-fast-non-reasoning"


def _send(user, conversation=None, content="hi", request_id=None):  # type: ignore[no-untyped-def]
    return services.send(user, request_id=request_id or uuid.uuid4(), conversation_id=conversation, content=content,
                         model_slug=MODEL, runner="proc-1")


def test_a_send_in_an_ongoing_chat_stores_its_two_messages_and_moves_the_leaf(user, emulator_provider) -> None:
    first = _send(user)
    Message.objects.filter(id=first.assistant_message.id).update(status=Message.Status.COMPLETE, content="hello")
    before = Conversation.objects.get(id=first.conversation.id).updated_at
    request_id = uuid.uuid4()
    started = _send(user, first.conversation.id, "  and again  ", request_id)

    asked = Message.objects.get(id=started.user_message.id)
    reply = Message.objects.get(id=started.assistant_message.id)
    assert (asked.role, asked.content, asked.parts, asked.status, asked.request_id, asked.parent_id) == (
        Message.Role.USER, "and again", [], Message.Status.COMPLETE, request_id, first.assistant_message.id)
    assert (reply.role, reply.content, reply.status, reply.parent_id, reply.model_slug, reply.runner, reply.live_seq) \
        == (Message.Role.ASSISTANT, "", Message.Status.STREAMING, asked.id, MODEL, "proc-1", 0)
    assert reply.model_id is not None and reply.request_id is None
    assert asked.created_at <= reply.created_at and asked.created_at == started.user_message.created_at
    chat = Conversation.objects.get(id=first.conversation.id)
    assert chat.current_leaf_id == reply.id and chat.model_id == reply.model_id and chat.updated_at > before
    assert Reservation.objects.filter(message_id=reply.id, user=user).count() == 1
    # The branch a prompt is built from, as the ORM reads it.
    assert [t.id for t in selectors.visible_branch(chat, for_prompt=True)] == [
        first.user_message.id, first.assistant_message.id, asked.id, reply.id]
    assert [t.id for t in selectors.visible_branch(chat, for_prompt=True)] == [
        m.id for m in selectors.visible_branch(chat)]


def test_a_repeated_request_id_still_answers_with_the_first_reply(user, emulator_provider) -> None:
    request_id = uuid.uuid4()
    first = _send(user, request_id=request_id)
    again = _send(user, first.conversation.id, request_id=request_id)
    assert again.duplicate and again.assistant_message.id == first.assistant_message.id
    assert Message.objects.filter(conversation=first.conversation).count() == 2


def test_reads_match_the_orm(user, emulator_provider) -> None:
    first = _send(user)
    Message.objects.filter(id=first.user_message.id).update(parts=[{"type": "attachment", "id": "x", "tokens": 3}])
    got = rows.get(Conversation, id=first.conversation.id, owner_id=user.pk)
    orm = Conversation.objects.get(id=first.conversation.id)
    for field in Conversation._meta.concrete_fields:
        assert getattr(got, field.attname) == getattr(orm, field.attname), field.name
    assert rows.get(Conversation, id=uuid.uuid4(), owner_id=user.pk) is None
    names = ("id", "parent_id", "role", "content", "parts", "status", "created_at")
    plain = sorted(map(tuple, rows.select(Message, names, conversation_id=first.conversation.id)), key=str)
    assert plain == sorted(Message.objects.filter(conversation=first.conversation).values_list(*names), key=str)
    assert not rows.has_attachments(first.conversation.id)


def test_siblings_and_attachments_as_the_orm_sees_them(user, emulator_provider) -> None:
    first = _send(user)
    Message.objects.filter(id=first.assistant_message.id).update(status=Message.Status.COMPLETE)
    edited = services.edit(user, request_id=uuid.uuid4(), message_id=first.user_message.id, content="other",
                           runner="")
    family = siblings_of(first.conversation, {first.user_message.id, edited.user_message.id})
    assert family == {first.user_message.id: [str(first.assistant_message.id)],
                      edited.user_message.id: [str(edited.assistant_message.id)]}
    roots = siblings_of(first.conversation, {None})
    assert roots == {None: [str(first.user_message.id), str(edited.user_message.id)]}
    Attachment.objects.create(owner=user, message=edited.user_message, kind=Attachment.Kind.FILE, name="a.txt",
                              mime="text/plain", size=1, tokens=1)
    assert rows.has_attachments(first.conversation.id)


def test_a_prompt_branch_is_the_branch_the_orm_walks(user, emulator_provider) -> None:
    """The prompt's branch (raw rows, keys compared as stored) is the ORM's, on an edited chat whose
    messages have parts, and when the leaf is gone (the newest message then)."""
    first = _send(user)
    Message.objects.filter(id=first.assistant_message.id).update(status=Message.Status.COMPLETE, content="one")
    second = _send(user, first.conversation.id, "two")
    Message.objects.filter(id=second.assistant_message.id).update(status=Message.Status.COMPLETE, content="2")
    part = {"type": "attachment", "id": "x", "kind": "file", "name": "a.txt", "tokens": 3}
    Message.objects.filter(id=second.user_message.id).update(parts=[part])
    edited = services.edit(user, request_id=uuid.uuid4(), message_id=second.user_message.id, content="deux",
                           runner="")
    chat = Conversation.objects.get(id=first.conversation.id)

    def seen(branch):  # type: ignore[no-untyped-def]
        return [(t.id, t.role, t.content, t.parts, t.status) for t in branch]

    prompt = selectors.visible_branch(chat, for_prompt=True)
    assert seen(prompt) == seen(selectors.visible_branch(chat))
    assert [t.id for t in prompt] == [first.user_message.id, first.assistant_message.id, edited.user_message.id,
                                      edited.assistant_message.id]
    chat.current_leaf_id = second.assistant_message.id  # the other branch, with the attachment
    assert seen(selectors.visible_branch(chat, for_prompt=True)) == seen(selectors.visible_branch(chat))
    assert selectors.visible_branch(chat, for_prompt=True)[2].parts == [part]
    chat.current_leaf_id = uuid.uuid4()  # gone: the newest message's branch
    assert seen(selectors.visible_branch(chat, for_prompt=True)) == seen(selectors.visible_branch(chat))
    assert selectors.visible_branch(Conversation(owner=user), for_prompt=True) == []


def test_an_ending_in_plain_sql_stores_what_the_orm_ending_stores(user, emulator_provider) -> None:
    """finish_planned (chat.rows) and finish (the ORM) end two like replies alike: the message, one
    ledger row with its id, the conversation touched, the slot freed, the attempt logged."""
    from gateways.attempts import Attempted
    from gateways.models import Attempt
    from gateways.wire.usage import normalize
    from usage.models import UsageRecord

    raw = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    ending = services.Ending("complete", "a b c", "", "stop", normalize(raw, {}, "auto"), raw, upstream_model="m",
                             ttft_ms=7, duration_ms=9)
    stored = []
    for planned in (True, False):
        started = _send(user)
        plan = services.plan(started.assistant_message, started.conversation, user, started.held)
        attempt = Attempted(plan.routes[0].provider_id, plan.routes[0].route_id, plan.model_slug, "ok", 7)
        before = Conversation.objects.get(id=started.conversation.id).updated_at
        if planned:
            record = services.finish_planned(plan.planned, ending, (attempt,))
        else:
            record = services.finish(started.assistant_message.id, ending, (attempt,))[1]
        reply = Message.objects.get(id=started.assistant_message.id)
        row = UsageRecord.objects.get(message_id=reply.id)
        assert record.pk == row.pk and Conversation.objects.get(id=started.conversation.id).updated_at > before
        assert not Reservation.objects.filter(message_id=reply.id).exists()
        skip = {"id", "created_at", "updated_at", "message", "conversation", "parent", "request_id"}
        stored.append(({f.name: getattr(reply, f.attname) for f in Message._meta.concrete_fields if f.name not in skip},
                       {f.name: getattr(row, f.attname) for f in UsageRecord._meta.concrete_fields
                        if f.name not in skip}))
    assert stored[0] == stored[1] and stored[0][0]["status"] == "complete" and stored[0][1]["total_tokens"] == 15
    assert Attempt.objects.filter(outcome="ok", ttft_ms=7).count() == 2


def test_an_update_of_a_row_gone_fails_as_the_orm_does(user, emulator_provider) -> None:
    first = _send(user)
    chat = first.conversation
    Conversation.objects.filter(id=chat.id).delete()
    with pytest.raises(DatabaseError):
        rows.update(chat, "title", "updated_at")


def test_no_save_signal_is_connected_to_the_rows_written_in_plain_sql() -> None:
    for model in (Message, Conversation):
        assert not pre_save.has_listeners(model) and not post_save.has_listeners(model)


@pytest.mark.django_db(transaction=True)
def test_a_read_in_a_thread_that_ends_leaves_no_connection_behind(user, emulator_provider) -> None:
    """Django's ASGI handler serves each request in a thread of its own, with its own connection:
    a read there must not keep that connection (and its database session) alive after the thread."""
    import gc
    import threading
    import weakref

    from django.db import DEFAULT_DB_ALIAS, connections

    first = _send(user)
    seen: list[weakref.ref[object]] = []
    found: list[list[list[object]]] = []

    def read() -> None:
        found.append(rows.select(Message, ("id", "created_at"), conversation_id=first.conversation.id))
        seen.append(weakref.ref(connections[DEFAULT_DB_ALIAS]))
        connections[DEFAULT_DB_ALIAS].close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    gc.collect()
    assert len(found[0]) == 2
    assert seen[0]() is None
