"""docker-compose's balancer configuration, running: HAProxy with nordpass_admin/deploy/haproxy.cfg.

No container runs here, so the compose network is played on loopback: a DNS server of the test's
own answers `web` with one address per replica, as Docker's DNS does (127.0.0.2 and 127.0.0.3),
and each replica is a small HTTP server whose readiness and failures the test sets. Only the
addresses change in the configuration (the public port, the DNS server, the replica port: all on
loopback, at free ports); every rule the balancer applies is the file's own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from django.conf import settings

from tests.dns_server import LoopbackDns, loopback_dns
from tests.support import free_port

HAPROXY_CFG = Path(settings.BASE_DIR) / "nordpass_admin" / "deploy" / "haproxy.cfg"
REPLICA_ADDRESSES = ("127.0.0.2", "127.0.0.3")


@dataclass
class Replica:
    """A web replica: /readyz and /healthz as the application answers them, and every other
    request recorded; `/die` closes the connection without an answer (a replica killed while
    handling it), `/slow` answers after a second."""

    address: str
    port: int
    ready: bool = True
    received: list[tuple[str, str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Replica:
        replica = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def do_PATCH(self) -> None:
                self.answer()

            def do_DELETE(self) -> None:
                self.answer()

            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path in ("/readyz", "/healthz"):
                    ready = replica.ready or self.path == "/healthz"
                    self.reply(200 if ready else 503, {"status": "ok" if ready else "failing"})
                    return
                forwarded = ", ".join(self.headers.get_all("X-Forwarded-For") or [])
                replica.received.append((self.command, self.path, forwarded))
                if self.path == "/die":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if self.path == "/slow":
                    time.sleep(1)
                self.reply(200, {"replica": replica.address, "forwarded_for": forwarded})

            def reply(self, status: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((self.address, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Closes the listening socket: new connections are refused, as by a stopped gunicorn."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@dataclass
class Balancer:
    port: int
    health_port: int
    process: subprocess.Popen[str]
    log: Path

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, f"http://127.0.0.1:{self.port}{path}", timeout=10, **kwargs)

    def replica_of(self, response: requests.Response) -> str:
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()["replica"]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def loopback_configuration(port: int, health_port: int, dns: LoopbackDns, replica_port: int) -> str:
    text = HAPROXY_CFG.read_text()
    replacements = [
        (r"^(\s+bind) :8000$", rf"\1 127.0.0.1:{port}"),
        (r"^(\s+bind) 127\.0\.0\.1:8404$", rf"\1 127.0.0.1:{health_port}"),
        (r"^(\s+nameserver dns) 127\.0\.0\.11:53$", rf"\1 {dns.address}"),
        (r" web:8000 ", f" web:{replica_port} "),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text, flags=re.M)
        assert count >= 1, f"{pattern} not found in haproxy.cfg"
    return text


@contextmanager
def compose_network(tmp_path: Path) -> Iterator[tuple[Balancer, list[Replica]]]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        if os.environ.get("CI") == "true":
            pytest.fail("haproxy not found: it is required under CI=true.")
        pytest.skip("NOTICE: haproxy not found: the balancer configuration is not run.")
    replica_port = free_port()
    replicas = [Replica(address, replica_port).start() for address in REPLICA_ADDRESSES]
    with loopback_dns() as dns:
        dns.publish_a("web", *REPLICA_ADDRESSES)
        port, health_port = free_port(), free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(loopback_configuration(port, health_port, dns, replica_port))
        log = tmp_path / "haproxy.log"
        process = subprocess.Popen(
            [haproxy, "-db", "-f", str(config)],
            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        balancer = Balancer(port, health_port, process, log)
        try:

            def both_replicas_serve() -> bool:
                assert process.poll() is None, log.read_text()
                try:
                    seen = {balancer.request("GET", "/who").json()["replica"] for _ in range(6)}
                except (requests.RequestException, ValueError):
                    return False
                return seen == set(REPLICA_ADDRESSES)

            wait_until(both_replicas_serve, timeout=30, what="both replicas behind the balancer")
            for replica in replicas:
                replica.received.clear()
            yield balancer, replicas
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            for replica in replicas:
                replica.stop()


def test_the_balancer_finds_every_replica_through_dns_and_forwards_the_client(tmp_path):
    with compose_network(tmp_path) as (balancer, _replicas):
        # when: a client that sends its own X-Forwarded-For
        response = balancer.request("GET", "/who", headers={"X-Forwarded-For": "198.51.100.66"})
        # then: the balancer appended the address it received the request from
        assert response.status_code == 200
        assert response.json()["forwarded_for"] == "198.51.100.66, 127.0.0.1"
        # and the health endpoint for docker-compose answers
        health = requests.get(f"http://127.0.0.1:{balancer.health_port}/healthz", timeout=5)
        assert health.status_code == 200


def test_a_replica_that_is_not_ready_gets_no_traffic_and_none_ready_falls_back_to_alive(tmp_path):
    with compose_network(tmp_path) as (balancer, (first, second)):
        # when: the first replica's /readyz fails
        first.ready = False

        def only_second() -> bool:
            replicas = {balancer.replica_of(balancer.request("GET", "/who")) for _ in range(6)}
            return replicas == {second.address}

        # then: within a few checks every request goes to the second
        wait_until(only_second, timeout=15, what="the first replica taken out")
        # when: neither is ready (as when only the Celery broker is down)
        second.ready = False

        def both_alive() -> bool:
            replicas = {balancer.replica_of(balancer.request("GET", "/who")) for _ in range(6)}
            return replicas == {first.address, second.address}

        # then: requests still reach the replicas that are alive, not a 503 from the balancer
        wait_until(both_alive, timeout=15, what="the fallback to alive replicas")


def test_a_refused_connection_is_retried_on_another_replica_for_every_method(tmp_path):
    with compose_network(tmp_path) as (balancer, (first, second)):
        # when: the first replica stops listening, before any health check notices
        first.stop()
        answers = [balancer.request("POST", "/scim/v2/x/Users", data="{}") for _ in range(8)]
        # then: every request, POST included (it never reached an application), was served
        assert [balancer.replica_of(answer) for answer in answers] == [second.address] * 8
        assert len(second.received) == 8


def test_a_replica_dying_mid_request_is_replayed_for_get_and_never_for_post(tmp_path):
    with compose_network(tmp_path) as (balancer, replicas):
        # when: a GET reaches a replica that dies while handling it
        get = balancer.request("GET", "/die")
        # then: tried again (`retries 3`), each time on the other replica; every replica dies
        # on /die, so the client gets 502 in the end
        assert get.status_code == 502
        attempts = [(r.address, method) for r in replicas for method, _, _ in r.received]
        assert len(attempts) == 4 and {method for _, method in attempts} == {"GET"}
        assert {address for address, _ in attempts} == set(REPLICA_ADDRESSES)
        for replica in replicas:
            replica.received.clear()
        # when: a POST, a PATCH and a DELETE do the same (without a body: HAProxy would replay
        # those, while one with a body it has already streamed it cannot)
        for method in ("POST", "PATCH", "DELETE"):
            for replica in replicas:
                replica.received.clear()
            answer = balancer.request(method, "/die")
            # then: not replayed, since it may have been applied
            assert answer.status_code == 502
            assert [m for r in replicas for m, _, _ in r.received] == [method]


def test_a_stopping_balancer_finishes_the_requests_in_flight(tmp_path):
    with compose_network(tmp_path) as (balancer, _replicas):
        # given: a request in flight
        result: dict[str, requests.Response] = {}
        in_flight = threading.Thread(
            target=lambda: result.update(slow=balancer.request("GET", "/slow"))
        )
        in_flight.start()
        time.sleep(0.3)
        # when: the signal docker-compose stops the balancer with
        compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
        stop_signal = compose["services"]["balancer"]["stop_signal"]
        balancer.process.send_signal(getattr(signal, stop_signal))
        in_flight.join(timeout=10)
        # then: the request in flight got its answer, and the balancer exited
        assert result["slow"].status_code == 200
        assert balancer.process.wait(timeout=10) == 0
