"""`make cluster`: start the topology, print it on one screen, then take commands until Ctrl-C.

    python -m nordpass_admin.cluster [--port 8080] [--workdir var/cluster]

CLUSTER_PORT sets the balancer's port too. The database `nordpass_cluster` is created afresh at
each start and kept after the stop (for a look with psql); Redis dbs 4 (broker) and 5 (cache) are
emptied at start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from nordpass_admin.cluster.processes import ROOT
from nordpass_admin.cluster.topology import WORKERS, Cluster, ClusterUnavailable

DATABASE, BROKER_DB, CACHE_DB = "nordpass_cluster", 4, 5
DEMO_SLUG = "demo"

HELP = """\
Commands (type one and press Enter; Ctrl-C stops everything):
  kill a | kill b        SIGKILL a web node and its workers (a crash)
  start a | start b      start it again; back in the balancer once /readyz answers
  restart a | restart b  graceful: drain in HAProxy, wait for its requests, stop, start, ready
  kill w1 | start w1     the same for a Celery worker (w1, w2)
  status                 the processes and HAProxy's view of the nodes
By hand, from another terminal: kill -KILL -- -<pid of web a> crashes node a the same way."""


def screen(cluster: Cluster, *, password: str, tenant_id: str, token: str) -> str:
    rows = "\n".join(
        f"  {name:<10} {address:<18} {pid or '-':<8} {_relative(log)}"
        for name, address, pid, log in cluster.topology()
    )
    return f"""
NordPass Admin: a cluster on loopback ({cluster.workdir})

  client ─► HAProxy {cluster.url}  (/readyz checks every 1 s; connection failures retried)
              ├─► web a {cluster.nodes["a"].url}  gunicorn 2 workers x 4 threads
              └─► web b {cluster.nodes["b"].url}  gunicorn 2 workers x 4 threads
  Celery w1, w2 (prefork x 2) and beat ─► Redis {cluster.redis} db {cluster.broker_db} (broker),
  db {cluster.cache_db} (cache, shared by the nodes); all ─► PostgreSQL {cluster.database_url}

  {"process":<10} {"address":<18} {"pid":<8} log
{rows}

  Panel:        {cluster.url}/login/
  Email:        owner@{DEMO_SLUG}.example
  Password:     {password}
  Tenant URL:   {cluster.url}/scim/v2/{tenant_id}
  Secret token: {token}
  Emails sent:  {_relative(cluster.mail_dir)}/ (one .eml file per message)

{HELP}
"""


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def status(cluster: Cluster) -> str:
    states = cluster.server_states()
    lines = [f"  HAProxy: {', '.join(f'{name} {state}' for name, state in states.items())}"]
    lines += [
        f"  {name:<10} {address:<18} {pid or 'stopped'}"
        for name, address, pid, _ in cluster.topology()
    ]
    return "\n".join(lines)


def run_command(cluster: Cluster, line: str) -> str:
    words = line.split()
    if not words:
        return ""
    if words == ["status"]:
        return status(cluster)
    if len(words) != 2 or words[0] not in ("kill", "start", "restart"):
        return HELP
    action, target = words
    if target in cluster.nodes:
        if action == "kill":
            cluster.kill_node(target)
            # Show the balancer's view once its health checks have noticed (two failed checks).
            with contextlib.suppress(AssertionError):
                cluster.wait_states({target: "DOWN"}, timeout=10)
        elif action == "start":
            cluster.start_node(target)
        else:
            cluster.restart_node_gracefully(target)
    elif target in WORKERS and action != "restart":
        if action == "kill":
            cluster.kill_worker(target)
        else:
            cluster.start_worker(target)
    else:
        return HELP
    return status(cluster)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "8080")))
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "cluster")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    cluster = Cluster(
        args.workdir,
        database=DATABASE,
        broker_db=BROKER_DB,
        cache_db=CACHE_DB,
        port=args.port,
        keep_database=True,
    )
    print(f"Starting the cluster (logs in {_relative(cluster.workdir)}/)...", flush=True)
    try:
        try:
            cluster.start()
        except ClusterUnavailable as exc:
            print(f"Cannot start the cluster: {exc}", file=sys.stderr)
            return 1
        password = secrets.token_urlsafe(12)
        tenant_id, token = cluster.tenant(DEMO_SLUG, password=password)
        print(screen(cluster, password=password, tenant_id=tenant_id, token=token), flush=True)
        while True:
            try:
                line = input("cluster> ")
            except EOFError:  # no terminal: keep running until a signal
                while True:
                    time.sleep(3600)
            try:
                print(run_command(cluster, line), flush=True)
            except (AssertionError, RuntimeError) as exc:
                print(f"  failed: {exc}", flush=True)
    except KeyboardInterrupt:
        print("\nStopping everything the cluster started...", flush=True)
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
