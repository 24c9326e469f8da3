"""`manage.py deliver_notifications`: deliver the outbox to the notification service, in a loop."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from shop.outbox import outbox_deliver_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Deliver pending and failed outbox messages (order confirmations) to the notification service, "
        "retrying failures with exponential back-off. Several processes may run at once on PostgreSQL; "
        "run one on SQLite. Stops cleanly on SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Deliver everything due now, then exit (for cron and tests)."
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=5.0,
            help="Seconds to wait when nothing is due before looking again (default: 5).",
        )
        parser.add_argument(
            "--batch", type=int, default=50, help="Messages claimed per database round trip (default: 50)."
        )

    def handle(self, *args, once: bool, interval: float, batch: int, **options):
        if batch < 1:
            raise CommandError(f"--batch must be at least 1, not {batch}.")
        if interval <= 0:
            raise CommandError(f"--interval must be a positive number of seconds, not {interval}.")
        stopping = threading.Event()
        previous = {}
        if not once:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, lambda *_: stopping.set())
            self.stdout.write(f"Delivering notifications every {interval:g} s when idle; Ctrl-C stops.")
        try:
            totals = self._run(once=once, interval=interval, batch=batch, stopping=stopping)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        summary = f"delivered {totals['delivered']}, will retry {totals['retrying']}, dead {totals['dead']}."
        self.stdout.write(f"Done: {summary}" if once else f"Stopped: {summary}")

    def _run(self, *, once: bool, interval: float, batch: int, stopping: threading.Event) -> dict[str, int]:
        totals = {"delivered": 0, "retrying": 0, "dead": 0}
        while not stopping.is_set():
            if not once:
                close_old_connections()  # as each request does: drop a connection past its age, or broken
            try:
                report = outbox_deliver_due(batch=batch)
            except DatabaseError as exc:
                if once:
                    raise
                # The database is away (restart, failover): keep the worker alive and look again later.
                logger.error("Delivery pass failed: %s: %s", type(exc).__name__, exc)
                stopping.wait(interval)
                continue
            for outcome in totals:
                totals[outcome] += len(getattr(report, outcome))
            if report.claimed:
                self.stdout.write(
                    f"Delivered {len(report.delivered)}, will retry {len(report.retrying)}, dead {len(report.dead)}."
                )
            if not report.claimed:  # a short batch may only mean other workers took the rest: ask again
                if once:
                    break
                stopping.wait(interval)
        return totals
