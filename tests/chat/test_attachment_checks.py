"""Pure checks of uploads: sniffing by content, Pillow's downscale, pypdf's text, image tokens, prompts."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from chat import extraction, imaging, sniffing
from chat.prompting import Attached, upstream_messages
from chat.selectors import PromptTurn
from gateways.wire.images import image_tokens
from tests.chat.attachment_files import EXE, image, pdf


@pytest.mark.parametrize(("name", "data", "kind", "mime"), [
    ("cat.png", image("PNG"), "image", "image/png"),
    ("photo.JPG", image("JPEG"), "image", "image/jpeg"),
    ("anim.gif", image("GIF"), "image", "image/gif"),
    ("pic.webp", image("WEBP"), "image", "image/webp"),
    ("no-extension", image("PNG"), "image", "image/png"),  # by content: a name is not needed
    ("notes.md", b"# Title\n\nSome *markdown*.", "text", "text/markdown"),
    ("data.csv", "name,city\nZo\u00eb,K\u00f6ln\n".encode(), "text", "text/csv"),
    ("main.py", b"\xef\xbb\xbfprint('hi')\n", "text", "text/plain"),
    ("paper.pdf", pdf("Hello"), "pdf", "application/pdf"),
])
def test_files_are_known_by_their_bytes(name: str, data: bytes, kind: str, mime: str) -> None:
    assert sniffing.sniff(name, data) == sniffing.Sniffed(kind, mime)


@pytest.mark.parametrize(("name", "data", "says"), [
    ("cat.png", EXE, "named like an image"),  # an EXE renamed to .png
    ("cat.png", b"just some text", "named like an image"),
    ("paper.pdf", b"plain text, not a PDF", "named like a PDF"),
    ("paper.pdf", image("PNG"), "named like a PDF"),
    ("setup.exe", EXE, "not a file we can read"),
    ("latin1.txt", "caf\u00e9".encode("latin-1"), "not a file we can read"),
    ("empty.txt", b"", "is empty"),
])
def test_content_that_is_not_what_we_take_or_not_what_the_name_says_is_refused(name: str, data: bytes,
                                                                                 says: str) -> None:
    with pytest.raises(sniffing.Unsupported, match=says):
        sniffing.sniff(name, data)


def _open(prepared: imaging.Prepared) -> Image.Image:
    return Image.open(io.BytesIO(prepared.data))


def test_a_big_photo_is_downscaled_to_the_longest_side_and_stays_jpeg() -> None:
    prepared = imaging.prepare(image("JPEG", (4000, 1000)), max_side=2048, max_pixels=50_000_000)
    assert (prepared.mime, prepared.width, prepared.height) == ("image/jpeg", 2048, 512)
    assert _open(prepared).format == "JPEG" and _open(prepared).size == (2048, 512)


def test_webp_and_gif_become_formats_the_gateways_take() -> None:
    webp = imaging.prepare(image("WEBP", (100, 80)), max_side=2048, max_pixels=50_000_000)
    transparent = imaging.prepare(image("WEBP", (100, 80), mode="RGBA", colour=(0, 0, 0, 0)), max_side=2048,
                                  max_pixels=50_000_000)
    gif = imaging.prepare(image("GIF", (30, 30)), max_side=2048, max_pixels=50_000_000)
    assert (webp.mime, transparent.mime, gif.mime) == ("image/jpeg", "image/png", "image/png")
    assert _open(transparent).mode == "RGBA" and _open(gif).format == "PNG"


def test_a_small_image_keeps_its_size() -> None:
    prepared = imaging.prepare(image("PNG", (300, 200)), max_side=2048, max_pixels=50_000_000)
    assert (prepared.width, prepared.height, prepared.mime) == (300, 200, "image/png")


def test_an_image_with_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(imaging.BadImage, match="pixels"):
        imaging.prepare(image("PNG", (1000, 1000)), max_side=2048, max_pixels=999_999)


def test_a_damaged_image_is_refused() -> None:
    data = image("PNG", (200, 200))
    with pytest.raises(imaging.BadImage, match="could not be opened"):
        imaging.prepare(data[:60], max_side=2048, max_pixels=50_000_000)


def test_a_pdf_gives_its_text_and_one_without_text_is_refused() -> None:
    assert extraction.extract(sniffing.Sniffed("pdf", "application/pdf"), pdf("Quarterly numbers"), "q.pdf") == (
        "Quarterly numbers")
    with pytest.raises(extraction.NoText, match="scan.pdf has no text"):
        extraction.extract(sniffing.Sniffed("pdf", "application/pdf"), pdf(None), "scan.pdf")
    with pytest.raises(extraction.NoText, match="could not be read"):
        extraction.extract(sniffing.Sniffed("pdf", "application/pdf"), b"%PDF-1.4 garbage", "bad.pdf")


@pytest.mark.parametrize(("size", "tokens"), [
    ((448, 448), 512),  # one tile: (1 + 1) x 256
    ((449, 448), 768),  # two tiles
    ((1344, 896), 1792),  # six tiles, the most
    ((2048, 2048), 1792),  # capped at six
])
def test_images_cost_what_xai_bills(size: tuple[int, int], tokens: int) -> None:
    assert image_tokens(*size) == tokens


def _turn(role: str, content: str, parts: list[dict[str, object]] | None = None) -> PromptTurn:
    return PromptTurn(None, role, content, parts or [], "complete")  # type: ignore[arg-type]


def test_files_go_into_the_prompt_with_their_names_and_images_as_image_url_parts() -> None:
    parts = [{"type": "attachment", "id": "f1", "kind": "file", "name": "notes.md"},
             {"type": "attachment", "id": "i1", "kind": "image", "name": "cat.png"}]
    attached = {"f1": Attached("file", "notes.md", text="# Plan\nship it"),
                "i1": Attached("image", "cat.png", data_url="data:image/png;base64,AAAA")}
    messages = upstream_messages("Be brief.", [_turn("user", "What do these say?", parts)], attached)
    assert messages[1] == {"role": "user", "content": [
        {"type": "text", "text": '<file name="notes.md">\n# Plan\nship it\n</file>\n\nWhat do these say?'},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}},
    ]}


def test_a_message_with_only_a_file_is_plain_text_and_a_lost_attachment_is_said() -> None:
    only_file = [{"type": "attachment", "id": "f1", "kind": "file", "name": "a.txt"}]
    lost = [{"type": "attachment", "id": "gone", "kind": "image", "name": "old.png"}]
    messages = upstream_messages("", [_turn("user", "", only_file), _turn("user", "and this?", lost)],
                                 {"f1": Attached("file", "a.txt", text="alpha")})
    assert messages[0]["content"] == '<file name="a.txt">\nalpha\n</file>'
    assert messages[1]["content"] == "[The attachment old.png is no longer available.]\n\nand this?"
