from __future__ import annotations

from datetime import timedelta

from django import forms

OVERLAP_CHOICES = [
    ("0", "Stop working immediately"),
    ("1", "Keep working for 1 hour"),
    ("24", "Keep working for 24 hours"),
    ("168", "Keep working for 7 days"),
]


class IssueCredentialsForm(forms.Form):
    """Get credentials, or regenerate them; `nonce` makes a resubmitted form a no-op."""

    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)
    previous_token = forms.ChoiceField(
        choices=OVERLAP_CHOICES,
        initial="0",
        required=False,
        widget=forms.RadioSelect,
        label="The current token should",
    )

    def overlap(self) -> timedelta | None:
        hours = int(self.cleaned_data.get("previous_token") or 0)
        return timedelta(hours=hours) if hours else None


class RevokeCredentialsForm(forms.Form):
    confirm = forms.BooleanField(
        required=True,
        label="I understand that provisioning stops until new credentials are set up.",
    )


class HoldDecisionForm(forms.Form):
    """The confirmation of a decision on held deprovisionings; the label says what it means."""

    confirm = forms.BooleanField(required=True)

    def __init__(self, *args: object, label: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["confirm"].label = label
