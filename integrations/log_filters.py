"""The provisioning log's filters: the GET form of its toolbar and the value the selector reads.

The form parses the query string; `ProvisioningLogFilters` is what the selector and the CSV export
share, so the export is exactly the filtered view.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from django import forms

# Not a status range: requests that succeeded with a warning (e.g. member ids a group write
# skipped). They are successes, so "Success" lists them too.
WARNING_CLASS = "warning"
STATUS_CLASSES = [
    ("success", "Success (2xx, 3xx)"),
    (WARNING_CLASS, "Succeeded with a warning"),
    ("client-error", "Client error (4xx)"),
    ("server-error", "Server error (5xx)"),
]
# The status codes each class covers, as a half-open range [low, high).
STATUS_RANGES = {"success": (200, 400), "client-error": (400, 500), "server-error": (500, 600)}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
RESOURCE_TYPES = ["User", "Group"]
# What a datetime-local input sends: minutes by default, seconds when the browser's step allows.
DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"]


@dataclass(frozen=True)
class ProvisioningLogFilters:
    """What to show. Empty values mean "any".

    `since` is inclusive and `until` exclusive, both aware datetimes; the form turns the minute a
    person picks in "To" into the end of that minute.
    """

    status_class: str = ""
    method: str = ""
    resource_type: str = ""
    member: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @property
    def active(self) -> bool:
        return any(getattr(self, field.name) for field in fields(self))


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # The value must be re-rendered in the format the input accepts, or the browser drops it.
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class ProvisioningLogFilterForm(forms.Form):
    """The toolbar of the provisioning log. Times are read in the server's time zone (the panel
    activates no other), at minute precision, because that is what a datetime-local input shows."""

    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "Any status"), *STATUS_CLASSES]
    )
    method = forms.ChoiceField(
        required=False, label="Method", choices=[("", "Any method"), *((m, m) for m in METHODS)]
    )
    resource = forms.ChoiceField(
        required=False,
        label="Resource",
        choices=[("", "Users and groups"), ("User", "Users"), ("Group", "Groups")],
    )
    member = forms.CharField(
        required=False,
        max_length=200,
        label="Member or path",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "userName, email or path"}),
    )
    since = forms.DateTimeField(
        required=False,
        label="From",
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=DateTimeLocalInput(attrs={"aria-describedby": "log-time-help"}),
    )
    until = forms.DateTimeField(
        required=False,
        label="To",
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=DateTimeLocalInput(attrs={"aria-describedby": "log-time-help"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_since(self) -> datetime | None:
        return _to_minute(self.cleaned_data.get("since"))

    def clean_until(self) -> datetime | None:
        return _to_minute(self.cleaned_data.get("until"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until < since:
            self.add_error("until", "Pick a time after the start of the range.")
        return data

    def filters(self) -> ProvisioningLogFilters:
        """The filters of the fields that are valid; call after `is_valid()`."""
        data = getattr(self, "cleaned_data", {})
        until = data.get("until")
        return ProvisioningLogFilters(
            status_class=data.get("status") or "",
            method=data.get("method") or "",
            resource_type=data.get("resource") or "",
            member=(data.get("member") or "").strip(),
            since=data.get("since"),
            # "To 10:30" includes the requests made during 10:30.
            until=until + timedelta(minutes=1) if until is not None else None,
        )


def _to_minute(value: datetime | None) -> datetime | None:
    return value.replace(second=0, microsecond=0) if value is not None else None
