"""Tracing (config/telemetry.py): one trace from the shop's checkout to the notification service, no secret in it.

The end-to-end tests place an order through the shop's checkout page while the notification
service runs on a live server of its own (started after instrumenting, so that its middleware
chain has the tracing middleware), the shop's service account gets real JWTs from a local token
endpoint, and the notification service fetches its keys from a local JWKS server. Spans go to an
in-memory exporter; the instrumentations are removed after each test.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from config import telemetry
from m2m_auth.conf import m2m_auth_settings
from shop.models import OutboxMessage
from tests.shop import conftest as shop_fixtures
from tests.shop.conftest import SHOP_API_SECRET

# The shop tests' fixtures: a customer, products, and the token endpoint that issues the shop's JWTs.
customer = shop_fixtures.customer
products = shop_fixtures.products
token_endpoint = shop_fixtures.token_endpoint

ROOT = Path(__file__).resolve().parent.parent
OTEL_MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
TRACING_VARIABLES = ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT")


# --- When tracing is on -----------------------------------------------------------------------------


@pytest.fixture
def otel_environment(monkeypatch) -> pytest.MonkeyPatch:
    for name in TRACING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("environment", "exporters"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, []),  # what docker compose passes when the host has none
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,Console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, []),
    ],
)
def test_an_exporter_or_an_otlp_endpoint_turns_tracing_on(otel_environment, environment, exporters):
    for name, value in environment.items():
        otel_environment.setenv(name, value)
    assert telemetry.exporter_names() == exporters
    assert telemetry.tracing_enabled() is bool(exporters)


def test_otel_sdk_disabled_wins_over_an_endpoint(otel_environment):
    otel_environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    otel_environment.setenv("OTEL_SDK_DISABLED", "true")
    assert telemetry.tracing_enabled() is False


def test_an_exporter_this_project_does_not_install_stops_start_up_naming_it(otel_environment):
    otel_environment.setenv("OTEL_TRACES_EXPORTER", "otlp,zipkin")
    with pytest.raises(ImproperlyConfigured) as raised:
        telemetry.tracing_enabled()
    assert str(raised.value) == (
        "OTEL_TRACES_EXPORTER='otlp,zipkin': unknown exporter zipkin. "
        "Use otlp, console or none (OTLP is sent over HTTP/protobuf)."
    )


def test_credential_headers_are_always_redacted_and_other_fields_kept(monkeypatch):
    monkeypatch.setenv(telemetry.SANITIZE_FIELDS, "x-session-.*, authorization")
    telemetry.redact_credential_headers()
    assert os.environ[telemetry.SANITIZE_FIELDS] == "authorization,proxy-authorization,cookie,set-cookie,x-session-.*"


# --- One trace across both services ------------------------------------------------------------------


@pytest.fixture
def header_capture() -> dict[str, str]:
    """OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* for the test; a test parametrizes this to ask for more."""
    return {}


@pytest.fixture
def spans(header_capture, monkeypatch) -> Iterator[InMemorySpanExporter]:
    """Both instrumentations installed, spans in memory; all removed afterwards."""
    for name, value in header_capture.items():
        monkeypatch.setenv(name, value)
    # instrument() rewrites this variable: monkeypatch restores it.
    monkeypatch.setenv(telemetry.SANITIZE_FIELDS, os.environ.get(telemetry.SANITIZE_FIELDS, ""))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.instrument(provider)
    try:
        yield exporter
    finally:
        telemetry.uninstrument()
        provider.shutdown()
    assert OTEL_MIDDLEWARE not in django_settings.MIDDLEWARE
    assert not hasattr(requests.Session.send, "opentelemetry_instrumentation_requests_applied")


@pytest.fixture
def notification_service(spans, token_endpoint, settings, transactional_db) -> Iterator[str]:
    """The notification service on a live server started now, so its handler loads the tracing middleware."""
    server = LiveServerThread("127.0.0.1", _StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    settings.NOTIFICATION_URL = f"http://127.0.0.1:{server.port}"
    yield settings.NOTIFICATION_URL
    server.terminate()


def place_order_through_checkout(client, customer, products) -> None:
    """The customer's checkout; the shop then delivers the notification from a background thread."""
    client.force_login(customer)
    assert client.post("/cart/add/", {"product": products[0].pk, "quantity": 1}).status_code == 302
    assert client.post("/checkout/").status_code == 302
    deadline = time.monotonic() + 15
    while OutboxMessage.objects.get().status != OutboxMessage.Status.DELIVERED:
        assert time.monotonic() < deadline, OutboxMessage.objects.get().last_error
        time.sleep(0.02)


def url_of(span: ReadableSpan) -> str | None:
    return span.attributes.get("http.url") or span.attributes.get("url.full")


def route_of(span: ReadableSpan) -> str | None:
    return span.attributes.get("http.route")


def only(spans: list[ReadableSpan], what: str) -> ReadableSpan:
    assert len(spans) == 1, f"{what}: {[(s.name, dict(s.attributes)) for s in spans]}"
    return spans[0]


def everything_recorded(spans: list[ReadableSpan]) -> list[str]:
    """Every text a span exporter would send: names, attribute keys and values, events, links."""
    texts = []
    for span in spans:
        texts.append(span.name)
        attribute_sets = [span.attributes, *(event.attributes for event in span.events)]
        attribute_sets += [link.attributes for link in span.links]
        texts += [event.name for event in span.events]
        for attributes in attribute_sets:
            for key, value in (attributes or {}).items():
                texts += [key, *(map(str, value) if isinstance(value, tuple) else [str(value)])]
    return texts


@pytest.fixture
def checkout_trace(spans, notification_service, token_endpoint, client, customer, products, settings):
    settings.SHOP_NOTIFY_AFTER_COMMIT = "thread"  # as in production: the delivery leaves the request thread
    place_order_through_checkout(client, customer, products)
    return spans.get_finished_spans()


def test_one_trace_runs_from_the_checkout_through_keycloak_to_the_notification_service(
    checkout_trace, notification_service, token_endpoint
):
    checkout = only([s for s in checkout_trace if s.kind == SpanKind.SERVER and route_of(s) == "checkout/"], "checkout")
    trace_id = checkout.context.trace_id
    in_trace = [s for s in checkout_trace if s.context.trace_id == trace_id]
    clients = [s for s in in_trace if s.kind == SpanKind.CLIENT]

    token_request = only([s for s in clients if url_of(s) == token_endpoint.url], "token request")
    notify_call = only(
        [s for s in clients if url_of(s) == f"{notification_service}/api/notifications/order"], "notification call"
    )
    notify_server = only(
        [s for s in in_trace if s.kind == SpanKind.SERVER and route_of(s) == "api/notifications/order"],
        "notification service",
    )
    jwks_fetch = only([s for s in clients if url_of(s) == m2m_auth_settings.jwks_url], "JWKS fetch")

    # The shop's delivery thread carries the checkout's context: its calls are the checkout's children.
    assert token_request.parent.span_id == checkout.context.span_id
    assert token_request.attributes["http.method"] == "POST"
    assert notify_call.parent.span_id == checkout.context.span_id
    assert notify_call.attributes["http.status_code"] == 201
    # The notification service continued the trace from the `traceparent` header.
    assert notify_server.parent.span_id == notify_call.context.span_id
    assert notify_server.parent.is_remote
    assert notify_server.attributes["http.status_code"] == 201
    assert (notify_server.attributes["m2m.client_id"], notify_server.attributes["enduser.id"]) == (
        "shop-api",
        "shop-api",
    )
    assert jwks_fetch.parent.span_id == notify_server.context.span_id
    assert jwks_fetch.attributes["http.method"] == "GET"


def test_no_span_holds_a_token_the_client_secret_or_a_bearer_header(checkout_trace, token_endpoint):
    assert token_endpoint.issued, "the shop fetched no token: the test proves nothing"
    basic = base64.b64encode(f"shop-api:{SHOP_API_SECRET}".encode()).decode()
    forbidden = [*token_endpoint.issued, SHOP_API_SECRET, basic, "Bearer"]
    for text in everything_recorded(checkout_trace):
        for secret in forbidden:
            assert secret not in text, f"a span records {secret[:12]}...: {text[:80]}"


@pytest.mark.parametrize(
    "header_capture",
    [
        {
            f"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_{side}": ".*"
            for side in ("SERVER_REQUEST", "SERVER_RESPONSE", "CLIENT_REQUEST", "CLIENT_RESPONSE")
        }
    ],
)
def test_capturing_every_header_still_records_no_credential(checkout_trace, token_endpoint):
    notify_server = only(
        [s for s in checkout_trace if s.kind == SpanKind.SERVER and route_of(s) == "api/notifications/order"],
        "notification service",
    )
    # Headers are captured (so this is a real test), credentials are redacted.
    assert notify_server.attributes["http.request.header.idempotency_key"] == (str(OutboxMessage.objects.get().pk),)
    assert notify_server.attributes["http.request.header.authorization"] == ("[REDACTED]",)
    token_request = only([s for s in checkout_trace if url_of(s) == token_endpoint.url], "token request")
    assert token_request.attributes["http.request.header.authorization"] == ("[REDACTED]",)
    basic = base64.b64encode(f"shop-api:{SHOP_API_SECRET}".encode()).decode()
    for text in everything_recorded(checkout_trace):
        for secret in [*token_endpoint.issued, SHOP_API_SECRET, basic, "Bearer"]:
            assert secret not in text, f"a span records {secret[:12]}...: {text[:80]}"


# --- Start-up, in fresh processes ------------------------------------------------------------------------


def service_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name not in ("DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.notifications",
        DJANGO_SECRET_KEY="telemetry-test-" + "x" * 40,
        DJANGO_VAR_DIR=str(tmp_path),
        **extra,
    )
    return environment


PROBE = textwrap.dedent(
    """
    import json, sys
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    import requests

    handler = get_wsgi_application()
    print(json.dumps({
        "middleware": settings.MIDDLEWARE[0],
        "requests_instrumented": hasattr(requests.Session.send, "opentelemetry_instrumentation_requests_applied"),
        "sdk_imported": "opentelemetry.sdk.trace" in sys.modules,
    }))
    """
)


def run_probe(environment: dict[str, str]) -> dict:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_with_no_otel_variables_nothing_is_installed_or_even_imported(tmp_path):
    assert run_probe(service_environment(tmp_path)) == {
        "middleware": "django.middleware.security.SecurityMiddleware",
        "requests_instrumented": False,
        "sdk_imported": False,
    }


def test_otel_sdk_disabled_installs_nothing(tmp_path):
    environment = service_environment(
        tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_SDK_DISABLED="true"
    )
    assert run_probe(environment)["requests_instrumented"] is False


class Collector:
    """An OTLP/HTTP receiver: keeps what arrives at /v1/traces."""

    def __init__(self) -> None:
        self.exports: list[tuple[str, str, bytes]] = []
        self.received = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.exports.append((self.path, self.headers.get("Content-Type", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                owner.received.set()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def spans(self) -> list[tuple[str, str, str]]:
        """(service.name, span name, kind) of every span received."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
        from opentelemetry.proto.trace.v1.trace_pb2 import Span

        found = []
        for _, _, body in self.exports:
            for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    found += [
                        (attributes["service.name"], span.name, Span.SpanKind.Name(span.kind))
                        for span in scope_spans.spans
                    ]
        return found

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    receiver = Collector()
    yield receiver
    receiver.stop()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_under_gunicorn_each_worker_exports_server_spans_over_otlp(tmp_path, collector):
    port = free_port()
    environment = service_environment(
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",  # milliseconds: export soon rather than every 5 s
    )
    gunicorn = subprocess.Popen(  # noqa: S603 - the command of docker-compose.yml
        [
            sys.executable,
            "-m",
            "gunicorn",
            f"--bind=127.0.0.1:{port}",
            "--workers=2",
            "--no-control-socket",
            "django.core.wsgi:get_wsgi_application()",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.post(f"http://127.0.0.1:{port}/api/notifications/order", json={}, timeout=5)
                break
            except requests.ConnectionError:
                assert gunicorn.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        assert answer.status_code == 401
        assert collector.received.wait(15), "no spans reached the collector"
    finally:
        gunicorn.terminate()
        _, errors = gunicorn.communicate(timeout=30)
    assert {path for path, _, _ in collector.exports} == {"/v1/traces"}
    assert {content_type for _, content_type, _ in collector.exports} == {"application/x-protobuf"}
    assert ("notifications", "POST api/notifications/order", "SPAN_KIND_SERVER") in collector.spans(), errors


WITHOUT_OPTIONAL_PACKAGES = textwrap.dedent(
    """
    import sys

    for name in ("opentelemetry", "drf_spectacular"):
        sys.modules[name] = None  # as if not installed: importing it raises ImportError

    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="x" * 50,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "m2m_auth", "shop"],
        M2M_AUTH={"AUDIENCE": "notification-service"},
    )
    django.setup()

    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from m2m_auth.authentication import ServiceAccountAuthentication
    from m2m_auth.principal import ServicePrincipal
    from shop import outbox

    authentication = ServiceAccountAuthentication()
    assert authentication.authenticate(Request(APIRequestFactory().get("/"))) is None
    authentication.annotate_span(ServicePrincipal(azp="shop-api", subject="s", client_id="shop-api"))
    assert outbox.otel_context is None
    assert "m2m_auth.schema" not in sys.modules
    print("works")
    """
)


def test_m2m_auth_and_the_shop_work_without_opentelemetry_or_drf_spectacular(tmp_path):
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", WITHOUT_OPTIONAL_PACKAGES],
        cwd=ROOT,
        env=service_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "works\n"), result.stderr
