"""UsageRecord (from chat, table chat_usagerecord) becomes a usage model and Price leaves for gateways.

State only: every ledger row and foreign key stays where it is.
"""
import django.db.models.deletion
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0003_moved_fields_leave'),
        ('gateways', '0003_catalog_and_prices_move_in'),
        ('usage', '0003_rollup_grains'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='usagedaily',
                name='model',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.model'),
            ),
            migrations.AlterField(
                model_name='usagedaily',
                name='provider',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.provider'),
            ),
            migrations.AlterField(
                model_name='usagedailymodel',
                name='model',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.model'),
            ),
            migrations.AlterField(
                model_name='usagedailymodel',
                name='provider',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.provider'),
            ),
            migrations.CreateModel(
                name='UsageRecord',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('purpose', models.CharField(choices=[('chat', 'Chat'), ('title', 'Title')], default='chat', max_length=10)),
                    ('model_slug', models.CharField(max_length=80)),
                    ('upstream_model', models.CharField(blank=True, max_length=120)),
                    ('outcome', models.CharField(default='complete', max_length=10)),
                    ('prompt_tokens', models.PositiveIntegerField(default=0)),
                    ('cached_tokens', models.PositiveIntegerField(default=0)),
                    ('image_tokens', models.PositiveIntegerField(default=0)),
                    ('completion_tokens', models.PositiveIntegerField(default=0, help_text='visible output')),
                    ('reasoning_tokens', models.PositiveIntegerField(default=0)),
                    ('billable_output_tokens', models.PositiveIntegerField(default=0)),
                    ('total_tokens', models.PositiveIntegerField(default=0)),
                    ('estimated', models.BooleanField(default=False)),
                    ('reconciles', models.BooleanField(default=True)),
                    ('convention', models.CharField(blank=True, max_length=12)),
                    ('raw_usage', models.JSONField(blank=True, null=True)),
                    ('price_input', models.DecimalField(decimal_places=6, default=Decimal('0'), max_digits=12)),
                    ('price_cached_input', models.DecimalField(decimal_places=6, default=Decimal('0'), max_digits=12)),
                    ('price_output', models.DecimalField(decimal_places=6, default=Decimal('0'), max_digits=12)),
                    ('cost_ticks', models.BigIntegerField(default=0)),
                    ('stated_cost_ticks', models.BigIntegerField(blank=True, null=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                    ('conversation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='chat.conversation')),
                    ('message', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='usage_record', to='chat.message')),
                    ('model', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='gateways.model')),
                    ('provider', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='gateways.provider')),
                    ('route', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.route')),
                    ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='usage', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'chat_usagerecord',
                },
            ),
            migrations.DeleteModel(
                name='Price',
            ),
            migrations.AddIndex(
                model_name='usagerecord',
                index=models.Index(fields=['user', 'created_at'], name='chat_usager_user_id_146553_idx'),
            ),
            migrations.AddIndex(
                model_name='usagerecord',
                index=models.Index(fields=['model_slug', 'created_at'], name='chat_usager_model_s_b17def_idx'),
            ),
        ]),
    ]
