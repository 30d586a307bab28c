"""The overview's filter: read from the URL so a filtered view can be shared and survives reload."""

from __future__ import annotations

from django import forms

from dashboard.overview import SORTS
from hosts.models import HostStatus

VIEWS = [("cards", "cards"), ("table", "table")]
GROUPINGS = [("none", "no groups"), ("tag", "by tag")]


class OverviewFilter(forms.Form):
    q = forms.CharField(required=False, max_length=100, strip=True, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "any"), *HostStatus.choices])
    tag = forms.CharField(required=False, max_length=40)
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, label in SORTS.items()]
        + [(f"-{key}", f"{label}, reversed") for key, label in SORTS.items()],
    )
    view = forms.ChoiceField(required=False, choices=VIEWS)
    group = forms.ChoiceField(required=False, choices=GROUPINGS)
    # Up to the last page: the view checks that once it knows how many hosts match.
    page = forms.IntegerField(required=False, min_value=1)

    def is_filtering(self) -> bool:
        data = self.cleaned_data
        return bool(data.get("q") or data.get("status") or data.get("tag"))
