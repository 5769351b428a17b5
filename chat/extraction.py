"""The text a file adds to a prompt: decoded text files, and PDFs' text layer (pypdf)."""
from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from .sniffing import Sniffed, decode_text

log = logging.getLogger(__name__)
logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged PDFs are common; their warnings are noise


class NoText(ValueError):
    """The file gives no text to send; the message is for a person."""


def pdf_text(data: bytes, name: str) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise NoText(f"{name} is password-protected; remove the password and attach it again.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except NoText:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        log.info("unreadable PDF: %s", exc)
        raise NoText(f"{name} could not be read as a PDF (it may be damaged).") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise NoText(f"{name} has no text to read (a scanned PDF has only pictures of pages). "
                     "Attach the pages as images instead, to a model that reads images.")
    return text


def extract(sniffed: Sniffed, data: bytes, name: str) -> str:
    """The file's text; NUL characters removed (PostgreSQL text cannot hold them)."""
    if sniffed.kind == "pdf":
        text = pdf_text(data, name)
    else:
        text = decode_text(data) or ""
    text = text.replace("\x00", "")
    if not text.strip():
        raise NoText(f"{name} has no text in it.")
    return text
