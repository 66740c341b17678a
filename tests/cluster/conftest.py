"""The cluster tests: the topology of `make cluster` (nordpass_admin/cluster), one per test module,
on the machine's PostgreSQL and Redis. Only in a run on PostgreSQL and Redis (CI's second run);
skipped otherwise, and without HAProxy skipped too, unless REQUIRE_REAL_SERVICES=1 makes that a
failure.

A module sets CLUSTER_ENV (settings for every process of its cluster) to change the defaults.
Each module's cluster has a database named after this process (two runs never share one),
dropped at the end, and Redis dbs 2 (broker) and 3 (cache), emptied at its start.

Measured figures go to var/cluster-tests.json (and the output, with -s): docs/operations.md
quotes them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from nordpass_admin.cluster import Cluster, ClusterUnavailable
from tests.faults.servers import unavailable

BROKER_DB, CACHE_DB = 2, 3
RESULTS = Path(settings.BASE_DIR) / "var" / "cluster-tests.json"


def real_services() -> tuple[str, str] | None:
    """(PostgreSQL server URL, Redis server URL) of this run, or None when it is not on both."""
    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"] or not settings.CELERY_BROKER_URL.startswith(
        "redis://"
    ):
        return None
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    postgres = (
        f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
    )
    broker = urlsplit(settings.CELERY_BROKER_URL)
    return postgres, f"redis://{broker.netloc}"


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    servers = real_services()
    if servers is None:
        pytest.skip(
            "the cluster tests run on PostgreSQL and Redis only (DATABASE_URL=postgres://..., "
            "CELERY_BROKER_URL=redis://..., as in CI's second run)"
        )
    postgres, redis = servers
    module = re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:20]
    instance = Cluster(
        tmp_path_factory.mktemp("cluster"),
        database=f"nordpass_cluster_{os.getpid()}_{module}".lower(),
        broker_db=BROKER_DB,
        cache_db=CACHE_DB,
        env=getattr(request.module, "CLUSTER_ENV", None),
        postgres=postgres,
        redis=redis,
    )
    try:
        instance.start()
    except ClusterUnavailable as exc:
        unavailable(str(exc))
    try:
        yield instance
    finally:
        instance.stop()


def report(name: str, figures: dict[str, Any]) -> None:
    """Keep a test's measured figures in var/cluster-tests.json and print them (`-s`)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    results[name] = figures
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\n{name}: {json.dumps(figures, indent=2, sort_keys=True)}")


def scim_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/scim+json",
        "User-Agent": "Azure-SCIM-Provisioning (cluster tests)",
    }
