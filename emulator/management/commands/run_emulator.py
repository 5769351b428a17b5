"""`manage.py run_emulator`: the Grok gateway emulator on its own port."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from emulator import emulation
from emulator.app import serve


class Command(BaseCommand):
    help = "Serve the built-in Grok gateway emulator (xAI, AI/ML API or reseller flavour) on a port."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--flavour", choices=emulation.FLAVOURS, default="xai")
        parser.add_argument("--delay-scale", type=float, default=1.0)

    def handle(self, *args: Any, **options: Any) -> None:
        serve(options["host"], options["port"], options["flavour"], options["delay_scale"])
