from django.db import migrations, models


def create_the_row(apps, schema_editor):
    apps.get_model("hosts", "CredentialGeneration").objects.get_or_create(pk=1, defaults={"value": 0})


class Migration(migrations.Migration):
    dependencies = [
        ("hosts", "0003_liveevent_moved_to_dashboard"),
    ]

    operations = [
        migrations.CreateModel(
            name="CredentialGeneration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_the_row, migrations.RunPython.noop),
    ]
