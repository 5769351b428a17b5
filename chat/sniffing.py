"""Pure: what an uploaded file is, judged by its bytes (never by its name alone).

A name that claims a kind the bytes are not (`setup.exe` renamed `cat.png`) is
refused, so nobody is surprised by what was stored or sent upstream.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePath

IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
IMAGE_EXTENSIONS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                    ".webp": "image/webp"}
TEXT_MIME = {".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv"}
KINDS = "PNG, JPEG, WebP or GIF images; PDF; text, Markdown, code or CSV files"


class Unsupported(ValueError):
    """The bytes are not a kind we take, or not the kind the name says; the message is for a person."""


@dataclass(frozen=True)
class Sniffed:
    kind: str  # "image" | "pdf" | "text"
    mime: str


def _magic_image(data: bytes) -> str | None:
    for magic, mime in IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode_text(data: bytes) -> str | None:
    """UTF-8 (a BOM allowed) or BOM-marked UTF-16 text without NUL bytes; None for anything else."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    else:
        if b"\x00" in data:
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    return None if "\x00" in text else text


def sniff(name: str, data: bytes) -> Sniffed:
    """Classify by content; refuse what we cannot read and names that lie about their content."""
    suffix = PurePath(name).suffix.lower()
    claimed_image = IMAGE_EXTENSIONS.get(suffix)
    if not data:
        raise Unsupported(f"{name} is empty.")
    if image := _magic_image(data):
        if suffix == ".pdf":
            raise Unsupported(f"{name} is named like a PDF but is an image.")
        return Sniffed("image", image)
    if claimed_image:
        raise Unsupported(f"{name} is named like an image but its content is not a PNG, JPEG, WebP or GIF image.")
    if data.startswith(b"%PDF-"):
        return Sniffed("pdf", "application/pdf")
    if suffix == ".pdf":
        raise Unsupported(f"{name} is named like a PDF but its content is not a PDF.")
    if decode_text(data) is not None:
        return Sniffed("text", TEXT_MIME.get(suffix, "text/plain"))
    raise Unsupported(f"{name} is not a file we can read. Attach {KINDS}.")
