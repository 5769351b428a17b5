"""Attachments over HTTP and the websocket: upload, owner-only reads, send to the emulator, bad input."""
from __future__ import annotations

import base64
import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from chat import uploads
from chat.models import Attachment, Conversation, Message
from tests.chat.attachment_files import EXE, image, pdf
from tests.chat.wsclient import open_socket
from usage.models import UsageRecord

db = database_sync_to_async


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def upload(client: Client, name: str, data: bytes, content_type: str = "application/octet-stream"):  # type: ignore[no-untyped-def]
    return client.post("/api/attachments/", {"file": SimpleUploadedFile(name, data, content_type=content_type)})


@pytest.mark.django_db
def test_an_image_upload_answers_id_mime_size_and_only_its_owner_reads_it(logged_in, make_user, media) -> None:
    response = upload(logged_in, "holiday.webp", image("WEBP", (3000, 1500)), "image/webp")
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "mime", "size"} and body["mime"] == "image/jpeg" and body["kind"] == "image"
    assert (body["width"], body["height"], body["tokens"]) == (2048, 1024, (6 + 1) * 256)
    got = logged_in.get(f"/api/attachments/{body['id']}/")
    data = b"".join(got.streaming_content)
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg" and len(data) == body["size"]
    assert got["X-Content-Type-Options"] == "nosniff" and "sandbox" in got["Content-Security-Policy"]
    assert Image.open(io.BytesIO(data)).size == (2048, 1024)
    other = Client()
    other.force_login(make_user("mallory"))
    assert other.get(f"/api/attachments/{body['id']}/").status_code == 404
    assert Client().get(f"/api/attachments/{body['id']}/").status_code == 401
    assert "media" not in got["Content-Disposition"]
    thumb = logged_in.get(body["thumb_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size == (320, 160)
    assert other.get(body["thumb_url"]).status_code == 404
    assert len(stored_files(media)) == 2  # the image and its thumbnail


@pytest.mark.django_db
def test_a_text_file_is_stored_with_its_text_and_served_as_plain_text_download(logged_in) -> None:
    body = upload(logged_in, "notes.md", b"# Plan\n\n<script>alert(1)</script>").json()
    assert (body["kind"], body["mime"], body["tokens"]) == ("file", "text/markdown", 9)
    got = logged_in.get(f"/api/attachments/{body['id']}/")
    assert got["Content-Type"] == "text/plain; charset=utf-8" and got["Content-Disposition"].startswith("attachment")
    assert Attachment.objects.get(id=body["id"]).text.startswith("# Plan")


@pytest.mark.django_db
def test_staff_open_an_attachment_through_the_admin(make_user, logged_in) -> None:
    body = upload(logged_in, "cat.png", image("PNG")).json()
    staff = Client()
    staff.force_login(make_user("root", is_staff=True, is_superuser=True))
    assert staff.get(f"/admin/chat/attachment/{body['id']}/file/").status_code == 200
    assert staff.get(f"/admin/chat/attachment/{body['id']}/change/").status_code == 200
    assert staff.get(f"/api/attachments/{body['id']}/").status_code == 404  # the API is the owner's only


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data", "status", "says"), [
    ("cat.png", EXE, 400, "named like an image"),
    ("scan.pdf", pdf(None), 400, "has no text"),
    ("setup.exe", EXE, 400, "not a file we can read"),
    ("broken.png", image("PNG", (300, 300))[:80], 400, "could not be opened"),
])
def test_bad_uploads_get_a_clear_message_and_store_nothing(logged_in, media, name, data, status, says) -> None:
    response = upload(logged_in, name, data)
    assert response.status_code == status and says in response.json()["detail"]
    assert Attachment.objects.count() == 0 and stored_files(media) == []


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(logged_in, media, settings) -> None:
    big = b"a" * (50 * 1024 * 1024)  # 50 MiB against the default 10 MiB
    response = upload(logged_in, "huge.txt", big)
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert "10.0 MiB" in response.json()["detail"]
    settings.ATTACHMENT_MAX_BYTES = 1000  # under the multipart slack: the file's own size is checked too
    response = upload(logged_in, "small.txt", b"b" * 1001)
    assert response.status_code == 413 and "small.txt" in response.json()["detail"]
    assert Attachment.objects.count() == 0 and stored_files(media) == []


@pytest.mark.django_db
def test_an_upload_needs_the_csrf_token_and_a_file_field(user) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert upload(strict, "a.txt", b"hello").status_code == 403
    lax = Client()
    lax.force_login(user)
    assert lax.post("/api/attachments/", {"other": "x"}).status_code == 400
    assert Attachment.objects.count() == 0


@pytest.mark.django_db
def test_an_unsent_upload_can_be_removed_and_stale_ones_are_pruned_with_their_files(
        logged_in, media, django_capture_on_commit_callbacks) -> None:
    first = upload(logged_in, "a.txt", b"one").json()
    second = upload(logged_in, "b.png", image("PNG")).json()  # an image: its thumbnail goes too
    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion is committed
        assert logged_in.delete(f"/api/attachments/{first['id']}/").status_code == 204
    Attachment.objects.filter(id=second["id"]).update(created_at=timezone.now() - timedelta(days=2))
    fresh = upload(logged_in, "c.txt", b"three").json()
    with django_capture_on_commit_callbacks(execute=True):
        assert uploads.prune() == 1
    assert list(Attachment.objects.values_list("id", flat=True)) == [uuid.UUID(fresh["id"])]
    assert [p.name for p in stored_files(media)] == [f"{fresh['id']}.txt"]


@pytest.mark.django_db
def test_the_openapi_schema_documents_the_upload(logged_in) -> None:
    schema = logged_in.get("/api/openapi.json").json()
    post = schema["paths"]["/api/attachments/"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"id", "mime", "size"} <= set(schema["components"]["schemas"]["AttachmentOut"]["properties"])


# Through the websocket, to the emulator -------------------------------------------------------


def _store(user, name: str, data: bytes) -> Attachment:  # type: ignore[no-untyped-def]
    return uploads.store(user, name, data)


@pytest.mark.django_db(transaction=True)
async def test_an_image_reaches_a_vision_model_and_its_tokens_are_billed(user, emulator_provider) -> None:
    picture = await db(_store)(user, "chart.png", image("PNG", (900, 400)))  # 3 x 1 tiles: (3 + 1) x 256
    notes = await db(_store)(user, "notes.csv", b"month,sales\njan,3\n")
    socket = await open_socket(user)
    created = await socket.chat("What does the chart show? [[tokens=20]]", model="grok-4-1-fast-non-reasoning",
                                attachments=[str(picture.id), str(notes.id)])
    sent = created["user_message"]["attachments"]
    assert [(a["name"], a["kind"]) for a in sent] == [("chart.png", "image"), ("notes.csv", "file")]
    assert sent[0]["url"] == f"/api/attachments/{picture.id}/"
    done = await socket.until("message.done", message=created["assistant_message"]["id"])
    assert done["content"].startswith("I see 1 image (900x400).")
    record = await db(UsageRecord.objects.get)(message_id=created["assistant_message"]["id"])
    assert record.image_tokens == 1024 and record.prompt_tokens > 1024
    assert done["usage"]["image_tokens"] == 1024
    bound = await db(lambda: set(Attachment.objects.values_list("message_id", flat=True)))()
    assert bound == {uuid.UUID(created["user_message"]["id"])}
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_an_image_to_a_text_only_model_is_refused_before_any_upstream_call(user, emulator_provider) -> None:
    picture = await db(_store)(user, "cat.png", image("PNG"))
    socket = await open_socket(user)
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "content": "Describe", "model": "grok-3-mini",
                       "attachments": [str(picture.id)]})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "bad_request" and "cannot read images" in error["detail"]
    assert "grok-4-1-fast-non-reasoning" in error["vision_models"]
    assert await db(Message.objects.count)() == 0 and await db(UsageRecord.objects.count)() == 0
    assert await db(Attachment.objects.filter(message__isnull=True).count)() == 1  # still there to send again
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_a_file_bigger_than_the_context_is_refused_not_cut(user, emulator_provider) -> None:
    book = await db(_store)(user, "book.txt", b"word " * 120_000)  # ~150,000 tokens; grok-3-mini reads 131,072
    socket = await open_socket(user)
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "content": "Summarise", "model": "grok-3-mini",
                       "attachments": [str(book.id)]})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "context_too_long" and "book.txt is about 150,000 tokens" in error["detail"]
    assert await db(Message.objects.count)() == 0 and await db(Conversation.objects.count)() == 0
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_someone_elses_or_a_sent_attachment_is_not_found(user, make_user, emulator_provider) -> None:
    theirs = await db(_store)(await db(make_user)("bob"), "secret.txt", b"plans")
    socket = await open_socket(user)
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "content": "read it",
                       "attachments": [str(theirs.id)]})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "not_found" and "secret" not in error["detail"]
    assert await db(Message.objects.count)() == 0
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_regenerate_and_edit_keep_the_attachments_and_a_model_switch_is_checked(user, emulator_provider) -> None:
    picture = await db(_store)(user, "cat.png", image("PNG", (100, 100)))
    socket = await open_socket(user)
    created = await socket.chat("What is it? [[tokens=5]]", model="grok-4-fast-non-reasoning",
                                attachments=[str(picture.id)])
    first = created["assistant_message"]["id"]
    await socket.until("message.done", message=first)
    request_id = str(uuid.uuid4())
    await socket.send({"type": "regenerate", "request_id": request_id, "message": first})
    again = await socket.until("message.created", request_id=request_id)
    done = await socket.until("message.done", message=again["assistant_message"]["id"])
    assert done["content"].startswith("I see 1 image")
    request_id = str(uuid.uuid4())
    await socket.send({"type": "edit", "request_id": request_id, "message": created["user_message"]["id"],
                       "content": "And now? [[tokens=5]]"})
    edited = await socket.until("message.created", request_id=request_id)
    assert [a["id"] for a in edited["user_message"]["attachments"]] == [str(picture.id)]
    done = await socket.until("message.done", message=edited["assistant_message"]["id"])
    assert done["content"].startswith("I see 1 image")
    request_id = str(uuid.uuid4())
    await socket.send({"type": "regenerate", "request_id": request_id, "message": first, "model": "grok-3-mini"})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "bad_request" and "cannot read images" in error["detail"]
    await socket.close()


def test_the_data_url_is_the_stored_image_base64() -> None:
    stored = image("PNG", (10, 10))
    url = "data:image/png;base64," + base64.b64encode(stored).decode()
    assert base64.b64decode(url.split(",", 1)[1]) == stored
