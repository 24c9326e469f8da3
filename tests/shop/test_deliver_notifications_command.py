"""`manage.py deliver_notifications`: thin loop over `outbox_deliver_due`."""

import os
import signal
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from shop import outbox, services
from shop.models import OutboxMessage
from shop.notifications_client import DeliveryResult, Outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_pending(customer, products, settings):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "off"
    for _ in range(5):
        services.order_place(user=customer, lines=[(products[0].pk, 1)])


@pytest.fixture
def verdicts(monkeypatch):
    """Each call gets the next verdict of the list."""
    script = []

    class Scripted:
        def order_placed(self, **kwargs):
            return script.pop(0)

    monkeypatch.setattr(outbox, "get_notification_client", Scripted)
    return script


def run(*args):
    out = StringIO()
    call_command("deliver_notifications", *args, stdout=out)
    return out.getvalue().splitlines()


def test_once_drains_in_batches_then_exits(five_pending, verdicts):
    verdicts += [DeliveryResult(Outcome.DELIVERED)] * 3 + [
        DeliveryResult(Outcome.RETRY, "HTTP 503"),
        DeliveryResult(Outcome.PERMANENT, "HTTP 400"),
    ]
    assert run("--once", "--batch", "2") == [
        "Delivered 2, will retry 0, dead 0.",
        "Delivered 1, will retry 1, dead 0.",
        "Delivered 0, will retry 0, dead 1.",
        "Done: delivered 3, will retry 1, dead 1.",
    ]
    assert sorted(OutboxMessage.objects.values_list("status", flat=True)) == ["dead"] + ["delivered"] * 3 + ["failed"]


def test_once_with_nothing_due_says_so(db):
    assert run("--once") == ["Done: delivered 0, will retry 0, dead 0."]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--batch", "0"], "--batch must be at least 1, not 0."),
        (["--interval", "0"], "--interval must be a positive number of seconds, not 0.0."),
    ],
)
def test_refuses_bad_arguments(args, error):
    with pytest.raises(CommandError) as raised:
        run("--once", *args)
    assert str(raised.value) == error


@pytest.mark.django_db(transaction=True)
def test_runs_until_sigterm_then_stops_cleanly(five_pending, verdicts):
    verdicts += [DeliveryResult(Outcome.DELIVERED)] * 5
    stopper = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    previous = signal.getsignal(signal.SIGTERM)
    stopper.start()

    lines = run("--interval", "0.05")

    assert lines == [
        "Delivering notifications every 0.05 s when idle; Ctrl-C stops.",
        "Delivered 5, will retry 0, dead 0.",
        "Stopped: delivered 5, will retry 0, dead 0.",
    ]
    assert signal.getsignal(signal.SIGTERM) is previous
