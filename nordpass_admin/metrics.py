"""Prometheus metrics at `/metrics`: SCIM traffic, invitation states and the Celery queue.

Counters and the latency histogram are recorded by `integrations.scim.middleware` as each SCIM
request ends. Their labels are few and fixed, whatever the traffic: the method, the resource
type and the kind of operation (`GET Users list`, `GET Users one`, `PATCH Groups`,
`POST /.search`, `GET discovery`...) and the status class (`2xx`), never an id, a tenant or
a user name, so a busy identity provider cannot grow the number of series.

Invitation states, the last run of each periodic task and queue depth are read when Prometheus
scrapes (`StateCollector`): one `GROUP BY` over invitations, one read of the few periodic-task
rows and one `LLEN` per queue. An unreachable database or broker never makes the scrape fail:
the matching `*_up` gauge says 0 instead.

Under gunicorn each worker is its own process. With PROMETHEUS_MULTIPROC_DIR set (before
`prometheus_client` is imported: an environment variable, not a setting to change at run time)
each process writes its samples to files there and a scrape adds them up across processes
(prometheus_client's multiprocess mode); the folder must be emptied when the server starts
(`nordpass_admin/gunicorn_conf.py` does). Without it, one in-process registry.

The endpoint answers 404 unless METRICS_TOKEN is set and presented as `Authorization: Bearer`,
or the client address is in METRICS_ALLOWED_IPS: nothing tells a scanner it exists.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# SCIM calls are mostly database round trips: milliseconds when healthy, seconds when a large
# group PATCH or a slow database is involved.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REGISTRY = CollectorRegistry()
SCIM_REQUESTS = Counter(
    "nordpass_scim_requests",
    "SCIM requests answered, by operation and status class.",
    ["operation", "status_class"],
    registry=REGISTRY,
)
SCIM_LATENCY = Histogram(
    "nordpass_scim_request_duration_seconds",
    "Time to answer a SCIM request, from token check to response, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

# URL names of integrations/scim/urls.py -> the resource part of the label.
_RESOURCES = {"users": "Users", "groups": "Groups"}
_SEARCHES = {
    "users-search": "Users/.search",
    "groups-search": "Groups/.search",
    "search": "/.search",
}
_DISCOVERY = {"service-provider-config", "resource-types", "schemas"}
_UNSUPPORTED = {"root", "me", "bulk"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
_SCIM_TYPES = {"User": "Users", "Group": "Groups"}


def scim_operation(request: HttpRequest) -> str:
    """The operation label: the method, what it addressed and, for a GET, one or a list.

    Built only from the route's name (integrations/scim/urls.py) and whether it carried an id,
    falling back to `request.scim_resource_type` the views set, so no value from the URL or the
    body can ever reach a label.
    """
    method = request.method if request.method in _METHODS else "OTHER"
    match = getattr(request, "resolver_match", None)
    name = match.url_name if match is not None else None
    has_id = bool(match is not None and match.kwargs.get("uuid"))
    resource = _RESOURCES.get(name or "") or _SCIM_TYPES.get(
        getattr(request, "scim_resource_type", "") or ""
    )
    if resource:
        if method == "GET":
            return f"GET {resource} {'one' if has_id else 'list'}"
        return f"{method} {resource}"
    if name in _SEARCHES:
        return f"{method} {_SEARCHES[name]}"
    if name in _DISCOVERY:
        return f"{method} discovery"
    if name in _UNSUPPORTED:
        return f"{method} unsupported"
    return f"{method} unknown"


def observe_scim(request: HttpRequest, response: HttpResponse, elapsed: float) -> None:
    """Counts one answered SCIM request. Never raises: a metric must not fail provisioning."""
    try:
        operation = scim_operation(request)
        SCIM_REQUESTS.labels(operation, f"{response.status_code // 100}xx").inc()
        SCIM_LATENCY.labels(operation).observe(max(elapsed, 0.0))
    except Exception:
        logger.exception("Could not record SCIM metrics")


# --- Read at scrape time -------------------------------------------------------------------------


def invitation_counts() -> dict[str, int]:
    """Invitations per status, every status present (0 when none): one GROUP BY query."""
    from accounts.models import Invitation

    counts = dict.fromkeys(Invitation.Status.values, 0)
    rows = Invitation.objects.order_by().values_list("status").annotate(n=models.Count("pk"))
    for status, count in rows:
        counts[status] = count
    return counts


def periodic_task_runs() -> list[tuple[str, float, int]]:
    """Each periodic task that ever ran: its name, when its last run started (Unix time) and the
    copies refused because another beat had sent it within the period (nordpass_admin/periodic.py).
    """
    from accounts.models import PeriodicTaskRun

    rows = PeriodicTaskRun.objects.order_by("task").values_list("task", "started_at", "refused")
    return [(task, started_at.timestamp(), refused) for task, started_at, refused in rows]


def queue_lengths(queues: list[str]) -> dict[str, int]:
    """Messages waiting in each Celery queue on the configured broker.

    Redis: kombu keeps a queue as a list named after it, plus one list per priority step
    (`<queue>\\x06\\x16<priority>`) for prioritised messages; they are added up. The filesystem
    broker: one `<time>_<uuid>.<queue>.msg` file per message in its folder.
    Raises on an unreachable broker; an unsupported transport gives {}.
    """
    url = settings.CELERY_BROKER_URL
    timeout = settings.BROKER_HEALTH_TIMEOUT
    if url.startswith(("redis://", "rediss://")):
        import redis
        from kombu.transport.redis import PRIORITY_STEPS, Channel

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in queues:
                for step in PRIORITY_STEPS:
                    pipe.llen(f"{queue}{Channel.sep}{step}" if step else queue)
            lengths = pipe.execute()
        finally:
            client.close()
        per_queue = len(PRIORITY_STEPS)
        return {
            queue: sum(lengths[i * per_queue : (i + 1) * per_queue])
            for i, queue in enumerate(queues)
        }
    if url.startswith("filesystem://"):
        options: dict[str, Any] = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        folder = Path(options.get("data_folder_in", "."))
        names = [entry.name for entry in os.scandir(folder) if entry.is_file()]
        return {
            queue: sum(1 for name in names if name.partition(".")[2] == f"{queue}.msg")
            for queue in queues
        }
    return {}


class StateCollector(Collector):
    """Gauges computed on each scrape, in the process that answers it."""

    def collect(self) -> Iterator[Metric]:
        database_up = GaugeMetricFamily(
            "nordpass_database_up", "1 when the last scrape could read the database."
        )
        invitations = GaugeMetricFamily(
            "nordpass_invitations", "Invitations by delivery status.", labels=["status"]
        )
        last_start = GaugeMetricFamily(
            "nordpass_periodic_task_last_start_timestamp_seconds",
            "When the last run of a Celery beat task started (Unix time). Older than twice the "
            "task's period: no beat is sending it, or no worker takes it.",
            labels=["task"],
        )
        refused = CounterMetricFamily(
            "nordpass_periodic_task_refused",
            "Copies of a Celery beat task refused because its run for the period had started: "
            "more than one beat sends it.",
            labels=["task"],
        )
        try:
            counts = invitation_counts()
            runs = periodic_task_runs()
        except DatabaseError as exc:
            logger.warning("Metrics: database unavailable (%s)", type(exc).__name__)
            database_up.add_metric([], 0)
        else:
            database_up.add_metric([], 1)
            for status, count in sorted(counts.items()):
                invitations.add_metric([status], count)
            yield invitations
            for task, started, refused_copies in runs:
                last_start.add_metric([task], started)
                refused.add_metric([task], refused_copies)
            yield last_start
            yield refused
        yield database_up

        broker_up = GaugeMetricFamily(
            "nordpass_celery_broker_up", "1 when the last scrape could read the Celery broker."
        )
        depth = GaugeMetricFamily(
            "nordpass_celery_queue_length",
            "Tasks waiting in a Celery queue (not yet taken by a worker).",
            labels=["queue"],
        )
        queues = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")]
        try:
            lengths = queue_lengths(queues)
        except Exception as exc:  # noqa: BLE001 - any broker failure is "down", never a 500
            # The exception class only: its text can carry the broker's host name or password.
            logger.warning("Metrics: broker unavailable (%s)", type(exc).__name__)
            broker_up.add_metric([], 0)
        else:
            broker_up.add_metric([], 1)
            for queue, length in lengths.items():
                depth.add_metric([queue], length)
            yield depth
        yield broker_up


STATE = StateCollector()
if not MULTIPROCESS:
    REGISTRY.register(STATE)


def exposition() -> bytes:
    """The text Prometheus scrapes, summed over every worker process in multiprocess mode."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(STATE)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


# --- The endpoint --------------------------------------------------------------------------------


def _bearer(request: HttpRequest) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _address_allowed(request: HttpRequest) -> bool:
    allowed = settings.METRICS_ALLOWED_IPS
    if not allowed:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def scrape_allowed(request: HttpRequest) -> bool:
    """METRICS_TOKEN turns the endpoint on; then the token, or an allowed address, opens it."""
    token = settings.METRICS_TOKEN
    if not token:
        return False
    presented = _bearer(request)
    if presented and constant_time_compare(presented, token):
        return True
    return _address_allowed(request)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    # Checked before the method, so even a 405 does not tell a stranger the endpoint exists.
    if not scrape_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
