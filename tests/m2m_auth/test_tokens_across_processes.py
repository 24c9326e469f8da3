"""Single flight across processes through a real Redis: the claim that sets this client apart."""

import multiprocessing
import os
import signal
import threading
import uuid

import pytest

from tests import process_workers
from tests.token_server import TokenServer


@pytest.fixture(scope="module")
def token_server():
    server = TokenServer().start()
    yield server
    server.stop()


@pytest.fixture
def client_options(token_server):
    token_server.reset()
    return {
        "token_url": token_server.url,
        "client_id": "shop-api",
        "client_secret": "s",
        "key_prefix": f"test-{uuid.uuid4().hex[:8]}",  # a fresh cache namespace per test
    }


def run_children(target, args_list):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    children = [context.Process(target=target, args=(*args, results)) for args in args_list]
    for child in children:
        child.start()
    return children, results


def collect(children, results, timeout=60):
    outcomes = [results.get(timeout=timeout) for _ in children]
    for child in children:
        child.join(timeout=10)
    return outcomes


def test_four_processes_by_eight_threads_make_one_token_request(redis_url, token_server, client_options):
    token_server.expires_in = 30  # renewal would start at 25 s; the run ends well before
    options = {**client_options, "renew_before": 5, "renew_jitter": 0}
    children, results = run_children(process_workers.hammer_tokens, [(redis_url, options, 8, 6.0)] * 4)
    outcomes = collect(children, results)
    assert token_server.count == 1
    assert {token for outcome in outcomes for token in outcome["tokens"]} == {"token-1"}
    assert sum(outcome["calls"] for outcome in outcomes) > 1000
    assert len({outcome["pid"] for outcome in outcomes}) == 4


def test_a_killed_lock_holder_blocks_the_others_no_longer_than_the_bound(redis_url, token_server, client_options):
    options = {**client_options, "lock_timeout": 2}
    gate = token_server.gate = threading.Event()
    holder, holder_results = run_children(process_workers.get_one_token, [(redis_url, options)])
    while token_server.count < 1:
        threading.Event().wait(0.05)
    os.kill(holder[0].pid, signal.SIGKILL)  # dies holding the cross-process lock, mid-fetch
    holder[0].join(timeout=10)
    token_server.gate = None
    gate.set()

    children, results = run_children(process_workers.get_one_token, [(redis_url, options)] * 3)
    outcomes = collect(children, results, timeout=30)
    assert {outcome["token"] for outcome in outcomes} == {"token-2"}
    assert token_server.count == 2
