"""What an attachment costs the server: POST /api/attachments/ for typical uploads.

    .venv/bin/python bench/uploads.py [--repeat 3]

Each upload goes through the real view (Django test client, a fresh SQLite database and a
temporary MEDIA_ROOT): size checks, sniffing, Pillow's downscale and re-encode, pypdf's text
extraction, the file write and the row. Prints the median wall time and CPU time per upload,
what was stored, and the prompt tokens it will cost. Inputs are made here, deterministic:
a noisy 4000x3000 photo (JPEG's worst case), a 1920x1080 screenshot-like PNG, a 1 MB CSV,
a 40-page PDF with a text layer.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="grokweb-uploads-"))
os.environ["DATABASE_URL"] = f"sqlite:///{TMP / 'uploads.sqlite3'}"
os.environ["MEDIA_ROOT"] = str(TMP / "media")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
os.environ["READ_DOTENV"] = "false"
os.environ["LOG_LEVEL"] = "WARNING"
os.environ.pop("REDIS_URL", None)

import django

django.setup()
warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed for the API

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


def photo() -> bytes:
    rng = random.Random(1)
    image = Image.frombytes("RGB", (4000, 3000), rng.randbytes(4000 * 3000 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def screenshot() -> bytes:
    image = Image.new("RGB", (1920, 1080), (250, 250, 252))
    draw = ImageDraw.Draw(image)
    for row in range(0, 1080, 24):
        draw.text((20, row), f"line {row // 24}: the quick brown fox jumps over the lazy dog " * 3, fill=(30, 30, 30))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def csv() -> bytes:
    rng = random.Random(2)
    rows = ["day,region,units,price"] + [f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
                                         f"r{rng.randint(1, 40)},{rng.randint(1, 999)},{rng.random() * 100:.2f}"
                                         for _ in range(30_000)]
    return ("\n".join(rows) + "\n").encode()


def pdf(pages: int = 40) -> bytes:
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for number in range(pages):
        page = writer.add_blank_page(width=595, height=842)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
            {NameObject("/F1"): font})})
        text = "quarterly figures and notes"
        lines = " ".join(f"BT /F1 10 Tf 40 {800 - 14 * i} Td (Page {number} line {i}: {text}) Tj ET" for i in range(55))
        stream = DecodedStreamObject()
        stream.set_data(lines.encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from accounts.models import User

    user = User.objects.create_user("bench", "bench@example.com", "bench password 123")
    client = Client()
    client.force_login(user)
    inputs = [("photo.jpg", photo()), ("screenshot.png", screenshot()), ("sales.csv", csv()),
              ("report.pdf", pdf())]
    print(f"{'upload':<16} {'in':>9} {'wall ms':>8} {'cpu ms':>7} {'stored':>9} {'tokens':>8}  as")
    for name, data in inputs:
        walls, cpus, body = [], [], {}
        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.post("/api/attachments/", {"file": SimpleUploadedFile(name, data)})
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            assert response.status_code == 201, response.content
            body = response.json()
        shape = f"{body['mime']} {body['width']}x{body['height']}" if body["kind"] == "image" else body["mime"]
        print(f"{name:<16} {len(data) / 1e6:>7.2f}MB {statistics.median(walls):>8.0f} {statistics.median(cpus):>7.0f} "
              f"{body['size'] / 1e6:>7.2f}MB {body['tokens']:>8,}  {shape}")


if __name__ == "__main__":
    main()
