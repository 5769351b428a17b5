"""Re-price the ledger rows of a date range from the dated prices (explicit and logged)."""
from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from usage.dates import parse_day
from usage.money import format_usd
from usage.repricing import reprice


class Command(BaseCommand):
    help = ("Recompute cost_ticks of ledger rows in [--from, --to] from the dated prices (gateways.Price) "
            "and rebuild the rollups of the days that changed. Every run is logged (RepriceRun).")

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--provider", default="", help="only this provider (its name)")
        parser.add_argument("--model", default="", help="only this model (its slug)")
        parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            first, last = parse_day(options["start"], "from"), parse_day(options["end"], "to")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if first > last:
            raise CommandError("--from is after --to.")
        try:
            who = getpass.getuser()
        except Exception:  # no login name in some containers
            who = ""
        outcome = reprice(first, last, provider=options["provider"], model_slug=options["model"],
                          dry_run=options["dry_run"], invoked_by=f"manage.py reprice_usage ({who})")
        run = outcome.run
        for slug, (rows, old, new) in outcome.by_model.items():
            self.stdout.write(f"  {slug}: {rows} rows, {format_usd(old)} -> {format_usd(new)} USD")
        verb = "Would change" if run.dry_run else "Changed"
        self.stdout.write(
            f"{verb} {run.rows_changed} of {run.rows_seen} ledger rows from {first} to {last}: "
            f"{format_usd(run.old_cost_ticks)} -> {format_usd(run.new_cost_ticks)} USD "
            f"(difference {format_usd(run.difference_ticks)} USD)."
            + (" Dry run: nothing was written." if run.dry_run else f" Rollups rebuilt for {len(outcome.days)} day(s).")
        )
