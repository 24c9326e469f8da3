"""A real Keycloak for the integration tests: started from scripts/keycloak.sh, or reused."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
REALM = "techstore"
SECRET_NAMES = (
    "SHOP_API_CLIENT_SECRET",
    "REPORTING_JOB_CLIENT_SECRET",
    "SHOP_WEB_CLIENT_SECRET",
    "KEYCLOAK_DEMO_PASSWORD",
    "KC_BOOTSTRAP_ADMIN_USERNAME",
    "KC_BOOTSTRAP_ADMIN_PASSWORD",
)
TIMEOUT = (3, 10)


def is_ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/realms/{REALM}/.well-known/openid-configuration", timeout=TIMEOUT).ok
    except requests.RequestException:
        return False


@dataclass
class Keycloak:
    """Handles to a running Keycloak: its URLs, the realm's secrets, and admin operations."""

    url: str  # how the services reach it
    public_url: str  # the issuer's host, pinned with --hostname
    secrets: dict[str, str]
    started_in: float | None = None  # seconds, when this test run started it
    log_path: Path | None = None  # its output, when this test run started it
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        return f"{self.public_url}/realms/{REALM}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/realms/{REALM}/protocol/openid-connect/token"

    def client_credentials(self, client_id: str, secret: str) -> requests.Response:
        """The seed's curl test: a plain form POST to the token endpoint."""
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        return requests.post(self.token_url, data=data, timeout=TIMEOUT)

    def service_token(self, client_id: str = "shop-api") -> str:
        secret_name = client_id.upper().replace("-", "_") + "_CLIENT_SECRET"
        response = self.client_credentials(client_id, self.secrets[secret_name])
        response.raise_for_status()
        return response.json()["access_token"]

    def user_token(self, username: str = "demo") -> str:
        """A customer's access token, through the test-only public client's password grant."""
        data = {
            "grant_type": "password",
            "client_id": "test-cli",
            "username": username,
            "password": self.secrets["KEYCLOAK_DEMO_PASSWORD"],
            "scope": "openid",
        }
        response = requests.post(self.token_url, data=data, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()["access_token"]

    def admin(self) -> requests.Session:
        """A session on the admin REST API, as the bootstrap admin of the master realm."""
        response = requests.post(
            f"{self.url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": self.secrets["KC_BOOTSTRAP_ADMIN_USERNAME"],
                "password": self.secrets["KC_BOOTSTRAP_ADMIN_PASSWORD"],
            },
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return session

    def rotate_signing_key(self) -> None:
        """Add a higher-priority RS256 key and make the current ones passive (Keycloak's rotation)."""
        admin = self.admin()
        base = f"{self.url}/admin/realms/{REALM}"
        realm_id = admin.get(base, timeout=TIMEOUT).json()["id"]
        components = admin.get(
            f"{base}/components", params={"type": "org.keycloak.keys.KeyProvider"}, timeout=TIMEOUT
        ).json()
        old_rsa = [c for c in components if c["providerId"] == "rsa-generated"]
        created = admin.post(
            f"{base}/components",
            json={
                "name": f"rsa-rotated-{int(time.time())}",
                "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": realm_id,
                "config": {
                    "priority": ["1000"],
                    "enabled": ["true"],
                    "active": ["true"],
                    "algorithm": ["RS256"],
                    "keySize": ["2048"],
                },
            },
            timeout=TIMEOUT,
        )
        created.raise_for_status()
        for component in old_rsa:  # a partial update is refused: send the whole component back
            component["config"]["active"] = ["false"]
            admin.put(f"{base}/components/{component['id']}", json=component, timeout=TIMEOUT).raise_for_status()

    def set_access_token_lifespan(self, seconds: int) -> None:
        admin = self.admin()
        admin.put(
            f"{self.url}/admin/realms/{REALM}", json={"accessTokenLifespan": seconds}, timeout=TIMEOUT
        ).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def start_or_reuse(*, port: int, management_port: int, log_path: Path, timeout: float = 240) -> Keycloak:
    """Reuse a healthy Keycloak whose secrets are in the environment, or start a fresh one."""
    url = f"http://127.0.0.1:{port}"
    public_url = f"http://localhost:{port}"
    if is_ready(url):
        known = {name: os.environ.get(name, "") for name in (*SECRET_NAMES, "SHOP_API_SIGNING_PUBLIC_KEY")}
        key_file = os.environ.get("M2M_AUTH_CLIENT_PRIVATE_KEY_FILE", "")
        known["SHOP_API_SIGNING_KEY_PEM"] = Path(key_file).read_text() if key_file else ""
        missing = [name for name, value in known.items() if not value]
        if missing:
            raise RuntimeError(
                f"A Keycloak already answers on {url} but its secrets are unknown: export {', '.join(missing)} "
                "(from its .env) or stop it."
            )
        return Keycloak(url=url, public_url=public_url, secrets=known)
    generated = {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}
    generated["KC_BOOTSTRAP_ADMIN_USERNAME"] = "test-admin"
    generated["SHOP_API_SIGNING_KEY_PEM"], generated["SHOP_API_SIGNING_PUBLIC_KEY"] = signing_key_pair()
    env = {
        **os.environ,
        **generated,
        "KEYCLOAK_PORT": str(port),
        "KEYCLOAK_MANAGEMENT_PORT": str(management_port),
        "KEYCLOAK_PUBLIC_URL": public_url,
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own script
            ["bash", str(ROOT / "scripts" / "keycloak.sh"), "start"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    keycloak = Keycloak(url=url, public_url=public_url, secrets=generated, process=process, log_path=log_path)
    while not is_ready(url):
        if process.poll() is not None or time.monotonic() - started > timeout:
            keycloak.stop()
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Keycloak did not start (see {log_path}):\n{tail}")
        time.sleep(0.5)
    keycloak.started_in = time.monotonic() - started
    return keycloak


def signing_key_pair() -> tuple[str, str]:
    """A private key PEM for shop-api-signed and its public key as the realm file wants it."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode()


def decode_unverified(token: str) -> dict[str, Any]:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})
