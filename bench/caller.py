"""Caller benchmark: token-endpoint requests per 10,000 `get_token()` calls, shared vs per-process cache.

The seed caches its token per process, so a service with W workers asks Keycloak W times per
token lifetime. Here 4 processes x 8 threads make 10,000 calls in all, once with the token in a
shared Redis (every process sees one token) and once with each process's own memory cache, and the
script prints how many requests reached a local counting token endpoint in each case. A second
scenario uses a 4-second lifetime so that renewals happen during the run.

Run: `.venv/bin/python bench/caller.py` (needs Debian's redis-server; `make test` installs it).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

PROCESSES, THREADS = 4, 8


def _worker(redis_url: str, options: dict, calls: int, pause: float, results) -> None:
    """One process: THREADS threads share `calls` calls; Redis when `redis_url`, else local memory."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-bench-only-key-" + "x" * 40)
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from m2m_auth.tokens import TokenClient

    client = TokenClient(**options)

    def loop(count: int) -> None:
        for _ in range(count):
            client.get_token()
            if pause:
                time.sleep(pause)

    per_thread = calls // THREADS
    threads = [threading.Thread(target=loop, args=(per_thread,)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(per_thread * THREADS)


def run_variant(redis_url: str, token_url: str, *, calls: int, pause: float) -> int:
    """Calls made; the caller reads the endpoint's request count."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    options = {
        "token_url": token_url,
        "client_id": "shop-api",
        "client_secret": "bench",
        "key_prefix": f"bench-{uuid.uuid4().hex[:8]}",
    }
    per_process = calls // PROCESSES
    children = [
        context.Process(target=_worker, args=(redis_url, options, per_process, pause, results))
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    made = sum(results.get(timeout=600) for _ in children)
    for child in children:
        child.join()
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--output", default=str(REPO_ROOT / "bench" / "results" / "caller.json"))
    arguments = parser.parse_args()

    from tests.redis_server import RedisServer
    from tests.token_server import TokenServer

    server = TokenServer().start()
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="m2m-bench-redis-")))
    scenarios = [("300 s lifetime", 300, 0.0), ("4 s lifetime, ~12 s run", 4, 0.03)]
    figures = {}
    try:
        for name, lifetime, pause in scenarios:
            row = {}
            for variant, url in (("shared Redis cache", redis.url), ("per-process cache", "")):
                server.reset()
                server.expires_in = lifetime
                started = time.monotonic()
                made = run_variant(url, server.url, calls=arguments.calls, pause=pause)
                row[variant] = {"calls": made, "requests": server.count, "seconds": time.monotonic() - started}
            figures[name] = row
    finally:
        redis.stop()
        server.stop()

    print(f"{PROCESSES} processes x {THREADS} threads; token-endpoint requests per {arguments.calls:,} calls")
    print(f"{'scenario':<26}{'shared Redis':>14}{'per-process':>14}{'ratio':>8}")
    for name, row in figures.items():
        shared, local = row["shared Redis cache"]["requests"], row["per-process cache"]["requests"]
        print(f"{name:<26}{shared:>14}{local:>14}{local / max(shared, 1):>7.1f}x")
    target = figures["300 s lifetime"]["shared Redis cache"]["requests"]
    print(f"target: 1 request per lifetime with a shared cache -> {'PASS' if target == 1 else 'MISS'} ({target})")
    Path(arguments.output).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.output).write_text(json.dumps({"benchmark": "caller", "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
