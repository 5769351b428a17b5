"""Attachments: store an upload (checked, downscaled, its text extracted), bind it to a message, prune.

Sync, like the other services. Nothing is stored unless the whole file passed:
a refused upload leaves no row and no file.
"""
from __future__ import annotations

import base64
import logging
import math
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from gateways.wire.codes import ChatError
from gateways.wire.images import image_tokens
from gateways.wire.usage import CHARS_PER_TOKEN

from . import extraction, imaging, sniffing
from .models import Attachment, Message
from .prompting import Attached

log = logging.getLogger(__name__)
KEEP_UNSENT = timedelta(days=1)


def limits() -> dict[str, int]:
    """The ATTACHMENT_* settings, read at each call (tests and operators change them)."""
    return {"MAX_BYTES": settings.ATTACHMENT_MAX_BYTES, "MAX_PER_MESSAGE": settings.ATTACHMENT_MAX_PER_MESSAGE,
            "IMAGE_MAX_SIDE": settings.ATTACHMENT_IMAGE_MAX_SIDE,
            "IMAGE_MAX_PIXELS": settings.ATTACHMENT_IMAGE_MAX_PIXELS}


def mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def too_big(name: str, size: int) -> ChatError:
    cap = limits()["MAX_BYTES"]
    return ChatError("too_large", f"{name} is {mib(size)}; attachments are limited to {mib(cap)}.")


def clean_name(name: str) -> str:
    """The name shown and put in the prompt: no path, no control characters, not too long."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "file"
    return name[-120:]


def store(user: Any, name: str, data: bytes) -> Attachment:
    """Check and store one upload for `user`; raises ChatError (bad_request, too_large) and stores nothing."""
    name = clean_name(name)
    thumb: bytes | None = None
    if len(data) > limits()["MAX_BYTES"]:
        raise too_big(name, len(data))
    try:
        sniffed = sniffing.sniff(name, data)
        if sniffed.kind == "image":
            image = imaging.prepare(data, max_side=limits()["IMAGE_MAX_SIDE"], max_pixels=limits()["IMAGE_MAX_PIXELS"],
                                    name=name)
            attachment = Attachment(owner=user, kind=Attachment.Kind.IMAGE, name=name, mime=image.mime,
                                    size=len(image.data), width=image.width, height=image.height,
                                    tokens=image_tokens(image.width, image.height))
            stored = image.data
            thumb = imaging.thumbnail(image.data)
        else:
            text = extraction.extract(sniffed, data, name)
            attachment = Attachment(owner=user, kind=Attachment.Kind.FILE, name=name, mime=sniffed.mime,
                                    size=len(data), text=text, tokens=math.ceil(len(text) / CHARS_PER_TOKEN))
            stored = data
    except (sniffing.Unsupported, imaging.BadImage, extraction.NoText) as exc:
        raise ChatError("bad_request", str(exc)) from exc
    attachment.file.save(attachment.extension, ContentFile(stored), save=False)
    try:
        if thumb is not None:
            attachment.file.storage.save(thumb_name(attachment.file.name), ContentFile(thumb))
        attachment.save()
    except Exception:
        remove_files(attachment.file.storage, attachment.file.name)
        raise
    return attachment


def thumb_name(name: str) -> str:
    """Where an image's thumbnail is stored: beside it, named after it (no column needed)."""
    return f"{name}.thumb.webp"


def remove_files(storage: Any, name: str) -> None:
    for path in (name, thumb_name(name)):
        if storage.exists(path):
            storage.delete(path)


def owned(user: Any, attachment_id: Any) -> Attachment | None:
    return Attachment.objects.filter(id=attachment_id, owner=user).first()


def unsent(user: Any, ids: Sequence[UUID]) -> list[Attachment]:
    """The user's attachments not yet sent, in the order given; a missing one is a clear error."""
    if len(ids) > limits()["MAX_PER_MESSAGE"]:
        raise ChatError("bad_request", f"A message takes at most {limits()['MAX_PER_MESSAGE']} attachments.")
    ids = list(dict.fromkeys(ids))
    found = {a.id: a for a in Attachment.objects.filter(id__in=ids, owner=user, message__isnull=True)}
    if len(found) != len(ids):
        raise ChatError("not_found", "An attachment is missing (already sent, or expired): attach it again.")
    return [found[i] for i in ids]


def bind(attachments: Sequence[Attachment], message: Message) -> None:
    """Give the attachments to the message that sends them (inside send's transaction)."""
    ids = [a.id for a in attachments]
    if Attachment.objects.filter(id__in=ids, message__isnull=True).update(message=message) != len(ids):
        raise ChatError("not_found", "An attachment was just sent by another tab: attach it again.")


def refs(attachments: Iterable[Attachment]) -> list[dict[str, Any]]:
    """What a message's `parts` keeps of its attachments (copied by an edit, so the new message keeps them)."""
    return [{"type": "attachment", "id": str(a.id), "kind": a.kind, "name": a.name, "mime": a.mime, "size": a.size,
             "tokens": a.tokens} for a in attachments]


def ids_in(turns: Iterable[Any]) -> list[str]:
    return [p["id"] for turn in turns for p in (turn.parts or [])
            if isinstance(p, dict) and p.get("type") == "attachment"]


def data_url(attachment: Attachment) -> str:
    with attachment.file.open("rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    return f"data:{attachment.mime};base64,{encoded}"


def attached(owner_id: int, ids: Iterable[str], *, images: bool = True) -> dict[str, Attached]:
    """What the prompt needs of these attachments; `images=False` skips reading image files (estimates)."""
    out: dict[str, Attached] = {}
    for attachment in Attachment.objects.filter(id__in=list(ids), owner_id=owner_id):
        url = ""
        if images and attachment.kind == Attachment.Kind.IMAGE:
            try:
                url = data_url(attachment)
            except OSError:
                log.warning("attachment %s: its file is gone", attachment.id)
                continue
        out[str(attachment.id)] = Attached(attachment.kind, attachment.name, attachment.text, url, attachment.tokens)
    return out


def prune(older_than: timedelta = KEEP_UNSENT) -> int:
    """Delete attachments never sent (their files go with them: receivers.delete_attachment_file)."""
    stale = Attachment.objects.filter(message__isnull=True, created_at__lt=timezone.now() - older_than)
    deleted = 0
    for attachment in stale.iterator():
        with transaction.atomic():
            attachment.delete()
        deleted += 1
    return deleted
