"""The panel's URLs with `sso_start` guaranteed, which the sign-in page links to.

Where the single sign-on flow (accounts/sso_views.py) is installed its own route is used; on a
branch without it, a stand-in at the same address answers with what it was asked, so the tests
of the sign-in page see exactly where it sends people. The flow itself is tested in tests/sso.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, path, reverse

from nordpass_admin.urls import urlpatterns as panel_urlpatterns


def _sso_start_stand_in(request: HttpRequest, organization: str) -> HttpResponse:
    return HttpResponse(f"sso_start {organization} {request.GET.get('invitation', '')}")


urlpatterns = list(panel_urlpatterns)
try:
    reverse("sso_start", args=["x"], urlconf="nordpass_admin.urls")
except NoReverseMatch:
    urlpatterns.append(path("sso/<slug:organization>/", _sso_start_stand_in, name="sso_start"))
