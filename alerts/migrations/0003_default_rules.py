"""The design's thresholds as editable rules, seeded from CPU_THRESHOLD, MEMORY_THRESHOLD, DISK_THRESHOLD."""

from django.conf import settings
from django.db import migrations


def default_rules():
    disk = settings.DISK_THRESHOLD
    return [
        # CPU and memory spikes are normal; only a sustained level is news.
        dict(name="cpu", metric="cpu", warning_level=settings.CPU_THRESHOLD,
             clear_level=settings.CPU_THRESHOLD - 5, duration_seconds=300),
        dict(name="memory", metric="memory", warning_level=settings.MEMORY_THRESHOLD,
             clear_level=settings.MEMORY_THRESHOLD - 5, duration_seconds=300),
        # A filling disk is news at once, and critical halfway to full.
        dict(name="disk", metric="disk", warning_level=disk, critical_level=(disk + 100) / 2,
             clear_level=disk - 2, duration_seconds=0),
    ]


def create(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    for rule in default_rules():
        AlertRule.objects.get_or_create(name=rule.pop("name"), defaults=rule)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0002_rules_transitions_silences_channels")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
