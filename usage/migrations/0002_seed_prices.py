"""Seed a dated price for every (provider, model) pair already offered: the model's own price
(the built-in catalog's, UPSTREAM.md), effective since always."""
import datetime

from django.db import migrations

SINCE_ALWAYS = datetime.date(2000, 1, 1)


def seed(apps, schema_editor):
    Model = apps.get_model("chat", "Model")
    Price = apps.get_model("usage", "Price")
    for model in Model.objects.all():
        if not Price.objects.filter(provider_id=model.provider_id, model_id=model.id).exists():
            Price.objects.create(
                provider_id=model.provider_id, model_id=model.id, effective_from=SINCE_ALWAYS,
                input=model.price_input, cached_input=model.price_cached_input, output=model.price_output,
                note="seeded from the model's price (built-in catalog)",
            )


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
