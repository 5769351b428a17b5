"""The moved models' fields leave the chat app's state. State only: no column is touched."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0002_routes_and_availability'),
        ('gateways', '0003_catalog_and_prices_move_in'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.RemoveField(
                model_name='model',
                name='provider',
            ),
            migrations.RemoveField(
                model_name='route',
                name='model',
            ),
            migrations.RemoveField(
                model_name='usagerecord',
                name='model',
            ),
            migrations.AlterField(
                model_name='conversation',
                name='model',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='gateways.model'),
            ),
            migrations.AlterField(
                model_name='message',
                name='model',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='gateways.model'),
            ),
            migrations.RemoveField(
                model_name='route',
                name='provider',
            ),
            migrations.RemoveField(
                model_name='usagerecord',
                name='provider',
            ),
            migrations.RemoveField(
                model_name='usagerecord',
                name='route',
            ),
            migrations.RemoveField(
                model_name='usagerecord',
                name='conversation',
            ),
            migrations.RemoveField(
                model_name='usagerecord',
                name='message',
            ),
            migrations.RemoveField(
                model_name='usagerecord',
                name='user',
            ),
        ]),
    ]
