"""Fixtures of the shop's tests: products, customers, and the real notification service to call."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from m2m_auth import tokens
from m2m_auth.tokens import build_token_client
from shop.models import Product
from tests.token_server import TokenServer

SHOP_API_SECRET = "shop-api-test-secret"


@pytest.fixture(autouse=True)
def shop_settings(settings, closed_port_url):
    """Deterministic delivery (inline after commit) to nowhere unless a test says where."""
    settings.SHOP_NOTIFY_AFTER_COMMIT = "inline"
    settings.NOTIFICATION_URL = closed_port_url


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def products() -> list[Product]:
    return [
        Product.objects.create(sku="T-KB", name="Keyboard", price=Decimal("89.00")),
        Product.objects.create(sku="T-MS", name="Mouse", price=Decimal("34.90")),
        Product.objects.create(sku="T-OLD", name="Discontinued cable", price=Decimal("5.00"), is_active=False),
    ]


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user("customer", email="customer@example.com")


class JWTTokenEndpoint:
    """A client-credentials token endpoint that answers with real signed JWTs from `issue()`."""

    def __init__(self, issue: Callable[[], str]) -> None:
        self.issue = issue
        self.issued: list[str] = []
        self.server = TokenServer(token_factory=self._next).start()
        self.url = self.server.url

    def _next(self, number: int) -> str:
        token = self.issue()
        self.issued.append(token)
        return token

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def token_endpoint(jwks_server, make_token, settings, monkeypatch) -> Iterator[JWTTokenEndpoint]:
    """The shop's service account (shop-api) gets its tokens here; the notification service accepts them.

    `jwks_server` points m2m_auth at the local JWKS that validates them; the default token client
    is replaced for this test only (monkeypatch restores it, and the M2M_AUTH change resets it).
    """
    endpoint = JWTTokenEndpoint(make_token)
    settings.M2M_AUTH = {**settings.M2M_AUTH, "CLIENT_ID": "shop-api", "CLIENT_SECRET": SHOP_API_SECRET}
    monkeypatch.setattr(tokens, "_default_client", build_token_client(token_url=endpoint.url))
    yield endpoint
    endpoint.stop()


@pytest.fixture
def notification_service(live_server, token_endpoint, settings) -> str:
    """The real notification service (this suite's URLconf, served by `live_server`) as NOTIFICATION_URL."""
    settings.NOTIFICATION_URL = live_server.url
    return live_server.url
