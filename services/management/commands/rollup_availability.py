"""python manage.py rollup_availability [--days N]: fill the status page's uptime bars for past days.

The periodic task keeps today (and yesterday) current; run this once after
marking a component public, or after restoring a backup, to fill older days
from the flips and the samples still held.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from services.models import DailyAvailability
from services.status_page import HISTORY_DAYS


class Command(BaseCommand):
    help = "Recompute daily availability (the status page's uptime bars) for the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=HISTORY_DAYS, help=f"days back, 1 to {HISTORY_DAYS}")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if not 1 <= days <= HISTORY_DAYS:
            raise CommandError(f"--days must be 1 to {HISTORY_DAYS}, got {days}")
        now = timezone.now()
        written = sum(DailyAvailability.roll_up(now.date() - timedelta(days=n), now) for n in range(days))
        self.stdout.write(f"Rolled up {days} days: {written} rows written.")
