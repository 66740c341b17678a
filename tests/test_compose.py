"""docker-compose.yml against the Compose Specification's JSON schema, and the rules it cannot say.

No container engine runs on the CI machines, so nothing here starts a container. The schema is
the compose-spec project's `compose-spec.json` as the Docker Compose linter dclint ships it
(schemas/compose.schema.json, refreshed from compose-spec by its maintainers), fetched from npm
at a pinned version and checked against its published integrity: nobody here writes or edits it.
HAProxy checks the balancer's configuration (Debian's haproxy, the same 2.x family as the image).
"""

from __future__ import annotations

import base64
import copy
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from django.conf import settings
from django.urls import resolve

from nordpass_admin.client_address import parse_trusted_proxies

ROOT = Path(settings.BASE_DIR)
COMPOSE_FILE = ROOT / "docker-compose.yml"
HAPROXY_CFG = ROOT / "nordpass_admin" / "deploy" / "haproxy.cfg"
APP_SERVICES = ["migrate", "web", "worker", "beat"]

SCHEMA_PACKAGE = "dclint@3.1.0"
# `npm view dclint@3.1.0 dist.integrity`
SCHEMA_INTEGRITY = (
    "sha512-afTGdzRFUXK4yCpIiEW/LOR+9TOMEDhNldDp56VCWzn7J"
    "DmD451PcUi640GGlMHgbHKJ10rDBm4PtpcBbjqlXw=="
)
SCHEMA_MEMBER = "package/schemas/compose.schema.json"
SCHEMA_CACHE = ROOT / "var" / "compose-spec" / f"{SCHEMA_PACKAGE.replace('@', '-')}.json"

# What `docker compose up` would be given: the one variable the file requires, nothing else.
DEPLOY_ENV = {"SECRET_KEY": "k" * 20 + "Zq8!rT2@vX5#yB7$nM1%pL4^sD6&fG9*hJ0("}


def need_tool(name: str, why: str) -> str:
    """The tool's path; skipped with a notice on a developer machine, a failure under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " It is required under CI=true.")
        pytest.skip("NOTICE: " + message)
    return path


def compose_schema() -> dict[str, Any]:
    """The pinned schema, downloaded once into var/ (npm pack: the package file alone)."""
    if not SCHEMA_CACHE.exists():
        npm = need_tool("npm", "the compose file is validated with the schema from npm.")
        SCHEMA_CACHE.parent.mkdir(parents=True, exist_ok=True)
        with (SCHEMA_CACHE.parent / "download.lock").open("w") as lock:
            fcntl.flock(
                lock, fcntl.LOCK_EX
            )  # one download when pytest-xdist workers start together
            if not SCHEMA_CACHE.exists():
                with tempfile.TemporaryDirectory() as folder:
                    subprocess.run(
                        [npm, "pack", SCHEMA_PACKAGE, "--pack-destination", folder,
                         "--loglevel=error"],
                        check=True, capture_output=True, timeout=120,
                    )  # fmt: skip
                    (archive,) = Path(folder).glob("*.tgz")
                    digest = hashlib.sha512(archive.read_bytes()).digest()
                    integrity = "sha512-" + base64.b64encode(digest).decode()
                    assert integrity == SCHEMA_INTEGRITY, f"{SCHEMA_PACKAGE} is not the pinned one"
                    with tarfile.open(archive) as package:
                        member = package.extractfile(SCHEMA_MEMBER)
                        assert member is not None
                        text = member.read().decode()
                partial = SCHEMA_CACHE.with_suffix(".partial")
                partial.write_text(text)
                partial.replace(SCHEMA_CACHE)
    return json.loads(SCHEMA_CACHE.read_text())


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution (`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
    `${VAR:?error}`, `${VAR?error}`, `${VAR:+alternative}`), applied to every string."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            return env[name] if present else arg
        if op in (":?", "?"):
            if not present:
                raise ValueError(f"required variable {name} is missing: {arg}")
            return env[name]
        if op in (":+", "+"):
            return arg if present else ""
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), DEPLOY_ENV if env is None else env)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


# --- The Compose Specification --------------------------------------------------------------------


def test_the_compose_file_is_valid_against_the_compose_specification(compose):
    # given
    validator = jsonschema.Draft7Validator(compose_schema())
    # then
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(compose)
    ]
    assert errors == []


def test_the_schema_rejects_what_compose_would_reject(compose):
    """The validator is live: the same file with a misspelt key and a malformed port fails."""
    # given
    validator = jsonschema.Draft7Validator(compose_schema())
    broken = copy.deepcopy(compose)
    broken["services"]["web"]["replica"] = 3
    broken["services"]["balancer"]["ports"] = "8000:8000"
    # when
    errors = list(validator.iter_errors(broken))
    # then
    assert {tuple(error.absolute_path)[:3] for error in errors} >= {
        ("services", "web"),
        ("services", "balancer", "ports"),
    }


def test_compose_refuses_to_start_without_a_secret_key():
    with pytest.raises(ValueError, match="SECRET_KEY"):
        load_compose({})


# --- What the schema cannot say -------------------------------------------------------------------


def test_only_the_balancer_publishes_the_http_port(compose):
    services = compose["services"]
    publishing = {name for name, service in services.items() if service.get("ports")}
    # Mailpit's inbox stays on the host's loopback; everything else is reached through the balancer.
    assert publishing == {"balancer", "mailpit"}
    assert services["balancer"]["ports"] == ["8000:8000"]
    assert all(port.startswith("127.0.0.1:") for port in services["mailpit"]["ports"])
    for name in APP_SERVICES:
        assert "ports" not in services[name], name
    assert load_compose({**DEPLOY_ENV, "HTTP_PORT": "80"})["services"]["balancer"]["ports"] == [
        "80:8000"
    ]


def test_web_exposes_the_port_gunicorn_binds_and_the_balancer_forwards_to(compose):
    web = compose["services"]["web"]
    bind = next(arg for arg in web["command"] if arg.startswith("--bind="))
    port = bind.rsplit(":", 1)[1]
    assert [str(item) for item in web["expose"]] == [port]
    config = HAPROXY_CFG.read_text()
    assert re.search(rf"^\s+server-template web- \d+ web:{port} .*\bcheck\b", config, re.M)
    balancer_port = compose["services"]["balancer"]["ports"][0].rsplit(":", 1)[1]
    assert re.search(rf"^\s+bind :{balancer_port}$", config, re.M)


def test_beat_is_never_scaled(compose):
    beat = compose["services"]["beat"]
    assert beat.get("scale", 1) == 1
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert beat["command"][3] == "beat"


def test_web_trusts_only_the_balancer_s_fixed_address(compose):
    # given
    (pool,) = compose["networks"]["default"]["ipam"]["config"]
    subnet = ipaddress.ip_network(pool["subnet"])
    balancer = compose["services"]["balancer"]["networks"]["default"]["ipv4_address"]
    # then: the balancer has a fixed address on that network, and web trusts exactly it (never
    # the whole network, whose gateway relays connections from the host)
    assert ipaddress.ip_address(balancer) in subnet
    assert "networks" not in compose["services"]["web"]
    trusted = compose["services"]["web"]["environment"]["TRUSTED_PROXIES"].split(",")
    assert parse_trusted_proxies(trusted) == (ipaddress.ip_network(balancer),)
    # and the variables move both
    moved = load_compose(
        {**DEPLOY_ENV, "NETWORK_SUBNET": "10.77.0.0/24", "BALANCER_ADDRESS": "10.77.0.10"}
    )
    assert moved["services"]["web"]["environment"]["TRUSTED_PROXIES"] == "10.77.0.10"
    assert moved["networks"]["default"]["ipam"]["config"] == [{"subnet": "10.77.0.0/24"}]
    assert moved["services"]["balancer"]["networks"]["default"]["ipv4_address"] == "10.77.0.10"


def test_every_dependency_and_volume_names_something_defined(compose):
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dependency in depends if isinstance(depends, list) else depends.keys():
            assert dependency in services, f"{name} depends on undefined {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undefined volume {source}"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_app_service_environment_starts_the_production_settings(compose, service, tmp_path):
    """The environment compose gives each service, as is: the settings load, the cache is the
    shared Redis, and the deploy checks find no error and no per-process cache."""
    # given
    environment = {
        key: str(value) for key, value in compose["services"][service]["environment"].items()
    }
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        host = urlsplit(environment[name]).hostname
        assert host in compose["services"], f"{name} names {host}, not a service"
    assert environment["EMAIL_HOST"] in compose["services"]
    postgres = compose["services"]["db"]["environment"]
    assert environment["DATABASE_URL"] == (
        f"postgres://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@db:5432/{postgres['POSTGRES_DB']}"
    )
    # when: `manage.py check --deploy` in that environment (nothing is connected to); the metrics
    # folder, a tmpfs path in the container, is this test's own
    if "PROMETHEUS_MULTIPROC_DIR" in environment:
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, **environment, "ENV_FILE": "/dev/null"},
    )  # fmt: skip
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nordpass_admin.W001" not in result.stdout + result.stderr


# --- The balancer's configuration -----------------------------------------------------------------


def test_haproxy_accepts_the_balancer_configuration_without_warnings():
    haproxy = need_tool("haproxy", "the balancer's configuration is checked with `haproxy -c`.")
    # The resolvers and server-template lines need no DNS to check (init-addr none).
    result = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=30
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    assert "WARNING" not in output and "ALERT" not in output, output


def test_the_balancer_image_is_pinned_to_a_haproxy_at_least_as_new_as_the_one_that_checks_it(
    compose,
):
    image = compose["services"]["balancer"]["image"]
    match = re.fullmatch(r"haproxy:(\d+)\.(\d+)(?:\.\d+)?(?:-alpine)?", image)
    assert match, f"{image}: pin HAProxy by version (an alpine tag: the healthcheck uses wget)"
    assert (int(match[1]), int(match[2])) >= (2, 6)
    haproxy = shutil.which("haproxy")
    if haproxy:
        version = subprocess.run([haproxy, "-v"], capture_output=True, text=True, timeout=30)
        checked = re.search(r"version (\d+)\.(\d+)", version.stdout)
        assert checked and (int(match[1]), int(match[2])) >= (int(checked[1]), int(checked[2]))
    volumes = compose["services"]["balancer"]["volumes"]
    assert volumes == ["./nordpass_admin/deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"]


def test_the_balancer_health_checks_readyz_and_expects_200():
    config = HAPROXY_CFG.read_text()
    backend = re.split(r"^backend web$", config, flags=re.M)[1].split("\nbackend ", 1)[0]
    path = re.search(r"http-check send meth GET uri (\S+)", backend)
    assert path and resolve(path[1]).url_name == "readyz"
    assert re.search(r"http-check expect status 200$", backend, re.M)
    host = re.search(r"hdr Host (\S+)", backend)
    assert host and host[1] in load_compose()["services"]["web"]["environment"][
        "ALLOWED_HOSTS"
    ].split(",")


def _directives(config: str) -> set[str]:
    """Each configuration line without comments and surplus spaces."""
    lines = (line.split("#", 1)[0].strip() for line in config.splitlines())
    return {" ".join(line.split()) for line in lines if line}


def test_the_balancer_and_make_cluster_share_the_same_retry_and_connection_rules(tmp_path):
    # given the production balancer's configuration and the one `make cluster` (and its failure
    # tests) runs, whose servers are fixed addresses instead of Docker's DNS
    from nordpass_admin.cluster.haproxy import Upstream, render_config

    production = _directives(HAPROXY_CFG.read_text())
    cluster = _directives(
        render_config(
            port=8080,
            upstreams=[Upstream("a", "127.0.0.2", 8001), Upstream("b", "127.0.0.3", 8002)],
            admin_socket=tmp_path / "haproxy.sock",
        )
    )

    # then what the cluster's tests prove about replays and restarts holds in production too
    for rule in (
        "retries 3",
        "option redispatch 1",
        "option http-server-close",
        "option forwardfor",
        "option httpchk",
        "http-check expect status 200",
    ):
        assert rule in production and rule in cluster, rule
    for rules in (production, cluster):
        (retry_on,) = [rule for rule in rules if rule.startswith("retry-on ")]
        assert "conn-failure" in retry_on.split()
        (no_replay,) = [rule for rule in rules if "disable-l7-retry" in rule]
        assert re.fullmatch(r"http-request disable-l7-retry unless METH_GET( \|\| \S+)*", no_replay)
        assert any(re.search(r"http-check send meth GET uri /readyz ", rule) for rule in rules)
