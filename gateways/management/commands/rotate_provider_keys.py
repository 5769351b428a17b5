"""Re-encrypt every provider's API key from the old FIELD_ENCRYPTION_KEY to a new one.

Either in steps (no downtime): set FIELD_ENCRYPTION_KEY=new,old in every
process, run this command, then drop `old`. Or at once with --old/--new, then
restart with FIELD_ENCRYPTION_KEY=new. Keys are never printed.
"""
from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gateways import audit, crypto
from gateways.models import AuditEntry, Provider


class Command(BaseCommand):
    help = "Re-encrypt every provider API key with the new FIELD_ENCRYPTION_KEY (the first of the list)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--new", default="", help="New key material (default: the first FIELD_ENCRYPTION_KEY).")
        parser.add_argument("--old", default="", help="Old key material(s), comma-separated (default: the other "
                            "FIELD_ENCRYPTION_KEY entries and the SECRET_KEY-derived key).")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        configured = crypto.materials(settings.FIELD_ENCRYPTION_KEY)
        new = crypto.materials(options["new"]) or configured[:1]
        if not new:
            raise CommandError("Give --new or set FIELD_ENCRYPTION_KEY (new first, then the old key).")
        old = crypto.materials(options["old"]) or [*configured[1:], settings.SECRET_KEY]
        failed, rotated = [], 0
        with transaction.atomic():
            for provider in Provider.objects.select_for_update().order_by("pk"):
                if not provider.api_key_encrypted:
                    continue
                try:
                    provider.api_key_encrypted = crypto.rekey(provider.api_key_encrypted, new, old)
                except ValueError:
                    failed.append(provider.name)
                    continue
                provider.save(update_fields=["api_key_encrypted", "updated_at"])
                audit.record_system(provider, AuditEntry.Action.KEYS_ROTATED, ["api_key"])
                rotated += 1
            if failed:
                transaction.set_rollback(True)
        if failed:
            raise CommandError(f"Nothing changed: the old keys given cannot decrypt the key of {', '.join(failed)}.")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} provider keys with the new key."))
        if options["new"] and crypto.materials(options["new"])[0] not in configured[:1]:
            self.stdout.write("Now set FIELD_ENCRYPTION_KEY to the new key in every process and restart.")
