"""Code that runs in child processes of the cross-process tests (importable, so `spawn` can use it)."""

from __future__ import annotations

import os
import threading
import time


def setup_django(redis_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["REDIS_URL"] = redis_url
    import django

    django.setup()


def hammer_tokens(redis_url: str, client_options: dict, threads: int, seconds: float, results) -> None:
    """Call get_token() from `threads` threads for `seconds`; report tokens seen and calls made."""
    setup_django(redis_url)
    from tests.token_server import build_client

    client = build_client(**client_options)
    seen: set[str] = set()
    calls = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            token = client.get_token()
            with lock:
                seen.add(token)
                calls[0] += 1

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put({"pid": os.getpid(), "tokens": sorted(seen), "calls": calls[0]})


def get_one_token(redis_url: str, client_options: dict, results) -> None:
    setup_django(redis_url)
    from tests.token_server import build_client

    started = time.monotonic()
    token = build_client(**client_options).get_token()
    results.put({"token": token, "waited": time.monotonic() - started})
