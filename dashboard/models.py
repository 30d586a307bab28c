"""The dashboard's own rows: the outbox of pushes written by processes without a channel layer."""

from __future__ import annotations

from django.db import models


class LiveEvent(models.Model):
    """A dashboard push written by a process that cannot reach the in-memory channel layer.

    Only used without Redis: the web process relays and deletes these rows.
    """

    group = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hosts_liveevent"  # the table it had while hosts owned it; moved without a copy

    def __str__(self) -> str:
        return f"{self.group}: {self.payload}"

    @classmethod
    def take_all(cls, limit: int = 500) -> list[LiveEvent]:
        events: list[LiveEvent] = list(LiveEvent.objects.order_by("id")[:limit])
        if events:
            # Deleting by id (not "everything") keeps rows written meanwhile for the next pass.
            LiveEvent.objects.filter(id__in=[e.id for e in events]).delete()
        return events
