"""The alerts page's filter, read from the URL."""

from __future__ import annotations

from django import forms

from alerts.models import AlertState, Severity


class AlertFilter(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "any"), *AlertState.choices])
    severity = forms.ChoiceField(required=False, choices=[("", "any"), *Severity.choices])
    host = forms.CharField(required=False, max_length=63, strip=True)
    q = forms.CharField(required=False, max_length=100, strip=True, label="Search")
    page = forms.IntegerField(required=False, min_value=1)
