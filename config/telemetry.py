"""OpenTelemetry tracing for both services, switched on by the standard ``OTEL_*`` environment variables.

The rule: tracing is on when ``OTEL_TRACES_EXPORTER`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (and
not empty) and ``OTEL_SDK_DISABLED`` is not true; ``OTEL_TRACES_EXPORTER=none`` turns it off too.
When it is off nothing is imported, patched or started. When it is on, `TelemetryConfig.ready()`
(inside ``django.setup()``, so under gunicorn, runserver and every management command, before any
WSGI handler loads its middleware) instruments the process once: the Django instrumentation adds
a middleware that opens a server span per request and continues a caller's W3C ``traceparent``;
the requests instrumentation opens a client span per call (Keycloak's token and JWKS endpoints,
the notification service) and sends ``traceparent``. The SDK reads the rest of its configuration
itself (``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_*``, ``OTEL_BSP_*``).

Spans carry no credential: URLs hold none (tokens travel in headers and POST bodies, and the
instrumentation strips ``user:password@``), bodies are never recorded, and header values that
carry credentials are redacted even when ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` asks for
every header.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_str

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

EXPORTERS = ("otlp", "console")
# Headers whose values the instrumentations always redact: they carry tokens, secrets or sessions.
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie")
SANITIZE_FIELDS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"

_installed = False


def exporter_names() -> list[str]:
    """The span exporters the environment asks for: OTEL_TRACES_EXPORTER, else OTLP if an endpoint is set."""
    raw = env_str("OTEL_TRACES_EXPORTER") or ""
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    if not names and env_str("OTEL_EXPORTER_OTLP_ENDPOINT"):
        names = ["otlp"]
    unknown = sorted(set(names) - {*EXPORTERS, "none"})
    if unknown:
        raise ImproperlyConfigured(
            f"OTEL_TRACES_EXPORTER={raw!r}: unknown exporter {', '.join(unknown)}. "
            f"Use {', '.join(EXPORTERS)} or none (OTLP is sent over HTTP/protobuf)."
        )
    return [name for name in names if name != "none"]


def tracing_enabled() -> bool:
    """True when the environment asks for traces (see the module docstring for the rule)."""
    if env_bool("OTEL_SDK_DISABLED", False):
        return False
    return bool(exporter_names())


def default_service_name() -> str:
    """`shop` or `notifications`: the last part of the settings module, when OTEL_SERVICE_NAME is unset."""
    return (settings.SETTINGS_MODULE or "django").rpartition(".")[2]


def build_tracer_provider(*, exporters: list[SpanExporter] | None = None) -> TracerProvider:
    """A provider that batches spans to `exporters` (by default those the environment names)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name()}))
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
    for exporter in _exporters() if exporters is None else exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _exporters() -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    for name in exporter_names():
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())  # reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and friends
        else:
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
    return exporters


def redact_credential_headers() -> None:
    """Make the instrumentations redact credential headers even if told to capture every header.

    Both read this variable (the Django middleware on each request, requests when instrumented).
    """
    extra = [
        field.strip()
        for field in (env_str("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS") or "").split(",")
    ]
    fields = [*CREDENTIAL_HEADERS, *(field for field in extra if field and field not in CREDENTIAL_HEADERS)]
    os.environ.update({SANITIZE_FIELDS: ",".join(fields)})


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Install the Django and requests instrumentations (spans go to `tracer_provider`, else the global one)."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    redact_credential_headers()
    # Position 0: the server span covers every other middleware (sessions, authentication, CSRF).
    DjangoInstrumentor().instrument(tracer_provider=tracer_provider)
    RequestsInstrumentor().instrument(tracer_provider=tracer_provider)


def uninstrument() -> None:
    """Remove what `instrument` installed (tests; a running service keeps it for its lifetime)."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().uninstrument()
    DjangoInstrumentor().uninstrument()


def setup_tracing() -> bool:
    """Once per process: when the environment enables tracing, set the global provider and instrument."""
    global _installed
    if _installed or not tracing_enabled():
        return _installed
    from opentelemetry import trace

    trace.set_tracer_provider(build_tracer_provider())
    instrument()
    _installed = True
    return True


class TelemetryConfig(AppConfig):
    """A tiny app whose only job is to set up tracing while Django starts."""

    name = "config.telemetry"
    label = "telemetry"
    verbose_name = "Tracing (OpenTelemetry)"

    def ready(self) -> None:
        setup_tracing()
