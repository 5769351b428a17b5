"""Images as the gateways take them: opened by Pillow, turned upright, downscaled, re-encoded.

Gateways take JPEG and PNG up to 20 MiB (UPSTREAM.md); WebP and GIF (its first
frame) become PNG or JPEG here. Re-encoding also drops EXIF metadata (a photo's
GPS position has no business upstream). A bigger image than MAX_SIDE costs no
more tokens (xAI caps an image at 6 tiles) but takes longer to send.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

OPENED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
PLAIN_MODES = {"RGB", "RGBA", "L", "LA", "P"}
THUMB_SIDE = 320  # twice the thread's thumbnail box, for sharp thumbnails on high-density screens


class BadImage(ValueError):
    """The bytes do not open as an image we take; the message is for a person."""


@dataclass(frozen=True)
class Prepared:
    data: bytes
    mime: str
    width: int
    height: int


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def prepare(data: bytes, *, max_side: int, max_pixels: int, name: str = "The image") -> Prepared:
    """Open, check, downscale to fit max_side, and encode as JPEG (photos) or PNG (alpha, drawings)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in OPENED_FORMATS:
                raise BadImage(f"{name} is a {probe.format} image; attach PNG, JPEG, WebP or GIF.")
            if probe.width * probe.height > max_pixels:
                raise BadImage(f"{name} is {probe.width}x{probe.height} pixels, more than we open "
                               f"({max_pixels:,} pixels at most).")
            probe.verify()
        image: Image.Image = Image.open(io.BytesIO(data))
        source = image.format
        if source == "JPEG" and max(image.size) > 2 * max_side:
            image.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale: far less work
        image.load()
    except BadImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"{name} could not be opened as an image (it may be damaged).") from exc
    image = ImageOps.exif_transpose(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    alpha = _has_alpha(image)
    out = io.BytesIO()
    if source == "JPEG" or (source == "WEBP" and not alpha):
        image.convert("RGB").save(out, "JPEG", quality=90)
        mime = "image/jpeg"
    else:
        if image.mode not in PLAIN_MODES or image.mode == "P" and alpha:
            image = image.convert("RGBA" if alpha else "RGB")
        image.save(out, "PNG")
        mime = "image/png"
    return Prepared(out.getvalue(), mime, image.width, image.height)


def thumbnail(data: bytes, side: int = THUMB_SIDE) -> bytes:
    """A small WebP of a prepared image, for the thread: a sent photo is shown at ~200 px, not 2 MB."""
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "WEBP", quality=80)
    return out.getvalue()
