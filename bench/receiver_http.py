"""Requests per second of the notification endpoint under gunicorn, with and without authentication.

Why: bench/receiver.py measures what checking a token adds inside one process. This script asks
the deployment question: how many `POST /api/notifications/order` a real server answers per second
when every request is authenticated, against the same server answering the same requests with
authentication disabled. Target: authenticated / unauthenticated at least 0.9.

What runs, all on loopback: a local JWKS server (`tests/jwks_server.py`) publishing a new RSA-2048
key; one token signed with it, with the claims of a Keycloak 26 client-credentials token
(`tests/conftest.py:service_claims`); gunicorn serving the notification service with
bench/settings_receiver_http.py, whose URLconf adds a second route to a copy of the view with no
authentication that is handed the token's principal (the same work otherwise); a temporary SQLite
database on /dev/shm in WAL mode; the dummy e-mail backend. The load comes from wrk (Debian
package `wrk`), with a Lua script that sends the same body and Authorization header to both routes
and a new Idempotency-Key on every request, so that every request inserts a row and sends an
e-mail. The caller reuses its token, as the token client does: after the first request, each
worker answers from its memo of validated tokens (bench/receiver.py measures the new-token case).

Each round runs wrk once against each route, in an order reversed from round to round, from an
emptied table. A route's figure is its median over the rounds; the ratio is judged on the median of
the per-round ratios, as in bench/receiver.py. As a cross-check that other load on the machine
moves far less, the script also reads the CPU time gunicorn's processes used during each wrk run
(/proc) and reports the same ratio in requests per server CPU-second.

    .venv/bin/python bench/receiver_http.py [--quick] [--rounds N] [--duration S]
        [--workers N] [--threads N] [--connections N] [--output PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _common

REPO_ROOT = _common.REPO_ROOT
VENV_BIN = REPO_ROOT / ".venv" / "bin"
SETTINGS = "bench.settings_receiver_http"
AUTH_PATH = "/api/notifications/order"
NO_AUTH_PATH = "/bench/no-auth/api/notifications/order"  # bench/urls_receiver_http.py
BODY = '{"orderId": "1001", "userEmail": "customer@example.com"}'
TABLE = "notifications_notification"
TARGET = 0.9  # authenticated / unauthenticated requests per second, at least
TOKEN_LIFETIME = 3600  # longer than any run
RESULTS_PATH = _common.RESULTS_DIR / "receiver_http.json"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Plan:
    rounds: int
    duration: int  # seconds of wrk per route per round
    warmup: int  # seconds of wrk per route before the first round, not reported
    workers: int
    threads: int  # 1: gunicorn's sync worker; more: gthread
    connections: int  # wrk -c


# Two sync workers, one per core: a request is about 3 ms of CPU and waits on nothing (SQLite on
# tmpfs, the dummy e-mail backend), and the GIL lets a process's threads add switching but no
# parallelism. Four connections keep one request queued behind each worker's current one, so that
# no worker waits for wrk; wrk needs about 5 % of a core for that. Many short rounds: on this shared
# machine other jobs' load comes in bursts of seconds, which then land on both routes of a round.
FULL = Plan(rounds=16, duration=3, warmup=3, workers=2, threads=1, connections=4)
QUICK = Plan(rounds=4, duration=2, warmup=2, workers=2, threads=1, connections=4)


@dataclass(frozen=True)
class Route:
    name: str
    label: str
    path: str


ROUTES = [
    Route("authenticated", "authenticated (bearer token, m2m_auth)", AUTH_PATH),
    Route("no_auth", "authentication disabled", NO_AUTH_PATH),
]

# wrk's Lua: the same POST every time but for a new Idempotency-Key (prefix from the command line,
# then a counter: wrk runs one thread, see --connections). done() prints the figures as one line of
# JSON. wrk counts a response with a status above 399 as a "status" error.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local prefix, counter = "bench", 0

function init(args)
  prefix = args[1]
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %%d, "duration_us": %%d, "errors": {"connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d}, "latency_us": {"p50": %%.0f, "p90": %%.0f, ' ..
    '"p99": %%.0f, "max": %%.0f, "mean": %%.1f}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


class Realm:
    """A signing key, the local JWKS server that publishes it, and one Keycloak-shaped token."""

    def __init__(self) -> None:
        from tests.conftest import service_claims
        from tests.jwks_server import REALM, JWKSServer, SigningKey

        key = SigningKey.generate("bench-key")
        self.server = JWKSServer()
        self.server.start()
        self.server.serve_keys(key)
        self.claims = service_claims(f"{self.server.base_url}/realms/{REALM}", exp=int(time.time()) + TOKEN_LIFETIME)
        self.token = key.sign(self.claims)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(workdir: Path, realm: Realm) -> dict[str, str]:
    """The environment of migrate and gunicorn: bench settings only, nothing from the real stack."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not (name.startswith(("OTEL_", "DJANGO_", "KEYCLOAK_", "M2M_AUTH_")) or name.endswith("_URL"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DJANGO_SECRET_KEY="insecure-bench-only-key-" + "x" * 40,
        DJANGO_VAR_DIR=str(workdir),
        DJANGO_LOG_LEVEL="WARNING",
        BENCH_DATABASE=str(workdir / "bench.sqlite3"),
        BENCH_KEYCLOAK_URL=realm.server.base_url,
        BENCH_PRINCIPAL_CLAIMS=json.dumps(realm.claims),
        PYTHONPATH=str(REPO_ROOT),
    )
    return environment


def create_database(environment: dict[str, str]) -> Path:
    """Migrate a new database and switch it to WAL (a property of the file: every connection gets it)."""
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--verbosity", "0", "--skip-checks"],
        cwd=REPO_ROOT,
        env=environment,
        check=True,
    )
    database = Path(environment["BENCH_DATABASE"])
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    return database


def start_gunicorn(plan: Plan, port: int, environment: dict[str, str], log: Path) -> subprocess.Popen:
    command = [
        str(VENV_BIN / "gunicorn"),
        f"--bind=127.0.0.1:{port}",
        f"--workers={plan.workers}",
        f"--worker-class={'sync' if plan.threads == 1 else 'gthread'}",
        f"--threads={plan.threads}",
        "--no-control-socket",
        "--log-level=warning",
        "django.core.wsgi:get_wsgi_application()",  # as docker/Dockerfile runs it
    ]
    with log.open("w") as output:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)


def post(url: str, token: str | None, key: str) -> int:
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, BODY.encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_until_ready(base_url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(base_url + "/admin/login/", timeout=2).close()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"gunicorn did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)


def check_routes(base_url: str, token: str) -> None:
    """Both routes answer 201 with the token; the authenticated one refuses a request without it."""
    answers = {
        "authenticated route, token": (post(base_url + AUTH_PATH, token, "check-1"), 201),
        "authenticated route, no token": (post(base_url + AUTH_PATH, None, "check-2"), 401),
        "unauthenticated route, token": (post(base_url + NO_AUTH_PATH, token, "check-3"), 201),
        "unauthenticated route, no token": (post(base_url + NO_AUTH_PATH, None, "check-4"), 201),
    }
    wrong = {name: got for name, (got, expected) in answers.items() if got != expected}
    if wrong:
        raise SystemExit(f"The server does not answer as expected: {wrong}")


def empty_table(database: Path) -> int:
    """Rows written since the last call (the requests the server completed), then an empty table."""
    with sqlite3.connect(database, timeout=20) as connection:
        rows = connection.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
        connection.execute(f"DELETE FROM {TABLE}")
    with sqlite3.connect(database, timeout=20) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return rows


def server_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by gunicorn's master and its workers, from /proc."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()  # after the command name, which may hold spaces
        except OSError:
            continue  # a process that ended meanwhile
        if int(stat.parent.name) == master_pid or int(fields[1]) == master_pid:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(plan: Plan, script: Path, url: str, duration: int, prefix: str, master_pid: int) -> dict[str, Any]:
    """One wrk run: its figures, plus the CPU the server and wrk used meanwhile."""
    command = ["wrk", "-t1", f"-c{plan.connections}", f"-d{duration}s", "--timeout=10s", "-s", str(script), url]
    server_before, wrk_before = server_cpu_seconds(master_pid), children_cpu_seconds()
    completed = subprocess.run(
        [*command, "--", prefix], capture_output=True, text=True, timeout=duration + 30, check=False
    )
    server_cpu, wrk_cpu = server_cpu_seconds(master_pid) - server_before, children_cpu_seconds() - wrk_before
    line = next((line for line in completed.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    seconds = result["duration_us"] / 1e6
    result["requests_per_s"] = round(result["requests"] / seconds, 1)
    result["server_cpu_ms_per_request"] = round(server_cpu * 1000 / max(result["requests"], 1), 3)
    result["server_cores_busy"] = round(server_cpu / seconds, 2)
    result["wrk_cores_busy"] = round(wrk_cpu / seconds, 2)
    return result


def measure(plan: Plan, script: Path, base_url: str, database: Path, master_pid: int) -> dict[str, list[dict]]:
    """Warm both routes up (imports, each worker's JWKS fetch and memo), then the alternating rounds."""
    for route in ROUTES:
        run_wrk(plan, script, base_url + route.path, plan.warmup, f"warmup-{route.name}", master_pid)
    empty_table(database)
    runs: dict[str, list[dict[str, Any]]] = {route.name: [] for route in ROUTES}
    for number in range(plan.rounds):
        order = ROUTES if number % 2 == 0 else ROUTES[::-1]  # ABBA: a drift within a round hits both
        for route in order:
            result = run_wrk(plan, script, base_url + route.path, plan.duration, f"r{number}-{route.name}", master_pid)
            result["rows_written"] = empty_table(database)
            runs[route.name].append(result)
        figures = ", ".join(
            f"{route.name} {runs[route.name][-1]['requests_per_s']:.0f}/s "
            f"({runs[route.name][-1]['server_cpu_ms_per_request']:.2f} CPU ms/request)"
            for route in ROUTES
        )
        print(f"  round {number + 1}/{plan.rounds}: {figures}", file=sys.stderr, flush=True)
    return runs


def problems(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Failed requests, or fewer rows than answered requests: either makes a round's figure wrong."""
    found = []
    for name, results in runs.items():
        for number, result in enumerate(results, start=1):
            errors = {kind: count for kind, count in result["errors"].items() if count}
            if errors:
                found.append(f"{name}, round {number}: wrk errors {errors}")
            if result["rows_written"] < result["requests"]:
                found.append(f"{name}, round {number}: {result['rows_written']} rows for {result['requests']} requests")
    return found


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each route's medians over the rounds, its per-round figures, and every wrk run in full."""

    def median(values: list[float], digits: int = 2) -> float:
        return round(statistics.median(values), digits)

    summary = {}
    for route in ROUTES:
        results = runs[route.name]
        summary[route.name] = {
            "label": route.label,
            "path": route.path,
            "median_requests_per_s": median([result["requests_per_s"] for result in results], 1),
            "median_p50_ms": median([result["latency_us"]["p50"] / 1000 for result in results]),
            "median_p99_ms": median([result["latency_us"]["p99"] / 1000 for result in results]),
            "median_server_cpu_ms_per_request": median([result["server_cpu_ms_per_request"] for result in results], 3),
            "median_server_cores_busy": median([result["server_cores_busy"] for result in results]),
            "median_wrk_cores_busy": median([result["wrk_cores_busy"] for result in results]),
            "rounds_requests_per_s": [result["requests_per_s"] for result in results],
            "rounds_server_cpu_ms_per_request": [result["server_cpu_ms_per_request"] for result in results],
            "rounds": results,
        }
    return summary


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The judged ratio (requests per second) and its cross-check (server CPU per request, inverted:
    requests per CPU-second, which a neighbour's load on the machine moves far less)."""
    authenticated, no_auth = summary["authenticated"], summary["no_auth"]
    throughput = _common.compare(authenticated["rounds_requests_per_s"], no_auth["rounds_requests_per_s"])
    cpu = _common.compare(
        no_auth["rounds_server_cpu_ms_per_request"], authenticated["rounds_server_cpu_ms_per_request"]
    )
    return {
        "throughput": {
            "label": "requests/s: authenticated / auth disabled",
            **throughput,
            "target": TARGET,
            "rounds_passing": sum(value >= TARGET for value in throughput["rounds"]),
            "verdict": "PASS" if throughput["value"] >= TARGET else "MISS",
        },
        "cpu": {"label": "requests per server CPU-second: authenticated / auth disabled", **cpu},
    }


def render(summary: dict[str, dict[str, Any]], judged: dict[str, dict[str, Any]], plan: Plan) -> str:
    authenticated, no_auth = summary["authenticated"], summary["no_auth"]
    throughput, cpu = judged["throughput"], judged["cpu"]
    per_round = [
        [
            f"round {number + 1}",
            f"{authenticated['rounds_requests_per_s'][number]:.0f}",
            f"{no_auth['rounds_requests_per_s'][number]:.0f}",
            f"{throughput['rounds'][number]:.3f}",
            f"{authenticated['rounds_server_cpu_ms_per_request'][number]:.2f}",
            f"{no_auth['rounds_server_cpu_ms_per_request'][number]:.2f}",
            f"{cpu['rounds'][number]:.3f}",
            f"{authenticated['rounds'][number]['server_cores_busy']:.2f}"
            f" / {no_auth['rounds'][number]['server_cores_busy']:.2f}",
        ]
        for number in range(plan.rounds)
    ]
    per_round.append(
        [
            "median",
            f"{authenticated['median_requests_per_s']:.0f}",
            f"{no_auth['median_requests_per_s']:.0f}",
            f"{throughput['value']:.3f}",
            f"{authenticated['median_server_cpu_ms_per_request']:.2f}",
            f"{no_auth['median_server_cpu_ms_per_request']:.2f}",
            f"{cpu['value']:.3f}",
            f"{authenticated['median_server_cores_busy']:.2f} / {no_auth['median_server_cores_busy']:.2f}",
        ]
    )
    per_route = [
        [
            summary[route.name]["label"],
            f"{summary[route.name]['median_p50_ms']:.2f}",
            f"{summary[route.name]['median_p99_ms']:.2f}",
            f"{summary[route.name]['median_server_cores_busy']:.2f}",
            f"{summary[route.name]['median_wrk_cores_busy']:.2f}",
        ]
        for route in ROUTES
    ]
    outcome = [
        [
            row["label"],
            f"{row['value']:.3f}",
            f"{row['rounds_min']:.3f}-{row['rounds_max']:.3f}",
            f"{row['of_medians']:.3f}",
            f">= {row['target']:.2f}" if "target" in row else "",
            f"{row['verdict']} ({row['rounds_passing']}/{plan.rounds} rounds pass)" if "verdict" in row else "",
        ]
        for row in (throughput, cpu)
    ]
    return "\n\n".join(
        [
            _common.format_table(
                [
                    "",
                    "auth req/s",
                    "no-auth req/s",
                    "ratio",
                    "auth CPU ms/req",
                    "no-auth CPU ms/req",
                    "ratio",
                    "server cores busy",
                ],
                per_round,
            ),
            _common.format_table(
                ["medians over the rounds", "p50 ms", "p99 ms", "server cores busy", "wrk cores busy"],
                per_route,
            ),
            _common.format_table(
                ["ratio (median of per-round ratios)", "value", "round min-max", "of medians", "target", "verdict"],
                outcome,
            ),
        ]
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about 30 s")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {FULL.rounds}, {QUICK.rounds} with --quick)")
    parser.add_argument("--duration", type=int, help=f"seconds per route per round (default {FULL.duration})")
    parser.add_argument("--workers", type=int, help=f"gunicorn workers (default {FULL.workers})")
    parser.add_argument("--threads", type=int, help="threads per worker; above 1 uses gthread (default 1: sync)")
    parser.add_argument("--connections", type=int, help=f"wrk connections (default {FULL.connections})")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="where the JSON figures go")
    return parser.parse_args()


def plan_for(arguments: argparse.Namespace) -> Plan:
    plan = asdict(QUICK if arguments.quick else FULL)
    for name in ("rounds", "duration", "workers", "threads", "connections"):
        value = getattr(arguments, name)
        if value is not None:
            if value < 1:
                raise SystemExit(f"--{name} must be at least 1.")
            plan[name] = value
    return Plan(**plan)


def versions() -> dict[str, str]:
    from importlib.metadata import version

    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    packages = ("django", "djangorestframework", "pyjwt", "cryptography", "gunicorn")
    return {
        "python": platform.python_version(),
        **{package: version(package) for package in packages},
        "wrk": (wrk.stdout or wrk.stderr).split("[")[0].removeprefix("wrk").strip(),
        "sqlite": sqlite3.sqlite_version,
    }


def main() -> int:
    arguments = parse_arguments()
    plan = plan_for(arguments)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (or bash scripts/system_deps.sh).")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="m2m-bench-http-", dir=_common.DEFAULT_DB_DIR))
    realm = Realm()
    server = None
    try:
        environment = server_environment(workdir, realm)
        database = create_database(environment)
        script = workdir / "post.lua"
        script.write_text(WRK_SCRIPT % {"body": BODY, "token": realm.token})
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = workdir / "gunicorn.log"
        server = start_gunicorn(plan, port, environment, log)
        wait_until_ready(base_url, server, log)
        check_routes(base_url, realm.token)
        print(
            f"gunicorn: {plan.workers} {'sync' if plan.threads == 1 else f'gthread x{plan.threads}'} workers; "
            f"wrk -t1 -c{plan.connections}; {plan.rounds} rounds of {plan.duration} s per route:",
            file=sys.stderr,
            flush=True,
        )
        runs = measure(plan, script, base_url, database, server.pid)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        realm.server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(runs)
    judged = ratios(summary)
    verdict = judged["throughput"]
    elapsed = time.perf_counter() - started
    print(render(summary, judged, plan))
    found = problems(runs)
    for problem in found:
        print(f"\nPROBLEM: {problem}")
    disagreeing = min(verdict["rounds_passing"], len(verdict["rounds"]) - verdict["rounds_passing"])
    if disagreeing:
        print(
            f"\n{disagreeing} of {len(verdict['rounds'])} rounds disagree with the verdict: other load on the machine"
            " (see the server cores busy); rerun to confirm if that is more than a few."
        )
    if (judged["cpu"]["value"] >= TARGET) != (verdict["value"] >= TARGET):
        print("\nThe CPU cross-check disagrees with the verdict: the machine was busy; rerun to confirm.")
    print(f"\n{plan.rounds} rounds in {elapsed:.0f} s; the JWKS was fetched {realm.server.requests} time(s).")
    _common.write_json(
        arguments.output,
        {
            "benchmark": "receiver_http",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), **versions()},
            "plan": asdict(plan),
            "seconds": round(elapsed, 1),
            "jwks_fetches": realm.server.requests,
            "problems": found,
            "routes": summary,
            "ratios": judged,
        },
    )
    print(f"Figures written to {arguments.output}.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
