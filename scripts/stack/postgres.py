"""A PostgreSQL cluster of the stack's own (not the system's service): initdb, the role, the databases.

Run as root, the cluster runs as the `postgres` user, because initdb and postgres refuse root; its
directory must then be reachable by that user, or a private temporary one is used instead.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .processes import Process, StackError, as_user

APP_ROLE = "techstore"  # the services' role: owns their databases, is no superuser
DATABASES = ("shop", "notifications")


def postgres_bindir() -> Path | None:
    """The server programs: $POSTGRES_BINDIR, the newest /usr/lib/postgresql/*/bin (Debian), or PATH."""
    candidates = [Path(os.environ["POSTGRES_BINDIR"])] if os.environ.get("POSTGRES_BINDIR") else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).parent)
    return next((path for path in candidates if (path / "initdb").exists() and (path / "postgres").exists()), None)


@dataclass
class PostgresCluster:
    """The cluster's directory (data/ and passwords.json), port, passwords and the OS user it runs as."""

    home: Path
    port: int
    passwords: dict[str, str]
    run_as: str | None

    @classmethod
    def prepare(cls, home: Path, *, port: int) -> tuple[PostgresCluster, list[Path]]:
        """Make the cluster in `home` unless it exists; also returns the temporary directories made."""
        bindir = postgres_bindir()
        if bindir is None:
            raise StackError("PostgreSQL is not installed: apt-get install postgresql (or set POSTGRES_BINDIR).")
        run_as = "postgres" if os.geteuid() == 0 else None
        temporary = []
        if run_as is not None and not _reachable_by(home.parent, run_as):
            home = Path(tempfile.mkdtemp(prefix="techstore-postgres-"))
            temporary.append(home)
        home.mkdir(parents=True, exist_ok=True)
        _give(home, run_as)
        home.chmod(0o700)
        cluster = cls(home=home, port=port, passwords=_passwords(home), run_as=run_as)
        if not (home / "data" / "PG_VERSION").exists():
            cluster._initdb(bindir)
        return cluster, temporary

    def process(self, log_path: Path, settings: Mapping[str, str] | None = None) -> Process:
        """The server, on 127.0.0.1 only (no Unix socket); `settings` are postgres -c options."""
        options = {"listen_addresses": "127.0.0.1", "unix_socket_directories": "", "max_connections": "200"}
        options.update(settings or {})
        argv = [str(postgres_bindir() / "postgres"), "-D", str(self.home / "data"), "-p", str(self.port)]
        argv += [arg for name, value in options.items() for arg in ("-c", f"{name}={value}")]
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to disconnect.
        return Process(
            "postgres", argv, dict(os.environ), log_path, self.answers, stop_signal=signal.SIGINT, user=self.run_as
        )

    def _initdb(self, bindir: Path) -> None:
        password_file = self.home / "initdb-password"
        password_file.write_text(self.passwords["postgres"])
        _give(password_file, self.run_as)
        argv = [str(bindir / "initdb"), "-D", str(self.home / "data"), "-U", "postgres", f"--pwfile={password_file}"]
        argv += ["--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"]
        try:
            done = subprocess.run(  # noqa: S603
                argv, cwd=self.home, capture_output=True, text=True, check=False, **as_user(self.run_as)
            )
        finally:
            password_file.unlink()
        if done.returncode != 0:
            raise StackError(f"initdb failed:\n{done.stdout}{done.stderr}")

    # Connecting

    def dsn(self, database: str, *, role: str = APP_ROLE) -> str:
        return f"postgres://{role}:{self.passwords[role]}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        """A superuser connection, in autocommit mode."""
        import psycopg

        return psycopg.connect(self.dsn(database, role="postgres"), autocommit=True, connect_timeout=3)

    def answers(self) -> bool:
        try:
            with self.connect():
                return True
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False

    # The services' role and databases

    def ensure_databases(self) -> dict[str, str]:
        """The role and both databases, made if missing; each database's URL for its service."""
        from psycopg import sql

        with self.connect() as db:
            if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
                password = sql.Literal(self.passwords[APP_ROLE])
                db.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(APP_ROLE), password))
            for name in DATABASES:
                if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                    db.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(*map(sql.Identifier, (name, APP_ROLE))))
        return {name: self.dsn(name) for name in DATABASES}

    def copy_databases(self, suffix: str) -> dict[str, str]:
        """Fresh copies `<name>_<suffix>` of both databases (templates); each copy's URL."""
        from psycopg import sql

        urls = {}
        with self.connect() as db:
            for name in DATABASES:
                copy = f"{name}_{suffix}"
                db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(copy)))
                create = sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}")
                db.execute(create.format(*map(sql.Identifier, (copy, name, APP_ROLE))))
                urls[name] = self.dsn(copy)
        return urls


def _passwords(home: Path) -> dict[str, str]:
    """The superuser's and the services' passwords, made once and kept beside the data (mode 0600)."""
    path = home / "passwords.json"
    if path.exists():
        return json.loads(path.read_text())
    passwords = {"postgres": secrets.token_urlsafe(24), APP_ROLE: secrets.token_urlsafe(24)}
    path.touch(mode=0o600)
    path.write_text(json.dumps(passwords))
    return passwords


def _give(path: Path, user: str | None) -> None:
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(path, account.pw_uid, account.pw_gid)


def _reachable_by(path: Path, user: str) -> bool:
    """Whether `user` may traverse every existing directory down to `path` (judged by the other-users bit)."""
    uid = pwd.getpwnam(user).pw_uid
    for directory in [path, *path.parents]:
        if directory.exists():
            info = directory.stat()
            if info.st_uid != uid and not info.st_mode & 0o001:
                return False
    return True
