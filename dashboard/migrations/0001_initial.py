# LiveEvent moved here from hosts: the table (hosts_liveevent) stays, only Django's state moves.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("hosts", "0002_certificates_and_enrollment"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LiveEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("group", models.CharField(max_length=100)),
                        ("payload", models.JSONField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "hosts_liveevent"},
                ),
            ],
            database_operations=[],
        ),
    ]
