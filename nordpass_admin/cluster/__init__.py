"""The scale-out topology on one machine, on loopback: `make cluster`, and the cluster tests.

    client ──► HAProxy 127.0.0.1:<port>  (/readyz checks, retries connection failures)
                 ├──► web a  127.0.0.2  gunicorn master, 2 workers x 4 threads
                 └──► web b  127.0.0.3  gunicorn master, 2 workers x 4 threads
    worker w1, worker w2 (Celery, prefork x 2), beat ──► Redis: broker db, cache db
    every process ──► PostgreSQL: the cluster's own database;   email ──► SMTP sink

Each web node keeps its own process memory (verified tokens, the provisioning-log batch);
the rate limits, credential generations and the Celery queue live in Redis, everything else in
PostgreSQL. Each process runs in a session of its own, so a node can be SIGKILLed with its
workers. `processes` starts and stops processes, `haproxy` renders the balancer's configuration
and talks to its runtime API, `topology` is the `Cluster`, `__main__` the command.
"""

from nordpass_admin.cluster.topology import Cluster, ClusterUnavailable, Node

__all__ = ["Cluster", "ClusterUnavailable", "Node"]
