"""Hardening that holds for every page: CSP, sign-in throttling, and Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, OwnerFactory

pytestmark = pytest.mark.django_db


def test_every_page_has_a_strict_content_security_policy(client):
    for url in ("/login/", "/password-reset/", "/healthz"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"


def test_sign_in_is_throttled_after_repeated_failures(settings):
    settings.SIGNIN_FAILURE_LIMIT = 3
    owner = OwnerFactory(email="target@contoso.com")
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(3):
        response = client.post("/login/", {"username": owner.email, "password": "guess"})
        assert b"do not match" in response.content
    # the right password is now refused too, without being checked
    response = client.post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session
    # another address is not affected
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert other.login(username=owner.email, password=DEFAULT_PASSWORD)


def test_successful_sign_ins_do_not_count_as_failures(settings):
    settings.SIGNIN_FAILURE_LIMIT = 2
    owner = OwnerFactory()
    client = Client(REMOTE_ADDR="198.51.100.8")
    for _ in range(4):
        response = client.post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
        assert response.status_code == 302
        client.post("/logout/")


def test_check_deploy_is_clean_under_production_settings():
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
        },
        "ENV_FILE": "/dev/null",
        "DEBUG": "false",
        "SECRET_KEY": "k" * 20 + "Zq8!rT2@vX5#yB7$nM1%pL4^sD6&fG9*hJ0(",
        "SITE_URL": "https://admin.example.com",
        "ALLOWED_HOSTS": "admin.example.com",
        "BEHIND_TLS_PROXY": "true",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
