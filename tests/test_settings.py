"""Settings are read from the environment and fail closed in production."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

PRINT_SETTINGS = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'debug': settings.DEBUG, 'db': settings.DATABASES['default']['ENGINE'], "
    "'broker': settings.CELERY_BROKER_URL, 'email': settings.EMAIL_BACKEND, "
    "'anymail': settings.ANYMAIL, 'hsts': settings.SECURE_HSTS_SECONDS, "
    "'secure_cookie': settings.SESSION_COOKIE_SECURE, 'site_url': settings.SITE_URL}))"
)


def run_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "ANYMAIL"))}
    for name in (
        "SECRET_KEY",
        "DEBUG",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "EMAIL_BACKEND",
        "SITE_URL",
        "TRUSTED_PROXIES",
    ):
        clean.pop(name, None)
    clean.update(
        {"ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "nordpass_admin.settings", **env}
    )
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        env=clean,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_production_without_secret_key_refuses_to_start_with_a_clear_message():
    result = run_settings(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_off_is_the_default():
    result = run_settings()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_embedded_defaults_need_no_server():
    result = run_settings(DEBUG="true")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["broker"] == "filesystem://"
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"


def test_production_values_come_from_the_environment():
    result = run_settings(
        SECRET_KEY="x" * 60,
        DATABASE_URL="postgres://u:p@db.internal:5432/nordpass",
        CELERY_BROKER_URL="redis://redis.internal:6379/0",
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN="server-token",
        SITE_URL="https://admin.example.com/",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is False
    assert values["db"] == "nordpass_admin.db.postgresql"  # Django's backend, idle-only checks
    assert values["broker"] == "redis://redis.internal:6379/0"
    assert values["anymail"] == {"POSTMARK_SERVER_TOKEN": "server-token"}
    assert values["site_url"] == "https://admin.example.com"
    assert values["hsts"] == 31536000 and values["secure_cookie"] is True


def test_a_malformed_trusted_proxies_stops_the_start_naming_the_entry():
    # when
    result = run_settings(DEBUG="true", TRUSTED_PROXIES="10.0.0.5,10.0.0.300/24")
    # then
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: '10.0.0.300/24' is not an IP address or network" in result.stderr
