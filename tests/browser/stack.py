"""The two services as real processes (`manage.py runserver`), each with its own settings module,
var directory and SQLite database, and the ports they listen on."""

from __future__ import annotations

import copy
import errno
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.keycloak_server import REALM, Keycloak

ROOT = Path(__file__).resolve().parents[2]
# Every variable the services read comes from the test, never from the developer's shell or .env.
PROJECT_ENV_PREFIXES = (
    "DJANGO_",
    "KEYCLOAK_",
    "M2M_AUTH_",
    "SHOP_",
    "NOTIFICATION",
    "REDIS_URL",
    "POSTGRES_",
    "KC_",
    "OTEL_",
)
START_TIMEOUT = 40.0
TIMEOUT = (3, 10)


def in_ci() -> bool:
    """In CI a missing prerequisite is a failure, not a skip: `make test` installs it."""
    return os.environ.get("CI", "").lower() in ("1", "true")


def port_is_free(port: int) -> bool:
    """Nothing listens on the port, on 127.0.0.1 nor on ::1 (the browser's `localhost` may be either)."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver does: TIME_WAIT is fine
            try:
                probe.bind((host, port))
            except OSError as exc:
                if family == socket.AF_INET6 and exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    continue  # no IPv6 loopback here: nothing can listen there either
                return False
    return True


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port_is_free(port):
            return port
    raise RuntimeError("no free port on 127.0.0.1 and ::1")


def clean_environment(**values: str) -> dict[str, str]:
    """os.environ without any variable the project reads, plus `values`."""
    base = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_ENV_PREFIXES)}
    return {**base, "PYTHONUNBUFFERED": "1", **values}


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no log)"


@dataclass
class DjangoService:
    """One service: `manage.py` commands and a `runserver --noreload` process, all logged to one file."""

    name: str
    settings_module: str
    port: int
    var_dir: Path
    env: dict[str, str]
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.var_dir / f"{self.name}.log"

    def _environment(self, **extra: str) -> dict[str, str]:
        return {
            **self.env,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DJANGO_VAR_DIR": str(self.var_dir),
            **extra,
        }

    def manage(self, *args: str, **extra_env: str) -> subprocess.Popen:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"$ manage.py {' '.join(args)}\n".encode())
            log.flush()
            return subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), *args],
                cwd=ROOT,
                env=self._environment(**extra_env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_for(self, command: subprocess.Popen, what: str, timeout: float = 120) -> None:
        try:
            returncode = command.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(command.pid, signal.SIGKILL)
            command.wait()
            returncode = None
        if returncode != 0:
            raise RuntimeError(f"{self.name}: {what} failed ({returncode}); {self.log_path}:\n{tail(self.log_path)}")

    def start(self, ready_path: str) -> None:
        """runserver (DEBUG serves the static files), then wait until `ready_path` answers 200."""
        self.process = self.manage("runserver", f"127.0.0.1:{self.port}", "--noreload")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{tail(self.log_path)}")
            try:
                if requests.get(self.url + ready_path, timeout=TIMEOUT, allow_redirects=False).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not ready after {START_TIMEOUT:.0f} s:\n{tail(self.log_path)}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Stack:
    shop: DjangoService
    notifications: DjangoService
    shop_origin: str  # what the browser types: http://localhost:<port>, an origin Keycloak redirects back to
    admin_username: str
    admin_password: str

    def services(self) -> list[DjangoService]:
        return [self.shop, self.notifications]


def build_stack(*, keycloak: Keycloak, var_dir: Path, shop_port: int, notifications_port: int) -> Stack:
    """Both services configured for this Keycloak, migrated, the notification service with an admin."""

    def service(name: str, port: int, **env: str) -> DjangoService:
        return DjangoService(
            name=name,
            settings_module=f"config.settings.{name}",
            port=port,
            var_dir=var_dir / name,
            env=clean_environment(
                DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                DJANGO_DEBUG="true",
                KEYCLOAK_URL=keycloak.url,
                KEYCLOAK_PUBLIC_URL=keycloak.public_url,
                KEYCLOAK_REALM=REALM,
                **env,
            ),
        )

    notifications = service("notifications", notifications_port)
    shop = service(
        "shop",
        shop_port,
        KEYCLOAK_CLIENT_ID="shop-api",
        KEYCLOAK_CLIENT_SECRET=keycloak.secrets["SHOP_API_CLIENT_SECRET"],
        SHOP_WEB_CLIENT_SECRET=keycloak.secrets["SHOP_WEB_CLIENT_SECRET"],
        NOTIFICATION_URL=notifications.url,
    )
    stack = Stack(
        shop=shop,
        notifications=notifications,
        shop_origin=f"http://localhost:{shop_port}",
        admin_username="admin",
        admin_password=secrets.token_urlsafe(18),
    )
    migrations = [(service, service.manage("migrate", "--noinput")) for service in stack.services()]
    for service, command in migrations:
        service.wait_for(command, "migrate")
    notifications.wait_for(
        notifications.manage(
            "createsuperuser",
            "--noinput",
            "--username",
            stack.admin_username,
            "--email",
            "admin@example.com",
            DJANGO_SUPERUSER_PASSWORD=stack.admin_password,
        ),
        "createsuperuser",
    )
    return stack


@contextmanager
def shop_web_redirects_to(keycloak: Keycloak, origin: str) -> Iterator[None]:
    """Let Keycloak send customers back to `origin` for as long as the block runs.

    The realm file allows http://localhost:8000 and http://127.0.0.1:8000; a shop on another port is
    added to the client `shop-web` through the admin API and the client is put back as it was after.
    """
    allowed = f"{origin}/*"
    clients = f"{keycloak.url}/admin/realms/{REALM}/clients"
    admin = keycloak.admin()
    found = admin.get(clients, params={"clientId": "shop-web"}, timeout=TIMEOUT)
    found.raise_for_status()
    client = found.json()[0]
    if allowed in client.get("redirectUris", []):
        yield
        return
    original = copy.deepcopy(client)
    client["redirectUris"] = [*client.get("redirectUris", []), allowed]
    attributes = client.setdefault("attributes", {})
    logout_uris = attributes.get("post.logout.redirect.uris", "")
    attributes["post.logout.redirect.uris"] = f"{logout_uris}##{allowed}" if logout_uris else allowed
    admin.put(f"{clients}/{client['id']}", json=client, timeout=TIMEOUT).raise_for_status()
    try:
        yield
    finally:  # a new admin session: the first one's token may have expired meanwhile
        keycloak.admin().put(f"{clients}/{client['id']}", json=original, timeout=TIMEOUT).raise_for_status()
