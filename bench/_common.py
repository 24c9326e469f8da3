"""Helpers shared by the benchmarks in this folder: a throw-away Django, interleaved timing, results.

The benchmarks state their findings as ratios between variants of one operation, because on a
shared machine absolute times drift by tens of percent from one minute to the next. Each round
times every variant once, in an order rotated from round to round, so that a noisy moment hits all
variants alike; the report keeps each variant's median over the rounds, and judges a ratio by the
median of its per-round values.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
# Memory-backed when the machine has it: the disk's fsync latency would otherwise dominate (and
# dilute) every request that writes to SQLite.
DEFAULT_DB_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def setup_django(settings_module: str, *, db_dir: str | None = DEFAULT_DB_DIR) -> Path:
    """Start Django with a new, migrated SQLite database and a local-memory cache in a temp dir.

    Nothing outside that directory is read or written: not the repo's `var/`, not a PostgreSQL or
    Redis named in the environment. Returns the directory (the caller removes it).
    """
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    workdir = Path(tempfile.mkdtemp(prefix="m2m-bench-", dir=db_dir))
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-bench-only-key-" + "x" * 40)
    os.environ["DJANGO_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

    import django
    from django.conf import settings

    from config.env import SQLITE_OPTIONS

    # Assigned before setup: django.setup() already reads DATABASES into the connection handler.
    settings.DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": workdir / "bench.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
        }
    }
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    django.setup()

    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment(debug=False)  # locmem e-mail, the test client's host allowed, DEBUG off
    call_command("migrate", verbosity=0, interactive=False)
    return workdir


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class Variant:
    """One operation to time: `operation` is called `ops` times per round after `prepare`."""

    name: str
    label: str
    operation: Callable[[], object]
    ops: int
    prepare: Callable[[], object] = field(default=_nothing)


def time_batch(variant: Variant) -> float:
    """Seconds per operation over one batch; preparation and one warm-up call are not timed.

    The collector is off inside the timed loop, as in `timeit`: a collection triggered by one
    variant's garbage would otherwise be billed to whichever variant happens to run next.
    """
    variant.prepare()
    variant.operation()
    operation, ops = variant.operation, variant.ops
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(ops):
            operation()
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    return elapsed / ops / 1e9


def run_interleaved(
    variants: Sequence[Variant], rounds: int, on_round: Callable[[int], object] = _nothing
) -> dict[str, list[float]]:
    """Per-operation seconds of every variant, one batch each per round, order rotated per round."""
    samples: dict[str, list[float]] = {variant.name: [] for variant in variants}
    for number in range(rounds):
        shift = number % len(variants)
        for variant in [*variants[shift:], *variants[:shift]]:
            samples[variant.name].append(time_batch(variant))
        on_round(number + 1)
    return samples


def summarise(samples: list[float]) -> dict[str, Any]:
    """Median, spread and every round of one variant, in microseconds."""
    micros = [round(sample * 1e6, 3) for sample in samples]
    return {
        "median_us": round(statistics.median(samples) * 1e6, 3),
        "min_us": min(micros),
        "max_us": max(micros),
        "rounds_us": micros,
    }


def compare(numerator: list[float], denominator: list[float]) -> dict[str, Any]:
    """Numerator over denominator, round by round: the median of those ratios (the figure to judge,
    since both batches of a round ran seconds apart and a slow minute cancels out), their spread,
    and the ratio of the two medians (close to the first unless the run was noisy)."""
    per_round = [top / bottom for top, bottom in zip(numerator, denominator, strict=True)]
    return {
        "value": round(statistics.median(per_round), 3),
        "rounds_min": round(min(per_round), 3),
        "rounds_max": round(max(per_round), 3),
        "of_medians": round(statistics.median(numerator) / statistics.median(denominator), 3),
        "rounds": [round(ratio, 3) for ratio in per_round],
    }


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]

    def line(row: list[str]) -> str:
        first, *rest = row
        aligned = (cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True))
        return "  ".join([first.ljust(widths[0]), *aligned]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
