"""Provider, Model and Route (from chat) and Price (from usage) become gateways models.

State only: the tables keep their names (chat_provider, chat_model, chat_route, usage_price)
and every row and foreign key stays where it is (Django's recipe for moving a model between apps).
"""
import django.db.models.deletion
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('gateways', '0002_audit_deleted'),
        ('chat', '0002_routes_and_availability'),
        ('usage', '0003_rollup_grains'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='Model',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('slug', models.SlugField(max_length=80, unique=True)),
                    ('name', models.CharField(max_length=120)),
                    ('upstream_id', models.CharField(max_length=120)),
                    ('reasoning', models.CharField(choices=[('none', 'none'), ('hidden', 'hidden (silent thinking)'), ('trace', 'full trace'), ('summary', 'summary')], default='none', max_length=10)),
                    ('accepts_reasoning_effort', models.BooleanField(default=False)),
                    ('vision', models.BooleanField(default=False)),
                    ('context_window', models.PositiveIntegerField(default=131072)),
                    ('price_input', models.DecimalField(decimal_places=6, default=Decimal('0'), help_text='USD per million prompt tokens', max_digits=12)),
                    ('price_cached_input', models.DecimalField(decimal_places=6, default=Decimal('0'), help_text='USD per million cached prompt tokens', max_digits=12)),
                    ('price_output', models.DecimalField(decimal_places=6, default=Decimal('0'), help_text='USD per million output tokens', max_digits=12)),
                    ('enabled', models.BooleanField(default=True)),
                    ('available', models.BooleanField(default=True)),
                    ('is_default', models.BooleanField(default=False)),
                    ('sort_order', models.PositiveSmallIntegerField(default=100)),
                ],
                options={
                    'db_table': 'chat_model',
                    'ordering': ['sort_order', 'name'],
                },
            ),
            migrations.CreateModel(
                name='Provider',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=80, unique=True)),
                    ('kind', models.CharField(choices=[('xai', 'xAI'), ('aimlapi', 'AI/ML API'), ('maxtoken', 'maxtoken'), ('crazyrouter', 'crazyrouter'), ('openai', 'OpenAI-compatible'), ('emulator', 'Built-in emulator (simulated)')], max_length=20)),
                    ('base_url', models.URLField(max_length=300)),
                    ('api_key_encrypted', models.TextField(blank=True, editable=False)),
                    ('include_usage', models.BooleanField(default=True, help_text='Send stream_options.include_usage (turn off for gateways that reject it).')),
                    ('usage_convention', models.CharField(choices=[('auto', 'detect'), ('A', 'A'), ('B', 'B')], default='auto', max_length=5)),
                    ('connect_timeout', models.FloatField(default=10.0)),
                    ('first_token_timeout', models.FloatField(default=120.0)),
                    ('idle_timeout', models.FloatField(default=60.0)),
                    ('max_retries', models.PositiveSmallIntegerField(default=2)),
                    ('headers', models.JSONField(blank=True, default=dict, help_text='Extra HTTP headers sent with every request.')),
                    ('enabled', models.BooleanField(default=True)),
                    ('from_env', models.BooleanField(default=False, editable=False)),
                    ('edited_by_hand', models.BooleanField(default=False, editable=False)),
                    ('discovered_at', models.DateTimeField(blank=True, editable=False, null=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                ],
                options={
                    'db_table': 'chat_provider',
                },
            ),
            migrations.AlterField(
                model_name='listedmodel',
                name='model',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.model'),
            ),
            migrations.AddField(
                model_name='model',
                name='provider',
                field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='models', to='gateways.provider'),
            ),
            migrations.AlterField(
                model_name='attempt',
                name='provider',
                field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.provider'),
            ),
            migrations.AlterField(
                model_name='auditentry',
                name='provider',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.provider'),
            ),
            migrations.AlterField(
                model_name='listedmodel',
                name='provider',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='listed_models', to='gateways.provider'),
            ),
            migrations.CreateModel(
                name='Route',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('upstream_id', models.CharField(max_length=120)),
                    ('priority', models.PositiveSmallIntegerField(default=100, help_text='Lower is tried first.')),
                    ('enabled', models.BooleanField(default=True)),
                    ('available', models.BooleanField(default=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('model', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='routes', to='gateways.model')),
                    ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='routes', to='gateways.provider')),
                ],
                options={
                    'db_table': 'chat_route',
                    'ordering': ['priority', 'id'],
                },
            ),
            migrations.AlterField(
                model_name='attempt',
                name='route',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.route'),
            ),
            migrations.CreateModel(
                name='Price',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('effective_from', models.DateField(help_text='Calls made on or after this day (server time zone) use this price.')),
                    ('input', models.DecimalField(decimal_places=6, help_text='USD per million prompt tokens', max_digits=12)),
                    ('cached_input', models.DecimalField(decimal_places=6, help_text='USD per million cached prompt tokens', max_digits=12)),
                    ('output', models.DecimalField(decimal_places=6, help_text='USD per million output tokens (reasoning included)', max_digits=12)),
                    ('note', models.CharField(blank=True, max_length=200)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('model', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='prices', to='gateways.model')),
                    ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='prices', to='gateways.provider')),
                ],
                options={
                    'db_table': 'usage_price',
                    'ordering': ['provider', 'model', '-effective_from'],
                    'constraints': [models.UniqueConstraint(fields=('provider', 'model', 'effective_from'), name='usage_price_one_per_day'), models.CheckConstraint(condition=models.Q(('cached_input__gte', 0), ('input__gte', 0), ('output__gte', 0)), name='usage_price_not_negative')],
                },
            ),
            migrations.AddConstraint(
                model_name='route',
                constraint=models.UniqueConstraint(fields=('model', 'provider', 'upstream_id'), name='route_unique'),
            ),
        ]),
    ]
