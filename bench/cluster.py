"""`make bench`, scale-out part: the userName lookup capacity of one web node and of two, measured
through the load balancer of `make cluster` (nordpass_admin/cluster) on this machine.

Each figure is a ratio to `/healthz` through the same balancer and the same nodes, taken right
before it: the balancer, the load generator and the nodes share the machine's cores, so absolute
numbers say more about the machine than about the code. The load generator is wrk, in its own
process, at the same number of connections for both topologies; the background queue is drained
and the processes are idle before each figure. "One node" is the same cluster with node b set to
maintenance in HAProxy (no restart, so both figures see the same warm processes).

    python -m bench.cluster [--seconds 10] [--members 1000]

Writes var/bench-cluster.json and prints a table; exits 1 when a request failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench.run import PYTHON, ROOT, log, wait_idle, wrk_run
from nordpass_admin.cluster import Cluster

DB_NAME = "nordpass_bench_cluster"
BROKER_DB, CACHE_DB = 12, 8
CONNECTIONS = 16  # 2 nodes x 2 gunicorn workers x 4 threads: enough to saturate both
SLUG = "bench"
RESULTS = ROOT / "var" / "bench-cluster.json"


def drain(cluster: Cluster, timeout: float = 120) -> None:
    """Wait until the broker queue is empty and every process of the cluster is idle."""
    broker = redis.Redis.from_url(cluster.redis_url(BROKER_DB))
    deadline = time.monotonic() + timeout
    while broker.llen("celery") and time.monotonic() < deadline:
        time.sleep(0.5)
    wait_idle([pid for _, _, pid, _ in cluster.topology() if pid], timeout=timeout)


def figure(cluster: Cluster, mode: str, seconds: int, env: dict[str, str]) -> dict[str, Any]:
    data = wrk_run(cluster.url + "/", mode, seconds, CONNECTIONS, env)
    elapsed = data["duration_us"] / 1e6
    return {
        "requests": data["requests"],
        "rps": round(data["requests"] / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(data["p50"] / 1000, 2),
        "p99_ms": round(data["p99"] / 1000, 2),
        "errors": data["errors"],
    }


def measure(cluster: Cluster, seconds: int, scim_env: dict[str, str]) -> dict[str, Any]:
    """The floor, then the lookups, each after a drain; a 2 s warm-up before each."""
    drain(cluster)
    wrk_run(cluster.url + "/", "get", 2, CONNECTIONS, {**scim_env, "BENCH_PATH": "/healthz"})
    floor = figure(cluster, "get", seconds, {**scim_env, "BENCH_PATH": "/healthz"})
    drain(cluster)
    wrk_run(cluster.url + "/", "lookup", 2, CONNECTIONS, scim_env)
    lookup = figure(cluster, "lookup", seconds, scim_env)
    return {
        "healthz": floor,
        "lookup": lookup,
        "lookup_per_healthz_percent": round(100 * lookup["rps"] / floor["rps"], 1),
    }


def run(cluster: Cluster, seconds: int, members: int, workdir: Path) -> dict[str, Any]:
    tenant_id, token = cluster.tenant(SLUG)
    environment = cluster.environment()
    names = workdir / "names.txt"
    for args in (
        ["members", "--organization", SLUG, "--count", str(members)],
        ["lists", "--organization", SLUG, "--count", str(members), "--names", str(names)],
    ):
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [PYTHON, "-m", "bench.seed", *args], cwd=ROOT, env=environment, check=True
        )
    cluster.sql("VACUUM ANALYZE")
    cluster.sql("CHECKPOINT")
    scim_env = {"BENCH_TOKEN": token, "BENCH_BASE": f"/scim/v2/{tenant_id}",
                "BENCH_LIST": str(names)}  # fmt: skip

    # One node, two, then one again: the two one-node figures show how much the order (warm
    # caches, autovacuum) moves a figure, so the two-node one is read against both.
    figures = []
    for nodes in (1, 2, 1):
        if nodes == 1:
            cluster.haproxy.set_state("b", "maint")
            cluster.wait_states({"a": "UP", "b": "MAINT"})
        else:
            cluster.haproxy.set_state("b", "ready")
            cluster.wait_states({"a": "UP", "b": "UP"})
        log(f"{nodes} node(s) behind the balancer ({seconds} s per figure)")
        figures.append(measure(cluster, seconds, scim_env))
    one, two, one_again = figures
    cluster.haproxy.set_state("b", "ready")
    return {
        "members": members,
        "connections": CONNECTIONS,
        "seconds": seconds,
        "one_node": one,
        "two_nodes": two,
        "one_node_again": one_again,
        "two_over_one_lookup_ratio": round(
            2 * two["lookup"]["rps"] / (one["lookup"]["rps"] + one_again["lookup"]["rps"]), 2
        ),
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"\nLookup capacity through HAProxy, {result['connections']} connections, "
          f"{result['members']:,} members, {result['seconds']} s per figure")  # fmt: skip
    print(f"{'topology':<15} {'/healthz req/s':>15} {'lookup req/s':>13} {'lookup p50 ms':>14} "
          f"{'lookup / healthz':>17} {'errors':>7}")  # fmt: skip
    for name in ("one_node", "two_nodes", "one_node_again"):
        row = result[name]
        print(
            f"{name.replace('_', ' '):<15} {row['healthz']['rps']:>15.1f} "
            f"{row['lookup']['rps']:>13.1f} {row['lookup']['p50_ms']:>14.2f} "
            f"{row['lookup_per_healthz_percent']:>16.1f}% "
            f"{row['healthz']['errors'] + row['lookup']['errors']:>7}"
        )
    print(f"two nodes / one node (lookups, one node the mean of its two figures): "
          f"{result['two_over_one_lookup_ratio']:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="load per figure")
    parser.add_argument("--members", type=int, default=1000, help="members of the organization")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nordpass-bench-cluster-"))
    # Far above what the load generator reaches: the figures measure the nodes, not the limit.
    limits = {"SCIM_RATE_LIMIT": "100000", "SCIM_RATE_BURST": "100000", "LOG_LEVEL": "WARNING"}
    cluster = Cluster(workdir, database=DB_NAME, broker_db=BROKER_DB, cache_db=CACHE_DB,
                      env=limits)  # fmt: skip
    with cluster:
        result = run(cluster, args.seconds, args.members, workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    result["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    errors = sum(
        result[name][kind]["errors"] for name in ("one_node", "two_nodes", "one_node_again")
        for kind in ("healthz", "lookup")
    )  # fmt: skip
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
