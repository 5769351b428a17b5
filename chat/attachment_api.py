"""Attachments over HTTP: upload (PROTOCOL.md: `POST /api/attachments/` answers `{id, mime, size}`), read, remove.

A file is served only to its owner (another user's id answers 404, like one that does
not exist); staff read them through the admin. Never through a public media URL.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from gateways.wire.codes import ChatError

from . import uploads
from .models import Attachment

router = Router(tags=["attachments"])
MULTIPART_SLACK = 64 * 1024  # the multipart envelope around the file: boundaries, headers, the CSRF field


class AttachmentOut(Schema):
    id: UUID
    mime: str
    size: int  # bytes stored (an image after downscaling)
    kind: str  # "image" | "file" (additions below the PROTOCOL.md fields)
    name: str
    tokens: int  # estimated prompt tokens: an image as xAI bills it, a file's text at ~4 characters a token
    width: int | None = None
    height: int | None = None
    url: str  # owner-only
    thumb_url: str | None = None  # images: a small WebP for the thread


class ErrorOut(Schema):
    detail: str
    code: str


def attachment_out(attachment: Attachment) -> dict[str, Any]:
    return {"id": attachment.id, "mime": attachment.mime, "size": attachment.size, "kind": attachment.kind,
            "name": attachment.name, "tokens": attachment.tokens, "width": attachment.width,
            "height": attachment.height, "url": f"/api/attachments/{attachment.id}/",
            "thumb_url": f"/api/attachments/{attachment.id}/thumb" if attachment.kind == Attachment.Kind.IMAGE
            else None}


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "PNG, JPEG, WebP or GIF image; PDF; text, Markdown, code or CSV file. "
                                           "At most ATTACHMENT_MAX_BYTES (10 MiB by default)."}}}}}}}


@router.post("/attachments/", response={201: AttachmentOut, 400: ErrorOut, 413: ErrorOut}, openapi_extra=UPLOAD_BODY,
             summary="Upload an image or a file to send with a message (field `file`)")
def upload(request: HttpRequest) -> tuple[int, dict[str, Any]]:
    """Checked by content, not by name; images downscaled and re-encoded; files' text extracted.

    A refused upload stores nothing. A body bigger than the limit is refused before it is read.
    """
    cap = uploads.limits()["MAX_BYTES"]
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap + MULTIPART_SLACK:
        error = uploads.too_big("The file", declared)
        return 413, {"detail": error.detail, "code": error.code}
    file = request.FILES.get("file")
    if file is None:
        return 400, {"detail": "Send the file as multipart form data in the field `file`.", "code": "bad_request"}
    try:
        if file.size is not None and file.size > cap:
            raise uploads.too_big(uploads.clean_name(file.name or "file"), file.size)
        attachment = uploads.store(request.user, file.name or "file", file.read())
    except ChatError as exc:
        return (413 if exc.code == "too_large" else 400), {"detail": exc.detail, "code": exc.code}
    return 201, attachment_out(attachment)


def _own(request: HttpRequest, attachment_id: UUID) -> Attachment:
    attachment = uploads.owned(request.user, attachment_id)
    if attachment is None:
        raise HttpError(404, "Not found.")
    return attachment


def file_response(attachment: Attachment) -> FileResponse:
    """The stored bytes, never sniffed or run by the browser: images inline, other files as downloads."""
    image = attachment.kind == Attachment.Kind.IMAGE
    response = FileResponse(attachment.file.open("rb"), as_attachment=not image, filename=attachment.name,
                            content_type=attachment.mime if image or attachment.mime == "application/pdf"
                            else "text/plain; charset=utf-8")
    return _guarded(response)


def _guarded(response: FileResponse) -> FileResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    return response


@router.get("/attachments/{attachment_id}/", response={200: None, 404: ErrorOut},
            summary="One of the user's own attachments (the image, or the file as a download)")
def read(request: HttpRequest, attachment_id: UUID) -> FileResponse:
    return file_response(_own(request, attachment_id))


@router.get("/attachments/{attachment_id}/thumb", response={200: None, 404: ErrorOut},
            summary="An image's thumbnail (WebP, 320 px at most a side); the image itself if it has none")
def thumb(request: HttpRequest, attachment_id: UUID) -> FileResponse:
    attachment = _own(request, attachment_id)
    name = uploads.thumb_name(attachment.file.name)
    storage = attachment.file.storage
    if attachment.kind != Attachment.Kind.IMAGE or not storage.exists(name):
        return file_response(attachment)
    return _guarded(FileResponse(storage.open(name, "rb"), content_type="image/webp"))


@router.get("/attachments/{attachment_id}/info", response=AttachmentOut, summary="What an upload is")
def info(request: HttpRequest, attachment_id: UUID) -> dict[str, Any]:
    return attachment_out(_own(request, attachment_id))


@router.delete("/attachments/{attachment_id}/", response={204: None, 400: ErrorOut},
               summary="Remove an upload not yet sent (one that was sent stays with its message)")
def remove(request: HttpRequest, attachment_id: UUID) -> tuple[int, Any]:
    attachment = _own(request, attachment_id)
    if attachment.message_id is not None:
        return 400, {"detail": "This attachment was sent with a message; it stays with it.", "code": "bad_request"}
    attachment.delete()
    return 204, None
