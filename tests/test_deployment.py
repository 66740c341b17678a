"""docker-compose.yml and the Dockerfile point at modules, settings and ports that exist.

Docker cannot run on the CI machines, so this reads the files and checks each reference
(tests/test_compose.py validates the compose file against the Compose Specification).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import resolve

ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ["migrate", "web", "worker", "beat"]


def settings_source() -> str:
    return (ROOT / "nordpass_admin" / "settings.py").read_text()


def test_compose_defines_the_production_services():
    assert {"balancer", "web", "worker", "beat", "db", "redis", "mailpit"} <= set(SERVICES)
    for name in ("balancer", "web", "worker", "db", "redis", "mailpit"):
        assert "healthcheck" in SERVICES[name], name
    assert {"postgres-data", "redis-data"} <= set(COMPOSE["volumes"])


def test_gunicorn_serves_the_wsgi_application_on_the_exposed_port():
    command = SERVICES["web"]["command"]
    assert command[0] == "gunicorn"
    module, attribute = command[1].split(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    bind = next(arg for arg in command if arg.startswith("--bind="))
    port = bind.rsplit(":", 1)[1]
    assert [str(exposed) for exposed in SERVICES["web"]["expose"]] == [port]
    health = " ".join(SERVICES["web"]["healthcheck"]["test"])
    path = re.search(rf"127\.0\.0\.1:{port}(/\w+)", health).group(1)
    assert resolve(path).url_name == "readyz"


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_celery_services_load_the_project_app(service):
    command = SERVICES[service]["command"]
    assert command[:3] == ["celery", "-A", "nordpass_admin"]
    assert command[3] == service
    assert importlib.import_module(command[2]).celery_app.main == "nordpass_admin"


def test_migrate_service_runs_an_existing_management_command():
    command = SERVICES["migrate"]["command"]
    assert command[:2] == ["python", "manage.py"] and command[2] in get_commands()


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_set_only_variables_the_settings_read(service):
    environment = SERVICES[service]["environment"]
    source = settings_source()
    for name in environment:
        if name.startswith("ANYMAIL_"):  # settings.py maps every ANYMAIL_* variable
            assert 'startswith("ANYMAIL_")' in source
            continue
        assert f'"{name}"' in source, f"{service} sets {name}, which settings.py never reads"
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:")


def test_every_environment_variable_in_settings_is_documented():
    documented = (ROOT / ".env.example").read_text() + (ROOT / "README.md").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings_source()))
    assert read, "no variables found"
    missing = sorted(name for name in read if name not in documented)
    assert not missing, f"not documented in .env.example or README: {missing}"


def test_dockerfile_runs_the_same_server_and_collects_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "collectstatic" in dockerfile
    assert '"nordpass_admin.wsgi:application"' in dockerfile
    assert "requirements.txt" in dockerfile
