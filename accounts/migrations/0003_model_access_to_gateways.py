"""ModelAccess points at gateways.Model (the same chat_model table). State only."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_team_accounts'),
        ('gateways', '0003_catalog_and_prices_move_in'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='modelaccess',
                name='model',
                field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='access', to='gateways.model'),
            ),
        ]),
    ]
