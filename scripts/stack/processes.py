"""One process of the stack: its command, environment, log and readiness test, and how to signal it."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

HTTP_TIMEOUT = (1.0, 3.0)


class StackError(RuntimeError):
    """A process of the stack could not be started, or a tool it needs is missing."""


@dataclass
class Process:
    """How to start a process (again), where it logs, how to tell it is ready; its handle once started."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: Callable[[], bool] | None = None  # e.g. "its port answers"
    ready_line: bytes | None = None  # or: this start has logged this text
    stop_signal: int = signal.SIGTERM
    user: str | None = None  # the OS user to run as (PostgreSQL's when we are root)
    popen: subprocess.Popen | None = field(default=None, repr=False)
    log_offset: int = field(default=0, repr=False)  # where the output of this start begins in the log

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, cwd: Path) -> None:
        """Start it in a process group of its own, appending its output to its log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:  # append: a restart keeps the earlier output
            self.popen = subprocess.Popen(  # noqa: S603
                self.argv,
                env=self.env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach all its children
                **as_user(self.user),
            )

    def signal(self, signum: int) -> None:
        """Signal the whole process group: gunicorn's master and its workers alike."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def is_ready(self) -> bool:
        if self.ready_line is None:
            return self.ready is None or self.ready()
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                return self.ready_line in log.read()
        except OSError:
            return False

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def as_user(user: str | None) -> dict:
    """Popen's arguments that run a child as `user` (with that user's group only)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Readiness tests


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False).status_code == 200
    except requests.RequestException:
        return False


def redis_says(port: int, command: bytes) -> bool:
    """Send one inline command to redis-server; True when it answers +PONG or +OK."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(command + b"\r\n")
            return sock.recv(16).startswith((b"+PONG", b"+OK"))
    except OSError:
        return False
