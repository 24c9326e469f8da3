"""`Stack`: the processes of one production-like stack, started, stopped, killed and restarted by name."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from .postgres import PostgresCluster, postgres_bindir
from .processes import Process, StackError, free_port, http_ok, redis_says

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"shop": "config.settings.shop", "notifications": "config.settings.notifications"}
WSGI_APP = "django.core.wsgi:get_wsgi_application()"
# Variables that configure the services; a Stack with inherit_config=False passes none of the caller's.
CONFIG_PREFIXES = ("DJANGO_", "KEYCLOAK_", "M2M_AUTH_", "SHOP_", "NOTIFICATION", "REDIS_URL", "OTEL_")
# One redis-server, one database number per service (as docker-compose.yml does).
REDIS_DB = {"shop": 0, "notifications": 1}
WORKER_STARTED = b"Delivering notifications every"  # deliver_notifications' first line: it is ready


def missing_programs() -> list[str]:
    """What this machine lacks to run the stack, as Debian package names."""
    missing = [] if postgres_bindir() else ["postgresql"]
    return missing + ([] if shutil.which("redis-server") else ["redis-server"])


class Stack:
    """The processes of one stack on loopback ports, each logging to `log_dir/<name>.log`.

    Every Django process gets the caller's environment (without its project settings when
    `inherit_config` is False), then `env`, then `service_env[service]`; `start_postgres()` and
    `start_redis()` fill in the database and cache URLs. A port, once chosen, is kept: a restarted
    process listens where it did before.
    """

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        inherit_config: bool = True,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="techstore-stack-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.workdir / "logs"
        self.env: dict[str, str] = dict(env or {})
        self.service_env: dict[str, dict[str, str]] = {name: {} for name in SETTINGS}
        self.processes: dict[str, Process] = {}
        self.postgres: PostgresCluster | None = None
        self._inherit_config = inherit_config
        self._ports = dict(ports or {})
        self._temporary: list[Path] = []

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def port(self, name: str) -> int:
        if name not in self._ports:
            self._ports[name] = free_port()
        return self._ports[name]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def django_env(self, service: str) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if self._inherit_config or not name.startswith(CONFIG_PREFIXES)
        }
        env = {**inherited, "PYTHONUNBUFFERED": "1", "NOTIFICATION_URL": self.url("notifications")}
        env.update(self.env)
        env.update(self.service_env[service])
        env["DJANGO_SETTINGS_MODULE"] = SETTINGS[service]
        return env

    # PostgreSQL and Redis

    def start_postgres(self, *, home: Path | str | None = None, settings: Mapping[str, str] | None = None) -> None:
        """A cluster in `home` (initdb on first use) with the services' role and databases."""
        cluster, temporary = PostgresCluster.prepare(
            Path(home or self.workdir / "postgres"), port=self.port("postgres")
        )
        self._temporary += temporary
        self._start(cluster.process(self._log("postgres"), settings), cwd=cluster.home)
        self.postgres = cluster
        self._use_databases(cluster.ensure_databases())

    def copy_databases(self, suffix: str) -> None:
        """Point both services at fresh copies of their (migrated) databases: a clean slate in a second."""
        if self.postgres is None:
            raise StackError("start_postgres() first.")
        self._use_databases(self.postgres.copy_databases(suffix))

    def _use_databases(self, urls: Mapping[str, str]) -> None:
        for name, url in urls.items():
            self.env[f"{name.upper()}_DATABASE_URL"] = url

    def start_redis(self) -> None:
        """A redis-server without persistence: the services' shared cache (tokens, JWKS)."""
        port = self.port("redis")
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self._start(Process("redis", argv, dict(os.environ), self._log("redis"), lambda: redis_says(port, b"PING")))
        for service, number in REDIS_DB.items():
            self.service_env[service]["REDIS_URL"] = f"redis://127.0.0.1:{port}/{number}"

    def flush_redis(self) -> None:
        if not redis_says(self.port("redis"), b"FLUSHALL"):
            raise StackError("redis-server did not answer FLUSHALL.")

    # Keycloak and the services

    def start_keycloak(self, *, wait: bool = True, timeout: float = 300) -> Process:
        """scripts/keycloak.sh start, with this process's environment (the realm's secrets: .env)."""
        url = (self.env.get("KEYCLOAK_URL") or os.environ.get("KEYCLOAK_URL") or "http://localhost:8080").rstrip("/")
        ready_url = f"{url}/realms/techstore/.well-known/openid-configuration"
        argv = ["bash", str(ROOT / "scripts" / "keycloak.sh"), "start"]
        env = {**os.environ, **self.env}
        process = Process("keycloak", argv, env, self._log("keycloak"), ready=lambda: http_ok(ready_url))
        return self._start(process, wait=wait, timeout=timeout)

    def manage(self, service: str, *args: str) -> str:
        """Run `manage.py` for `service` with this stack's settings; its output, or StackError."""
        done = subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.django_env(service),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"manage.py {' '.join(args[:1])} ({service}) failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def prepare(self, *, static: bool = False, admin: bool = False) -> None:
        """Migrate both databases; optionally collect static files and create the admin user."""
        from scripts.prepare_services import ENSURE_ADMIN

        for service in SETTINGS:
            self.manage(service, "migrate", "--noinput", "--verbosity", "0")
            if static:
                self.manage(service, "collectstatic", "--noinput", "--verbosity", "0")
            if admin:
                self.manage(service, "shell", "--command", ENSURE_ADMIN)

    def start_service(self, name: str, *, workers: int = 3, threads: int = 4, wait: bool = True) -> Process:
        """`name` (shop or notifications) under gunicorn: `workers` processes of `threads` threads each."""
        argv = [str(Path(sys.executable).with_name("gunicorn")), f"--bind=127.0.0.1:{self.port(name)}"]
        argv += [f"--workers={workers}", "--worker-class=gthread", f"--threads={threads}", "--access-logfile=-"]
        argv += ["--no-control-socket", "--graceful-timeout=20", f"--name={name}", WSGI_APP]
        login_page = f"{self.url(name)}/admin/login/"
        process = Process(name, argv, self.django_env(name), self._log(name), ready=lambda: http_ok(login_page))
        return self._start(process, wait=wait)

    def start_workers(self, count: int = 2, *, interval: float = 5.0, wait: bool = True) -> list[Process]:
        """`count` more `manage.py deliver_notifications` processes, named worker-1, worker-2, ..."""
        started = []
        for _ in range(count):
            name = next(f"worker-{n}" for n in range(1, 1000) if f"worker-{n}" not in self.processes)
            argv = [sys.executable, str(ROOT / "manage.py"), "deliver_notifications", f"--interval={interval:g}"]
            process = Process(name, argv, self.django_env("shop"), self._log(name), ready_line=WORKER_STARTED)
            started.append(self._start(process, wait=False))
        if wait:
            for process in started:
                self.wait_ready(process.name)
        return started

    # One process at a time

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _start(self, process: Process, *, wait: bool = True, timeout: float = 60, cwd: Path = ROOT) -> Process:
        process.log_path = self._log(process.name)  # log_dir may have moved since the last start
        process.start(cwd)
        self.processes[process.name] = process
        if wait:
            self.wait_ready(process.name, timeout=timeout)
        return process

    def wait_ready(self, name: str, *, timeout: float = 60) -> float:
        """Seconds until `name` answers; StackError with its log's tail if it exits or times out."""
        process = self.processes[name]
        started = time.monotonic()
        while not process.is_ready():
            if not process.running() or time.monotonic() - started > timeout:
                state = "exited" if not process.running() else f"not ready after {timeout:g} s"
                raise StackError(f"{name} {state} (log {process.log_path}):\n{process.log_tail()}")
            time.sleep(0.2)
        return time.monotonic() - started

    def stop(self, name: str, *, timeout: float = 30) -> None:
        """Stop `name` as an operator would (SIGTERM; SIGINT for PostgreSQL), SIGKILL after `timeout`."""
        process = self.processes[name]
        if not process.running():
            return
        process.signal(signal.SIGCONT)  # a paused process cannot act on its stop signal
        process.signal(process.stop_signal)
        try:
            process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(name)

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        """Send `signum` (a crash by default) to every process of `name`; reap it after SIGKILL."""
        process = self.processes[name]
        process.signal(signum)
        if signum == signal.SIGKILL and process.popen is not None:
            process.popen.wait(timeout=30)

    def pause(self, name: str) -> None:
        """Freeze `name` (SIGSTOP): its port still accepts connections, but nothing answers."""
        self.processes[name].signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].signal(signal.SIGCONT)

    def restart(self, name: str, *, wait: bool = True) -> Process:
        """Stop `name` if it runs, then start it again with the same command, environment and port."""
        self.stop(name)
        return self._start(self.processes[name], wait=wait)

    def remove(self, name: str) -> None:
        """Stop `name` and forget it: a later start_*() starts a new one (worker names are reused)."""
        self.stop(name)
        del self.processes[name]

    def close(self) -> None:
        """Stop every process, the latest started first, and remove the temporary PostgreSQL home."""
        for name in reversed(list(self.processes)):
            self.stop(name)
        for path in self._temporary:
            shutil.rmtree(path, ignore_errors=True)

    def follow_logs(self, stopping: threading.Event, out=sys.stdout) -> threading.Thread:
        """Print every process's new log lines as `name | line` until `stopping` is set (as honcho does)."""

        def follow() -> None:
            offsets: dict[Path, int] = {}
            while not stopping.wait(0.3):
                width = max(map(len, self.processes), default=8)
                for name, process in list(self.processes.items()):
                    try:
                        with process.log_path.open("rb") as log:
                            log.seek(offsets.setdefault(process.log_path, process.log_offset))
                            chunk = log.read()
                    except OSError:
                        continue
                    complete = chunk[: chunk.rfind(b"\n") + 1]
                    offsets[process.log_path] += len(complete)
                    for line in complete.decode(errors="replace").splitlines():
                        out.write(f"{name:<{width}} | {line}\n")
                out.flush()

        thread = threading.Thread(target=follow, name="stack-logs", daemon=True)
        thread.start()
        return thread
