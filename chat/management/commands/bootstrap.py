"""Prepare a fresh or restarted instance: providers, models, orphaned replies, first admin."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chat import broadcast, services
from chat.hub import _alive
from gateways import providers


class Command(BaseCommand):
    help = "Configure providers from the environment, end orphaned replies, create the first admin."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="Where the app is served (printed).")
        parser.add_argument("--env-wins", action="store_true",
                            help="Let the environment overwrite providers an admin changed by hand "
                                 "(also PROVIDERS_ENV_WINS=true).")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        env_wins = options["env_wins"] or settings.PROVIDERS_ENV_WINS
        for provider in providers.sync_from_environment(env_wins=env_wins):
            label = "simulated answers" if provider.simulated else provider.base_url
            count = provider.models.filter(enabled=True).count()
            self.stdout.write(f"Provider {provider.name}: {count} models ({label})")
        ended = services.end_orphans(_alive)
        broadcast.ended(ended)
        if ended:
            self.stdout.write(f"Ended {len(ended)} replies left streaming by a stopped server.")
        self._first_admin(options["url"])

    def _first_admin(self, url: str) -> None:
        User = get_user_model()
        if User.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        bar = "=" * 60
        self.stdout.write(self.style.SUCCESS(
            f"\n{bar}\n  Grokweb is ready. Sign in at {url}accounts/login/\n"
            f"  username: admin\n  password: {password}\n  (shown once; change it under {url}admin/)\n{bar}\n"
        ))
        if settings.DEBUG:
            self.stdout.write("DEBUG is on: do not expose this instance.")
