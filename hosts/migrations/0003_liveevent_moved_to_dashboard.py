# LiveEvent now belongs to the dashboard app (dashboard/0001 takes it over); its table stays.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("hosts", "0002_certificates_and_enrollment"),
        ("dashboard", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="LiveEvent")],
            database_operations=[],
        ),
    ]
