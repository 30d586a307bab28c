"""The checks page's filter (from the URL) and the add/edit form (validated by Check itself)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from checks.models import Check, CheckKind, CheckState


class CheckFilter(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "any"), *CheckState.choices])
    tag = forms.CharField(required=False, max_length=40, strip=True)


class CheckForm(forms.Form):
    """Only parses what a browser sends (tags as text, options as JSON); every rule of a
    check is Check.apply_changes()'s, shared with the CLI, the API and the admin site."""

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=CheckKind.choices)
    target = forms.CharField(max_length=1000, strip=False)
    interval = forms.IntegerField(initial=60, help_text="Seconds between runs (20 s to 24 h).")
    timeout = forms.FloatField(initial=10, help_text="Seconds per run.")
    retries = forms.IntegerField(initial=1, min_value=0, help_text="Failed runs in a row before the state changes.")
    runs_on = forms.CharField(initial="hub", max_length=100, help_text="hub, a host's name, or tag:TAG.")
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated.")
    options = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="The kind's options as a JSON object."
    )
    public = forms.BooleanField(required=False, help_text="Show on the public status page.")
    enabled = forms.BooleanField(required=False, initial=True)

    @classmethod
    def for_check(cls, check: Check) -> CheckForm:
        return cls(
            initial={
                "name": check.name,
                "kind": check.kind,
                "target": check.target,
                "interval": check.interval,
                "timeout": check.timeout,
                "retries": check.retries,
                "runs_on": check.runs_on,
                "tags": ", ".join(check.tags),
                "options": json.dumps(check.options) if check.options else "",
                "public": check.public,
                "enabled": check.enabled,
            }
        )

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]

    def clean_options(self) -> Any:
        text = self.cleaned_data["options"].strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None

    def changes(self) -> dict[str, Any]:
        return dict(self.cleaned_data)
