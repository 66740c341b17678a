"""Integrations pages: one card per identity provider."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from accounts.middleware import PanelRequest
from accounts.permissions import admin_required
from integrations.providers import PROVIDERS


@admin_required
def integration_list(request: PanelRequest) -> HttpResponse:
    return render(request, "integrations/integration_list.html", {"providers": PROVIDERS})
