"""A reservation now lives exactly as long as its reply: every live reply holds one (its slot).

Before, only budgeted users' replies had one, and finished replies' reservations were
dropped lazily. Drop those of finished replies; give every reply still streaming its slot.
"""
from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    reservation = apps.get_model("accounts", "Reservation")
    message = apps.get_model("chat", "Message")
    streaming = message.objects.filter(status="streaming", role="assistant")
    reservation.objects.exclude(message_id__in=streaming.values("id")).delete()
    held = set(reservation.objects.values_list("message_id", flat=True))
    reservation.objects.bulk_create(
        reservation(message_id=m.id, user_id=m.conversation.owner_id, ticks=0, tokens=0)
        for m in streaming.select_related("conversation") if m.id not in held
    )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_model_access_to_gateways'),
        ('chat', '0004_moved_models_leave'),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
