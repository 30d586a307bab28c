from django.db import migrations
from django.db.models import F, Q

# The rules services/models.py raises, each with the service's name as subject.
SERVICE_RULES = Q(rule__startswith="health-") | Q(rule__startswith="stale-") | Q(rule__startswith="event:")


def name_the_service(apps, schema_editor):
    """Alerts raised for a service before alerts had a `service`: so a silence of it covers them."""
    Alert = apps.get_model("alerts", "Alert")
    Alert.objects.filter(SERVICE_RULES, host=None, service="").exclude(subject="").update(service=F("subject"))


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0006_alert_service_silence_services_hub"),
    ]

    operations = [
        migrations.RunPython(name_the_service, migrations.RunPython.noop),
    ]
