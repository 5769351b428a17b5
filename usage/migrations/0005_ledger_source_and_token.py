"""The ledger says who asked for each call: `source` (chat or api) and the personal access token.

Every existing row is the web chat's (the Team API did not exist), so the default is right for
them; the finest rollup gets the same two keys so reports can group and filter by them.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_api_tokens'),
        ('gateways', '0003_catalog_and_prices_move_in'),
        ('usage', '0004_ledger_moves_in'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='usagedaily',
            name='usage_daily_one_per_key',
        ),
        migrations.AddField(
            model_name='usagedaily',
            name='source',
            field=models.CharField(default='chat', max_length=10),
        ),
        migrations.AddField(
            model_name='usagedaily',
            name='token',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.apitoken'),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='source',
            field=models.CharField(choices=[('chat', 'Chat'), ('api', 'Team API')], default='chat', max_length=10),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='token',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.apitoken'),
        ),
        migrations.AddConstraint(
            model_name='usagedaily',
            constraint=models.UniqueConstraint(fields=('day', 'user', 'provider', 'model_slug', 'purpose', 'source', 'token'), name='usage_daily_one_per_key'),
        ),
    ]
