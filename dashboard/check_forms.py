"""The checks page's filter (from the URL) and the add/edit form (validated by Check itself)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from checks.models import Check, CheckKind, CheckState
from checks.options import HEADER_NAME

# Secrets are write-only: the form never sends a stored one back to the browser.
SECRET_FIELDS = ("password", "bearer_token")
KEEP_HELP = "One is stored (never shown): leave blank to keep it."


class CheckFilter(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "any"), *CheckState.choices])
    tag = forms.CharField(required=False, max_length=40, strip=True)


def secret_input() -> forms.PasswordInput:
    # new-password: a browser must not fill in the admin's own login password here.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class CheckForm(forms.Form):
    """Only parses what a browser sends (tags as text, options as JSON, headers as lines);
    every rule of a check is Check.apply_changes()'s, shared with the CLI, the API and the admin site."""

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
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="HTTP only: request headers, one 'Name: value' per line.",
    )
    username = forms.CharField(
        required=False, max_length=200, label="Basic auth user", help_text="HTTP only: basic authentication."
    )
    password = forms.CharField(
        required=False, max_length=200, strip=False, label="Basic auth password", widget=secret_input()
    )
    bearer_token = forms.CharField(
        required=False,
        max_length=2000,
        label="Bearer token",
        widget=secret_input(),
        help_text="Authorization: Bearer …",
    )
    forget_secrets = forms.BooleanField(
        required=False,
        label="Forget the stored password and token",
        help_text="A new one typed above replaces the stored one anyway.",
    )
    public = forms.BooleanField(required=False, help_text="Show on the public status page.")
    enabled = forms.BooleanField(required=False, initial=True)

    @classmethod
    def for_check(cls, check: Check, data: Any = None) -> CheckForm:
        """The form for editing `check`: its values, never its secrets (only whether one is stored)."""
        options = dict(check.options or {})
        headers = options.pop("headers", {}) if check.kind == CheckKind.HTTP else {}
        form = cls(
            data,
            initial={
                "name": check.name,
                "kind": check.kind,
                "target": check.target,
                "interval": check.interval,
                "timeout": check.timeout,
                "retries": check.retries,
                "runs_on": check.runs_on,
                "tags": ", ".join(check.tags),
                "options": json.dumps(options) if options else "",
                "headers": "\n".join(f"{name}: {value}" for name, value in headers.items()),
                "username": check.username,
                "public": check.public,
                "enabled": check.enabled,
            },
        )
        for field in SECRET_FIELDS:
            if getattr(check, field):
                form.fields[field].help_text = KEEP_HELP
        return form

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

    def clean_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["headers"].splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise forms.ValidationError(f"Line {number}: write each header as 'Name: value'.")
            if not HEADER_NAME.match(name.strip()):
                raise forms.ValidationError(f"Line {number}: {name.strip()!r} is not a header name (no spaces).")
            if "\0" in value:
                raise forms.ValidationError(f"Line {number}: a header value cannot hold a NUL character.")
            headers[name.strip()] = value.strip()
        return headers

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        headers, options = cleaned.get("headers"), cleaned.get("options")
        if headers and cleaned.get("kind") != CheckKind.HTTP:
            self.add_error("headers", "Headers are for HTTP checks only.")
        elif headers and isinstance(options, dict) and "headers" in options:
            self.add_error("headers", "Give the headers here or in the options, not in both.")
        return cleaned

    def changes(self) -> dict[str, Any]:
        """What to set on the check. A blank secret keeps the stored one (the form never shows
        it, so blank means "unchanged"), unless the admin asks to forget the stored ones."""
        changes = dict(self.cleaned_data)
        forget = changes.pop("forget_secrets")
        headers = changes.pop("headers")
        if headers and isinstance(changes["options"], dict):
            changes["options"] = {**changes["options"], "headers": headers}
        for field in SECRET_FIELDS:
            if not changes[field] and not forget:
                del changes[field]
        return changes
