"""The first-token timeout's default drops from 120 s to 30 s, so a silent gateway is left for the next route.

Providers still at the old default and never edited by an admin move to the new one (with
1 + max_retries waits of 120 s, a silent gateway cost six minutes). Anything an admin set is kept.
"""
from django.db import migrations, models

OLD, NEW = 120.0, 30.0


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("gateways", "Provider").objects.filter(
        first_token_timeout=OLD, edited_by_hand=False).update(first_token_timeout=NEW)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("gateways", "Provider").objects.filter(
        first_token_timeout=NEW, edited_by_hand=False).update(first_token_timeout=OLD)


class Migration(migrations.Migration):

    dependencies = [
        ("gateways", "0003_catalog_and_prices_move_in"),
    ]

    operations = [
        migrations.AlterField(
            model_name="provider",
            name="first_token_timeout",
            field=models.FloatField(default=30.0),
        ),
        migrations.RunPython(forwards, backwards),
    ]
