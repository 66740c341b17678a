from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms

from integrations.models import DeprovisionGuardPolicy

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


WINDOW_UNITS = [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
KEEP_UNITS = [("hours", "hours"), ("days", "days")]
UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
# What "Keep members active" offers besides the organization's own default.
KEEP_PRESETS = [3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400]


def split_duration(seconds: int, units: list[tuple[str, str]]) -> tuple[int, str]:
    """3600 → (1, "hours"); the largest unit that divides it, for the form's initial values."""
    for unit, _ in reversed(units):
        if seconds % UNIT_SECONDS[unit] == 0:
            return seconds // UNIT_SECONDS[unit], unit
    return seconds // UNIT_SECONDS[units[0][0]], units[0][0]


class GuardSettingsForm(forms.Form):
    """An owner's settings for the organization's mass-deprovisioning guard."""

    enabled = forms.BooleanField(
        required=False, label="Hold mass deprovisioning for an owner or admin to review"
    )
    share_percent = forms.DecimalField(
        label="Share of active members",
        max_digits=5,
        decimal_places=2,
        help_text="Percent, more than 0 and at most 100.",
        error_messages={"max_digits": "Enter a percentage from 0.01 to 100."},
    )
    min_members = forms.IntegerField(
        label="Always allowed per window",
        min_value=1,
        max_value=1_000_000,
        help_text="Members, at least 1: however small the organization, this many may go.",
        error_messages={"min_value": "The minimum must be at least 1 member."},
    )
    window_value = forms.IntegerField(label="Window", min_value=1, max_value=10_080)
    window_unit = forms.ChoiceField(label="Window unit", choices=WINDOW_UNITS)
    keep_value = forms.IntegerField(label="Keep members active for", min_value=1, max_value=720)
    keep_unit = forms.ChoiceField(label="Keep-active unit", choices=KEEP_UNITS)

    @classmethod
    def initial_for(cls, row: DeprovisionGuardPolicy) -> dict[str, Any]:
        window_value, window_unit = split_duration(row.window_seconds, WINDOW_UNITS)
        keep_value, keep_unit = split_duration(row.keep_active_seconds, KEEP_UNITS)
        return {
            "enabled": row.enabled,
            "share_percent": Decimal(row.share_percent).normalize(),
            "min_members": row.min_members,
            "window_value": window_value,
            "window_unit": window_unit,
            "keep_value": keep_value,
            "keep_unit": keep_unit,
        }

    def clean_share_percent(self) -> Decimal:
        share: Decimal = self.cleaned_data["share_percent"]
        if share <= 0:
            raise forms.ValidationError("The share must be more than 0%.")
        if share > 100:
            raise forms.ValidationError("The share can be at most 100%.")
        return share

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        policy = DeprovisionGuardPolicy
        for prefix, field, low, high, message in (
            ("window", "window_seconds", policy.MIN_WINDOW_SECONDS, policy.MAX_WINDOW_SECONDS,
             "The window must be from 5 minutes to 7 days."),
            ("keep", "keep_active_seconds", policy.MIN_KEEP_ACTIVE_SECONDS,
             policy.MAX_KEEP_ACTIVE_SECONDS, "Members can be kept active for 1 hour to 30 days."),
        ):  # fmt: skip
            value, unit = data.get(f"{prefix}_value"), data.get(f"{prefix}_unit")
            if value is None or unit is None:
                continue
            seconds = value * UNIT_SECONDS[unit]
            if low <= seconds <= high:
                data[field] = seconds
            else:
                self.add_error(f"{prefix}_value", message)
        return data


class HoldDecisionForm(forms.Form):
    """The confirmation of a decision on held deprovisionings; the label says what it means.

    "Keep members active" also asks for how long, preset to the organization's default."""

    confirm = forms.BooleanField(required=True)

    def __init__(
        self,
        *args: object,
        label: str,
        keep_default: int | None = None,
        describe: Any = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["confirm"].label = label
        self.keep_default = keep_default
        if keep_default is not None:
            seconds = sorted({*KEEP_PRESETS, keep_default})
            self.fields["keep_for"] = forms.TypedChoiceField(
                label="Refuse the identity provider's retries for",
                choices=[
                    (
                        str(value),
                        describe(value)
                        + (" (this organization's default)" if value == keep_default else ""),
                    )
                    for value in seconds
                ],
                coerce=int,
                initial=str(keep_default),
                # A form posted without it (an old tab, a script) keeps the default.
                required=False,
                empty_value=None,
            )

    def keep_period(self) -> timedelta | None:
        value = self.cleaned_data.get("keep_for")
        return timedelta(seconds=value) if value else None


class EmailDomainForm(forms.Form):
    domain = forms.CharField(
        label="Domain",
        max_length=300,
        help_text="The part after @ in your people's email addresses, such as example.com.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "autocapitalize": "none",
                "aria-describedby": "id_domain_help",
            }
        ),
    )
