from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms

from integrations.models import DeprovisionGuardPolicy, SsoConnection

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


def _text(testid: str, help_id: str, **attrs: str) -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "autocomplete": "off",
            "spellcheck": "false",
            "autocapitalize": "none",
            "aria-describedby": help_id,
            "data-testid": testid,
            **attrs,
        }
    )


class SsoConnectionForm(forms.Form):
    """The single sign-on card's settings; labels and help follow the provider's own words.
    Validation of the values themselves is integrations/sso.py's (the service), so a form and
    any other caller get the same rules."""

    issuer = forms.CharField(
        label="Issuer URL",
        max_length=500,
        widget=_text("sso-issuer", "id_issuer_help", inputmode="url"),
    )
    client_id = forms.CharField(
        label="Client ID",
        max_length=255,
        widget=_text("sso-client-id", "id_client_id_help"),
    )
    client_secret = forms.CharField(
        label="Client secret",
        max_length=1000,
        required=False,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={
                "autocomplete": "new-password",
                "aria-describedby": "id_client_secret_help",
                "data-testid": "sso-client-secret",
            },
        ),
    )
    secret_expires_on = forms.DateField(
        label="Client secret expires on",
        required=False,
        widget=forms.DateInput(
            format="%Y-%m-%d",
            attrs={
                "type": "date",
                "aria-describedby": "id_secret_expires_on_help",
                "data-testid": "sso-secret-expires",
            },
        ),
    )

    def __init__(self, *args: Any, provider_slug: str, has_secret: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        entra = provider_slug == "entra-id"
        fields = self.fields
        if entra:
            fields["issuer"].label = "Directory (tenant) ID or issuer URL"
            fields["issuer"].help_text = (
                "The <strong>Directory (tenant) ID</strong> from the app registration's "
                "<strong>Overview</strong>, such as 72f988bf-86f1-41af-91ab-2d7cd011db47. "
                "For a national cloud, enter the full issuer URL instead."
            )
            fields["client_id"].label = "Application (client) ID"
            fields["client_id"].help_text = "From the app registration's Overview."
            fields["client_secret"].help_text = (
                "The secret's <strong>Value</strong> (not its Secret ID), from "
                "<strong>Certificates &amp; secrets</strong>."
            )
        else:
            fields["issuer"].help_text = (
                "Okta: your Okta domain, such as https://example.okta.com, or a custom "
                "authorization server, such as https://example.okta.com/oauth2/default."
                if provider_slug == "okta"
                else "The provider's issuer; its discovery document is at "
                '<span class="mono">{issuer}/.well-known/openid-configuration</span>.'
            )
            fields["client_id"].help_text = "From the app's General tab or client settings."
            fields["client_secret"].help_text = "Shown by the provider when the app is created."
        if has_secret:
            fields["client_secret"].help_text = (
                "Stored encrypted and never shown again; leave blank to keep it, or paste a new "
                "secret to replace it."
            )
        else:
            fields["client_secret"].widget.attrs["required"] = "required"
        fields["secret_expires_on"].help_text = (
            "When the secret stops working (Entra ID secrets last up to 24 months). Owners and "
            "admins are warned 30 days ahead."
        )


class SsoPolicyForm(forms.Form):
    policy = forms.ChoiceField(
        label="Who signs in with single sign-on",
        choices=SsoConnection.Policy.choices,
        widget=forms.RadioSelect,
    )
