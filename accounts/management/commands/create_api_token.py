"""manage.py create_api_token USERNAME --name NAME [--expires-days N] [--model SLUG ...]

For automation: the token is printed alone on the last line, so `| tail -n 1` captures it.
It is shown only this once (only its hash is stored).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import tokens
from accounts.access import models_for
from accounts.status import refusal


class Command(BaseCommand):
    help = "Create a personal access token for the Team API (/v1/) and print it, alone, on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never)")
        parser.add_argument("--model", action="append", default=[], dest="models",
                            help="Allow only this model (repeat for several; default: all the user may use)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user is called {options['username']!r}.")
        if refusal(user) is not None:
            raise CommandError(f"{user.get_username()} may not use Grokweb now ({user.status}): no token made.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        allowed = set(models_for(user).values_list("slug", flat=True))
        unknown = sorted(set(options["models"]) - allowed)
        if unknown:
            raise CommandError(f"{user.get_username()} may not use: {', '.join(unknown)}.")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        token, raw = tokens.create(user, options["name"], expires_at=expires_at, model_slugs=options["models"])
        when = f"expires {expires_at:%Y-%m-%d %H:%M %Z}" if expires_at else "never expires"
        self.stderr.write(f"Token {token.name!r} for {user.get_username()} ({when}); shown only now:")
        self.stdout.write(raw)
