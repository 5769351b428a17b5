"""Image parts as a vision gateway reads them: data: URLs of JPEG or PNG, billed in 448 px tiles.

Pillow reads the size from the bytes, so the tokens billed are those xAI would bill
(gateways.wire.images). A URL the emulator cannot fetch (it never goes online) is
billed as a full-size image.
"""
from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from gateways.wire.images import ACCEPTED_MIME, MAX_IMAGE_BYTES, MAX_TILES, TILE, image_tokens


class BadImagePart(ValueError):
    """A part a real gateway answers 400 to."""


@dataclass(frozen=True)
class Seen:
    width: int
    height: int
    detail: str

    @property
    def tokens(self) -> int:
        return image_tokens(self.width, self.height)


def image_parts(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return []
    return [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]


def read(part: dict[str, Any]) -> Seen:
    image_url = part.get("image_url")
    if not isinstance(image_url, dict) or not isinstance(image_url.get("url"), str):
        raise BadImagePart("image_url.url must be a string.")
    url, detail = image_url["url"], str(image_url.get("detail") or "auto")
    if url.startswith(("https://", "http://")):
        return Seen(TILE * 3, TILE * 2, detail)  # not fetched: billed as an image of the most tiles
    if not url.startswith("data:"):
        raise BadImagePart("image_url.url must be an https URL or a data: URL.")
    header, _, payload = url.partition(",")
    mime = header[5:].split(";", 1)[0]
    if mime not in ACCEPTED_MIME or ";base64" not in header:
        raise BadImagePart(f"Unsupported image type {mime or 'unknown'}: send image/jpeg or image/png, base64.")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadImagePart("The image's base64 data is not valid.") from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise BadImagePart(f"Image too large: {len(raw)} bytes (at most {MAX_IMAGE_BYTES}).")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format not in ("JPEG", "PNG"):
                raise BadImagePart(f"Unsupported image format {image.format}: send JPEG or PNG.")
            return Seen(image.width, image.height, detail)
    except (UnidentifiedImageError, OSError) as exc:
        raise BadImagePart("The image could not be decoded.") from exc


def tokens_of(content: Any) -> int:
    """Prompt tokens of the images in one message's content (unreadable ones count nothing: they are refused)."""
    total = 0
    for part in image_parts(content):
        try:
            total += read(part).tokens
        except BadImagePart:
            continue
    return total


__all__ = ["MAX_TILES", "BadImagePart", "Seen", "image_parts", "read", "tokens_of"]
