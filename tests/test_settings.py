"""Settings are read from the environment and fail closed in production."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from django.conf import settings

PRINT_SETTINGS = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'debug': settings.DEBUG, 'db': settings.DATABASES['default']['ENGINE'], "
    "'broker': settings.CELERY_BROKER_URL, 'email': settings.EMAIL_BACKEND, "
    "'anymail': settings.ANYMAIL, 'hsts': settings.SECURE_HSTS_SECONDS, "
    "'secure_cookie': settings.SESSION_COOKIE_SECURE, 'site_url': settings.SITE_URL, "
    "'cache': settings.CACHES['default']}))"
)


def clean_environment(**env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "ANYMAIL"))}
    for name in (
        "SECRET_KEY",
        "DEBUG",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "EMAIL_BACKEND",
        "SITE_URL",
        "CACHE_URL",
        "TRUSTED_PROXIES",
        "WEB_CONCURRENCY",
    ):
        clean.pop(name, None)
    clean.update(
        {"ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "nordpass_admin.settings", **env}
    )
    return clean


def run_settings(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        env=clean_environment(**env),
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


# --- The cache a production deployment gets ---------------------------------------------------

PRODUCTION = {"SECRET_KEY": "x" * 60, "DATABASE_URL": "postgres://u:p@db.internal:5432/nordpass"}


def test_without_cache_url_a_redis_broker_server_is_the_cache_in_another_database():
    # when
    plain = run_settings(**PRODUCTION, CELERY_BROKER_URL="redis://redis.internal:6379/0")
    last = run_settings(
        **PRODUCTION, CELERY_BROKER_URL="rediss://:secret@redis.internal:6380/15?ssl_cert_reqs=none"
    )
    # then: the broker's server, never the broker's database (a cache clear would empty it)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://redis.internal:6379/1",
    }
    assert last.returncode == 0, last.stderr
    assert json.loads(last.stdout)["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "rediss://:secret@redis.internal:6380/14",
        "OPTIONS": {"ssl_cert_reqs": "none"},
    }


def test_a_failover_broker_url_puts_the_cache_beside_its_first_server():
    # when: Kombu's failover form, several broker URLs separated by ";"
    failover = run_settings(
        **PRODUCTION, CELERY_BROKER_URL="redis://redis-a:6379/0;redis://redis-b:6379/0"
    )
    # then it starts, with the cache on the first server
    assert failover.returncode == 0, failover.stderr
    assert json.loads(failover.stdout)["cache"]["LOCATION"] == "redis://redis-a:6379/1"


def test_an_explicit_cache_url_wins_over_the_broker():
    # when
    result = run_settings(
        **PRODUCTION,
        CELERY_BROKER_URL="redis://redis.internal:6379/0",
        CACHE_URL="locmemcache://",
    )
    # then
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cache"]["BACKEND"].endswith("LocMemCache")


def test_without_redis_the_cache_stays_in_process():
    result = run_settings(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cache"]["BACKEND"].endswith("LocMemCache")


def test_a_malformed_trusted_proxies_stops_the_start_naming_the_entry():
    # when
    result = run_settings(DEBUG="true", TRUSTED_PROXIES="10.0.0.5,10.0.0.300/24")
    # then
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: '10.0.0.300/24' is not an IP address or network" in result.stderr


# --- The scale_out system check ------------------------------------------------------------------

SCALE_OUT_WARNING = "nordpass_admin.W001"


def check_deploy(**env: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env=clean_environment(**env), capture_output=True, text=True,
        cwd=settings.BASE_DIR, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_check_deploy_warns_when_a_multi_process_deployment_keeps_a_per_process_cache():
    # when: PostgreSQL and a Redis broker, but a cache each process keeps for itself
    output = check_deploy(
        **PRODUCTION, CELERY_BROKER_URL="redis://redis.internal:6379/0", CACHE_URL="locmemcache://"
    )
    # then: what is lost, and what to set
    assert SCALE_OUT_WARNING in output
    assert "the database is a server (not SQLite) and the Celery broker is a server" in output
    assert "SCIM rate limit is multiplied by the number of processes" in output
    assert "the SCIM credential cache is off" in output
    assert "sign-in, registration and SCIM authentication-failure throttles" in output
    assert "Set CACHE_URL=redis://" in output


def test_check_deploy_counts_web_concurrency_as_several_processes():
    output = check_deploy(SECRET_KEY="x" * 60, WEB_CONCURRENCY="4")
    assert SCALE_OUT_WARNING in output
    assert "the web server runs 4 worker processes" in output


def test_no_scale_out_warning_for_a_shared_cache_a_single_process_or_debug():
    # the derived Redis cache
    assert SCALE_OUT_WARNING not in check_deploy(
        **PRODUCTION, CELERY_BROKER_URL="redis://redis.internal:6379/0"
    )
    # one process on the embedded defaults
    assert SCALE_OUT_WARNING not in check_deploy(SECRET_KEY="x" * 60)
    # a developer's machine
    assert SCALE_OUT_WARNING not in check_deploy(
        **PRODUCTION, DEBUG="true", CACHE_URL="locmemcache://"
    )


def test_gunicorn_logs_the_scale_out_warning_once_at_start(tmp_path):
    # given: gunicorn with two workers on a per-process cache (SQLite, no broker server)
    log = tmp_path / "gunicorn.log"
    env = clean_environment(
        SECRET_KEY="x" * 60,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_DIR=str(tmp_path / "broker"),
        STATIC_MANIFEST="false",
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # when
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "nordpass_admin.wsgi:application",
         "--config", "python:nordpass_admin.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--graceful-timeout", "3"],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Booting worker") < 2 or SCALE_OUT_WARNING not in (
            log.read_text()
        ):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
    # then: once for the server, naming its two workers
    output = log.read_text()
    assert output.count(SCALE_OUT_WARNING) == 1, output
    assert "the web server runs 2 worker processes" in output
