"""Pure: what an image costs in prompt tokens, as xAI bills it (UPSTREAM.md, Request).

An image is cut into 448x448 tiles, at most 6; it costs (tiles + 1) x 256 prompt
tokens. UPSTREAM.md records no discount for `detail: low`, so none is made. Shared by
the emulator (to bill image parts like xAI does) and the chat (to estimate a prompt).
"""
from __future__ import annotations

import math

TILE = 448
MAX_TILES = 6
TOKENS_PER_TILE = 256
# The formats every gateway accepts (UPSTREAM.md: "jpg/png, at most 20 MiB each").
ACCEPTED_MIME = ("image/jpeg", "image/png")
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def tiles(width: int, height: int) -> int:
    """448x448 tiles covering the image, capped at 6 (a bigger image is read at lower resolution)."""
    if width <= 0 or height <= 0:
        return 0
    return min(MAX_TILES, math.ceil(width / TILE) * math.ceil(height / TILE))


def image_tokens(width: int, height: int) -> int:
    """Prompt tokens one image costs."""
    return (tiles(width, height) + 1) * TOKENS_PER_TILE
