"""A request id for every request, in the logs and in the `X-Request-Id` response header.

A load balancer or proxy that already assigns ids (`X-Request-Id` on the way in) keeps its id, so
its access log and the application's lines match; a value that does not look like an id (too
long, or with characters that could forge log fields) is replaced by a fresh one.

A SCIM request always gets a fresh id of ours, bound here before any other middleware logs, and
the SCIM middleware reuses it: the same id is in every log line of the request, the `X-Request-Id`
the identity provider sees and the provisioning log, and a client cannot choose the id an admin
looks up there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse

from nordpass_admin.logging import bind_request_id

HEADER = "X-Request-Id"
SCIM_PREFIX = "/scim/"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def _unbind(**kwargs: Any) -> None:
    # Django's handler logs a 4xx/5xx response after the middleware returned it, so the id is
    # dropped only when the request is over (also before the next, should that be skipped).
    bind_request_id(None)


request_started.connect(_unbind, dispatch_uid="nordpass_admin.request_id.started")
request_finished.connect(_unbind, dispatch_uid="nordpass_admin.request_id.finished")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(HEADER, "")
        if request.path_info.startswith(SCIM_PREFIX) or not _ACCEPTED.fullmatch(incoming):
            request_id = uuid.uuid4().hex
        else:
            request_id = incoming
        request.request_id = request_id  # type: ignore[attr-defined]
        bind_request_id(request_id)
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = request_id
        return response
