"""Stopping the session's real Keycloak and starting it again with the same secrets.

A restart is a new `start-dev` on the in-memory database: the realm is imported again from
keycloak/realm-techstore.json, with the same client secrets but new signing keys, so tokens
signed before the restart no longer verify against the realm's JWKS.
"""

from __future__ import annotations

import os
import subprocess
import time
from urllib.parse import urlsplit

import requests

from tests.keycloak_server import ROOT, Keycloak, is_ready

TIMEOUT = (3, 10)


def signing_kids(keycloak: Keycloak) -> set[str]:
    """The `kid`s of the realm's RS256 signing keys, straight from Keycloak."""
    response = requests.get(f"{keycloak.url}/realms/techstore/protocol/openid-connect/certs", timeout=TIMEOUT)
    response.raise_for_status()
    return {key["kid"] for key in response.json()["keys"] if key.get("use", "sig") == "sig" and key["alg"] == "RS256"}


def stop(keycloak: Keycloak) -> None:
    """Stop it as the session fixture does: SIGTERM to its process group, SIGKILL after 30 s."""
    keycloak.stop()


def start_again(keycloak: Keycloak, *, timeout: float = 240) -> float:
    """Start Keycloak on its port with the secrets it had; seconds until the realm answers.

    Its output goes on in the session's Keycloak log (other tests read that file).
    """
    log_path = getattr(keycloak, "log_path", None) or ROOT / "var" / "keycloak-test.log"
    port = urlsplit(keycloak.url).port
    env = {
        **os.environ,
        **keycloak.secrets,
        "KEYCLOAK_PORT": str(port),
        # As the session fixture chose it (tests/integration/conftest.py).
        "KEYCLOAK_MANAGEMENT_PORT": os.environ.get("KEYCLOAK_TEST_MANAGEMENT_PORT", "19000"),
        "KEYCLOAK_PUBLIC_URL": keycloak.public_url,
    }
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        keycloak.process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "keycloak.sh"), "start"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while not is_ready(keycloak.url):
        if keycloak.process.poll() is not None or time.monotonic() - started > timeout:
            raise RuntimeError(f"Keycloak did not start again (see {log_path}):\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    return time.monotonic() - started
