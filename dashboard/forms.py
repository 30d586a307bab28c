"""The overview's filter: read from the URL so a filtered view can be shared and survives reload."""

from __future__ import annotations

from django import forms

from hosts.models import HostStatus


class OverviewFilter(forms.Form):
    q = forms.CharField(required=False, max_length=100, strip=True, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "any"), *HostStatus.choices])
    tag = forms.CharField(required=False, max_length=40)
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("name", "name"),
            ("cpu", "CPU"),
            ("memory", "memory"),
            ("disk", "disk"),
            ("last_seen", "last seen"),
        ],
    )

    def is_filtering(self) -> bool:
        data = self.cleaned_data
        return bool(data.get("q") or data.get("status") or data.get("tag"))
