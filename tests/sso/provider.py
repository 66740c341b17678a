"""A real OpenID Provider on loopback for the single sign-on tests.

Runs panva's `oidc-provider` (an OpenID Certified implementation, tests/sso/op/provider.mjs) under
Node, so the relying party in integrations/oidc.py is proven against a provider that follows the
specification, not against a fake written by the same hands. This module installs it (`npm ci`)
when needed, starts it on 127.0.0.1 at a free port, registers clients, signs accounts in with the
claims a test chooses (Entra ID- or Okta-shaped), rotates the signing keys and stops it.

The signing keys are made here and handed to the provider, so a test can also sign a token with
the provider's real key to shape what oidc-provider itself would never issue.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

OP_DIR = Path(__file__).resolve().parent / "op"
VAR_DIR = Path(__file__).resolve().parents[2] / "var"
INSTALL_LOCK = VAR_DIR / "sso-op-install.lock"
LOG_FILE = VAR_DIR / "sso-op.log"


def ensure_installed() -> None:
    """Installs oidc-provider from tests/sso/op/package-lock.json when node_modules is missing.

    Without Node or npm the SSO tests are skipped with a notice on a developer machine and fail
    under CI=true, where a skipped security test would pass unnoticed.
    """
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not found: the SSO tests need Node 20+ and npm."
        if os.environ.get("CI") == "true":
            pytest.fail(message + " They are required under CI=true.")
        pytest.skip("NOTICE: " + message + " SSO tests skipped.")
    INSTALL_LOCK.parent.mkdir(exist_ok=True)
    # One installer at a time when pytest-xdist workers start together.
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (OP_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
            return
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=OP_DIR,
            check=True,
            timeout=300,
        )


def new_signing_key() -> RSAKey:
    return RSAKey.generate_key(
        2048, parameters={"kid": uuid.uuid4().hex, "use": "sig", "alg": "RS256"}
    )


@dataclass
class TestProvider:
    """One Node process serving one issuer per path (several Entra-like tenants share its keys)."""

    issuer_paths: list[str]
    keys: list[RSAKey] = field(default_factory=lambda: [new_signing_key()])
    port: int = 0
    process: subprocess.Popen[str] | None = None
    log: IO[str] | None = None

    __test__ = False  # not a pytest test class, despite its name

    def start(self) -> TestProvider:
        ensure_installed()
        VAR_DIR.mkdir(exist_ok=True)
        self.log = LOG_FILE.open("a")
        env = {
            **os.environ,
            "OP_ISSUER_PATHS": json.dumps(self.issuer_paths),
            "OP_KEYS": json.dumps([key.as_dict(private=True) for key in self.keys]),
        }
        self.process = subprocess.Popen(
            ["node", str(OP_DIR / "provider.mjs")],
            cwd=OP_DIR,
            env=env,
            stdout=subprocess.PIPE,
            # Its diagnostics (and oidc-provider's note that it prefers Node 22) go to a log file.
            stderr=self.log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise RuntimeError(
                f"The test OpenID Provider did not start (exit {self.process.returncode})."
            )
        self.port = json.loads(line)["port"]
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issuer(self, path: str) -> str:
        return self.base_url + path

    def register_client(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        auth_method: str = "client_secret_basic",
    ) -> None:
        response = requests.post(
            f"{self.base_url}/__op/clients",
            json={
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": auth_method,
            },
            timeout=10,
        )
        response.raise_for_status()

    def rotate_keys(self, *, keep_previous: bool = False) -> RSAKey:
        """Signs with a new key from now on; the old one stays published only if asked."""
        new_key = new_signing_key()
        self.keys = [new_key, *self.keys[:1]] if keep_previous else [new_key]
        response = requests.put(
            f"{self.base_url}/__op/keys",
            json={"keys": [key.as_dict(private=True) for key in self.keys]},
            timeout=10,
        )
        response.raise_for_status()
        return new_key

    def jwks_fetches(self, path: str) -> int:
        response = requests.get(f"{self.base_url}/__op/stats", timeout=10)
        response.raise_for_status()
        return int(response.json()["jwks_fetches"][path])

    def sign(self, claims: dict[str, Any], *, key: RSAKey | None = None, **header: Any) -> str:
        """A token signed with the provider's current key (or another), shaped by the test."""
        signing_key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": signing_key.kid, **header}, claims, signing_key)

    def sign_in(
        self,
        authorization_url: str,
        *,
        account_id: str,
        claims: dict[str, Any],
        amr: list[str] | None = None,
        browser: requests.Session | None = None,
    ) -> dict[str, str]:
        """Follows the authorization request like a browser, signs `account_id` in with `claims`
        at the provider's interaction, and returns the parameters the provider sends back to the
        redirect URI (code and state, or error)."""
        session = browser or requests.Session()
        redirect_uri = parse_qs(urlsplit(authorization_url).query)["redirect_uri"][0]
        url = authorization_url
        logged_in = False
        for _ in range(10):
            if url.startswith(redirect_uri):
                query = parse_qs(urlsplit(url).query)
                return {name: values[0] for name, values in query.items()}
            if "/interaction/" in urlsplit(url).path and not logged_in:
                response = session.post(
                    url.rstrip("/") + "/login",
                    json={"account_id": account_id, "claims": claims, "amr": amr},
                    allow_redirects=False,
                    timeout=10,
                )
                logged_in = True
            else:
                response = session.get(url, allow_redirects=False, timeout=10)
            if response.status_code not in (302, 303):
                raise AssertionError(
                    f"The provider answered {response.status_code} at {url}: {response.text[:500]}"
                )
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("Too many redirects at the test OpenID Provider.")
