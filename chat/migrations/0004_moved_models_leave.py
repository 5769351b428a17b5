"""Provider, Model, Route and UsageRecord leave the chat app's state; their tables stay (now
owned by gateways and usage). Content types follow them, so permissions and admin history stay.
"""
from django.db import migrations

# (old app, model, new app): content types follow their models, so permissions and admin history stay.
MOVES = (("chat", "provider", "gateways"), ("chat", "model", "gateways"), ("chat", "route", "gateways"),
         ("chat", "usagerecord", "usage"), ("usage", "price", "gateways"))


def _move(apps, moves):  # type: ignore[no-untyped-def]
    content_type = apps.get_model("contenttypes", "ContentType")
    for old_app, model, new_app in moves:
        if not content_type.objects.filter(app_label=new_app, model=model).exists():
            content_type.objects.filter(app_label=old_app, model=model).update(app_label=new_app)


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    _move(apps, MOVES)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    _move(apps, [(new, model, old) for old, model, new in MOVES])


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('accounts', '0003_model_access_to_gateways'),
        ('chat', '0003_moved_fields_leave'),
        ('gateways', '0003_catalog_and_prices_move_in'),
        ('usage', '0004_ledger_moves_in'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(
                name='Model',
            ),
            migrations.DeleteModel(
                name='Provider',
            ),
            migrations.DeleteModel(
                name='Route',
            ),
            migrations.DeleteModel(
                name='UsageRecord',
            ),
        ]),
        migrations.RunPython(forwards, backwards),
    ]
