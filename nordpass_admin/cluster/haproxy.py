"""HAProxy in front of the web nodes: its configuration, and a client for its runtime API.

References are HAProxy 2.6's configuration manual (Debian: /usr/share/doc/haproxy/
configuration.txt.gz) and management guide (management.txt.gz, "Unix Socket commands").
"""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass
from pathlib import Path

BACKEND = "web"


@dataclass(frozen=True)
class Upstream:
    name: str
    address: str
    port: int


def render_config(*, port: int, upstreams: list[Upstream], admin_socket: Path) -> str:
    """The configuration: one frontend on 127.0.0.1:<port>, one backend with the web nodes.

    Retries, and why only these:
    - `conn-failure` (the request was never sent: the node is gone or not listening yet) is
      retried for every method, on another node (`option redispatch 1`: each retry may pick
      another server; HAProxy waits min(timeout connect, 1 s) only before a retry on the same
      one). Nothing reached a node, so nothing can be done twice.
    - `empty-response` (the connection closed after the request was sent and before any answer:
      a node killed mid-request) is retried only for GET and HEAD. A POST, PATCH, PUT or DELETE
      that reached a node may have been committed there: replaying it blindly could create a
      second resource or, for a SCIM create, turn the caller's success into a 409. The client
      gets the 502 and decides, as an identity provider does (Entra ID retries and, on a 409 for
      a create, looks the user up). A request that was not the first on its client connection
      gets no 502 but the connection closed, as a server closing a kept-alive connection would
      do, which clients retry the same way (and HAProxy does not log it).
    - No retry on a node's own 5xx or on a timeout: those are answers, or a slow request that a
      replay would only make slower for everyone.

    `option http-server-close`: every request gets a connection of its own to a node, so a node
    drained for a restart receives nothing new at once, and no request is ever sent on a kept-alive
    connection the node is closing at that moment (a race that would otherwise reach a client
    as an error). On loopback a connection costs far less than the request it carries.
    """
    servers = "\n".join(
        f"    server {upstream.name} {upstream.address}:{upstream.port}" for upstream in upstreams
    )
    return f"""\
global
    log stdout format raw local0 info
    stats socket {admin_socket} mode 600 level admin
    stats timeout 10s
    maxconn 2000

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 30s
    timeout check 2s

frontend panel_and_scim
    bind 127.0.0.1:{port}
    # The client's address for the nodes (their own peer is always this balancer).
    option forwardfor
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option http-server-close
    # Ready means the database and the broker answer (nordpass_admin/health.py); the Host header
    # is one the nodes' ALLOWED_HOSTS accept.
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server check inter 1s fastinter 500ms downinter 1s fall 2 rise 2
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    http-request disable-l7-retry unless METH_GET
    # Which node answered, for tests and for anyone reading a response by hand.
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


class RuntimeApi:
    """HAProxy's runtime API on its admin socket (management guide, section 9.3)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def command(self, line: str, timeout: float = 5) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(str(self.path))
            connection.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> list[dict[str, str]]:
        """`show stat` for the backend's servers, one dict per server (CSV fields by name)."""
        output = self.command(f"show stat {BACKEND} 4 -1")
        rows = list(csv.DictReader(io.StringIO(output.lstrip("# "))))
        return [row for row in rows if row.get("svname")]

    def server_states(self) -> dict[str, str]:
        """Each server's state as the balancer sees it: UP, DOWN, DRAIN or MAINT.

        HAProxy's status also shows transitions ("UP 1/2": one check failed, "DOWN 1/2": one
        passed); a server keeps its state until the transition completes, so only the first
        word counts. NOLB (up, but refusing new traffic) is reported as DRAIN.
        """
        states = {}
        for row in self.servers():
            status = row["status"].split(" ", 1)[0]
            states[row["svname"]] = {"NOLB": "DRAIN"}.get(status, status)
        return states

    def sessions(self, server: str) -> int:
        """Requests the server is handling now (its current sessions)."""
        for row in self.servers():
            if row["svname"] == server:
                return int(row["scur"] or 0)
        raise KeyError(server)

    def set_state(self, server: str, state: str) -> None:
        """`ready`, `drain` (no new requests, checks go on) or `maint` (no traffic, no checks)."""
        if state not in ("ready", "drain", "maint"):
            raise ValueError(state)
        answer = self.command(f"set server {BACKEND}/{server} state {state}").strip()
        if answer:
            raise RuntimeError(f"HAProxy refused 'set server {server} state {state}': {answer}")
