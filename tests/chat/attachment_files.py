"""Files for attachment tests, made in memory: images by Pillow, PDFs by pypdf."""
from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), mode: str = "RGB",
          colour: object = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt)  # type: ignore[arg-type]
    return out.getvalue()


def pdf(text: str | None) -> bytes:
    """A one-page PDF; with `text`, a text layer saying it (Helvetica), without, a blank page (like a scan)."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    if text is not None:
        font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                                 NameObject("/BaseFont"): NameObject("/Helvetica")})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
            {NameObject("/F1"): writer._add_object(font)})})
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


EXE = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
       + b"This program cannot be run in DOS mode.")
