"""`python -m scripts.stack run`: the whole production-like stack in the foreground (`make run-prod`)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from .postgres import APP_ROLE
from .processes import StackError, http_ok
from .stack import ROOT, Stack, missing_programs


def run(args: argparse.Namespace) -> int:
    """Start everything, print where to click, follow the logs; Ctrl-C stops it all."""
    for name in ("DJANGO_SECRET_KEY", "KEYCLOAK_CLIENT_SECRET", "DJANGO_ADMIN_PASSWORD"):
        if not os.environ.get(name):
            print(f"stack: {name} is not set: run through `make run-prod` (it loads .env).", file=sys.stderr)
            return 2
    missing = missing_programs()
    if missing:
        print(f"stack: missing Debian package(s): {', '.join(missing)}.", file=sys.stderr)
        return 2
    data = Path(args.data_dir).resolve()
    env = {"DJANGO_DEBUG": "false", "DJANGO_VAR_DIR": str(data / "django")}
    ports = {"shop": args.shop_port, "notifications": args.notifications_port}
    stack = Stack(data, env=env, ports=ports)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job starts with it ignored
        signal.signal(signum, interrupt)
    stopping = threading.Event()
    try:
        keycloak_url = os.environ.get("KEYCLOAK_URL", "http://localhost:8080").rstrip("/")
        if http_ok(f"{keycloak_url}/realms/techstore/.well-known/openid-configuration"):
            print(f"stack: reusing the Keycloak that answers at {keycloak_url}", flush=True)
        else:
            stack.start_keycloak(wait=False)
        if not args.quiet:
            stack.follow_logs(stopping)
        stack.start_postgres(home=data / "postgres")
        stack.start_redis()
        stack.prepare(static=True, admin=True)
        stack.start_service("notifications", workers=args.service_workers, threads=args.threads, wait=False)
        stack.start_service("shop", workers=args.service_workers, threads=args.threads, wait=False)
        stack.start_workers(args.workers, wait=False)
        for name in list(stack.processes):
            stack.wait_ready(name, timeout=300 if name == "keycloak" else 60)
        print(_banner(stack, keycloak_url), flush=True)
        while True:
            time.sleep(1)
            crashed = [name for name, process in stack.processes.items() if not process.running()]
            if crashed:
                print(f"stack: {', '.join(crashed)} exited; stopping everything.", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print("\nstack: stopping", flush=True)
        return 0
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.close()
        stopping.set()


def _banner(stack: Stack, keycloak_url: str) -> str:
    postgres = stack.postgres
    return f"""
============ TechStore, production-like ============
 Shop                 http://localhost:{stack.port("shop")}/   (gunicorn)
 Notifications admin  http://localhost:{stack.port("notifications")}/admin/   (gunicorn)
 Keycloak             {keycloak_url}/admin/
 PostgreSQL           127.0.0.1:{postgres.port}, databases shop and notifications, role {APP_ROLE}
                      (passwords in {postgres.home / "passwords.json"})
 Redis                127.0.0.1:{stack.port("redis")}
 Delivery workers     {", ".join(name for name in stack.processes if name.startswith("worker-"))}
 Logs                 {stack.log_dir}/
 Ctrl-C stops everything.
====================================================
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="Run the whole stack in the foreground until Ctrl-C.")
    run_parser.add_argument(
        "--data-dir", default=str(ROOT / "var" / "prod"), help="PostgreSQL's data, logs (default: var/prod)."
    )
    run_parser.add_argument("--shop-port", type=int, default=8000, help="The shop's port (default: 8000).")
    run_parser.add_argument(
        "--notifications-port", type=int, default=8001, help="The notification service's port (default: 8001)."
    )
    run_parser.add_argument(
        "--service-workers", type=int, default=3, help="gunicorn worker processes per service (default: 3)."
    )
    run_parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker (default: 4).")
    run_parser.add_argument("--workers", type=int, default=2, help="deliver_notifications processes (default: 2).")
    run_parser.add_argument("--quiet", action="store_true", help="Do not print the processes' logs here.")
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
