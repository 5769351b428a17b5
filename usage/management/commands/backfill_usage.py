"""Build the daily usage rollups for a date range from the ledger (idempotent)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Min
from django.utils import timezone

from usage import rollups
from usage.dates import parse_day
from usage.models import UsageRecord


class Command(BaseCommand):
    help = "Rebuild usage rollups for a range of days (default: from the first ledger row to today)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default today)")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            last = parse_day(options["end"], "to") if options["end"] else timezone.localdate()
            if options["start"]:
                first = parse_day(options["start"], "from")
            else:
                oldest = UsageRecord.objects.aggregate(m=Min("created_at"))["m"]
                first = timezone.localtime(oldest).date() if oldest else last
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if first > last:
            raise CommandError("--from is after --to.")
        written = rollups.backfill(first, last)
        days = (last - first).days + 1
        self.stdout.write(f"Rolled up {days} day(s) from {first} to {last}: {written} rollup rows.")
