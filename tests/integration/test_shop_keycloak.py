"""The shop against a real Keycloak: a customer logs in through its login form and places an order
that reaches the notification service with the shop's real service token."""

from __future__ import annotations

import time
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.core import mail
from django.core.cache import caches
from django.test import Client

from m2m_auth.jwks import reset_jwks_stores
from m2m_auth.tokens import get_token_client
from m2m_auth.validation import _memo
from notifications.models import Notification
from shop.models import Order, OutboxMessage, Product
from shop.notifications_client import Outcome, get_notification_client
from tests.keycloak_server import decode_unverified
from tests.shop.shop_settings import login_settings

pytestmark = [pytest.mark.keycloak, pytest.mark.django_db]

SHOP_HOST = "localhost:8000"  # a host shop-web's redirect URIs allow; nothing needs to listen there
TIMEOUT = (3, 10)


@pytest.fixture
def shop(keycloak_settings, live_server, settings):
    """The shop configured as config/settings/shop.py does it for this Keycloak, calling the live
    notification service with the shop-api service account."""
    keycloak = keycloak_settings
    environment = {
        "KEYCLOAK_URL": keycloak.url,
        "KEYCLOAK_PUBLIC_URL": keycloak.public_url,
        "KEYCLOAK_REALM": "techstore",
        "SHOP_WEB_CLIENT_SECRET": keycloak.secrets["SHOP_WEB_CLIENT_SECRET"],
    }
    for name, value in login_settings(**environment).items():
        setattr(settings, name, value)
    settings.M2M_AUTH = {
        **settings.M2M_AUTH,
        "CLIENT_ID": "shop-api",
        "CLIENT_SECRET": keycloak.secrets["SHOP_API_CLIENT_SECRET"],
    }
    settings.NOTIFICATION_URL = live_server.url
    settings.SHOP_NOTIFY_AFTER_COMMIT = "inline"
    caches["default"].clear()
    return keycloak


class _LoginForm(HTMLParser):
    """Finds Keycloak's login form (`kc-form-login`) and its action URL."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "kc-form-login":
            self.action = attributes.get("action")


def _cookie_header(jar: requests.cookies.RequestsCookieJar) -> str:
    # Keycloak marks its login cookies Secure even over http; `requests` then never sends them back.
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def log_in_through_keycloak(client: Client, username: str, password: str, *, next_url: str = "/") -> requests.Session:
    """Start at the shop, fill in Keycloak's real login form, come back to the shop's callback;
    returns the "browser" with Keycloak's cookies."""
    start = client.get("/oidc/authenticate/", {"next": next_url}, HTTP_HOST=SHOP_HOST)
    assert start.status_code == 302, start

    browser = requests.Session()
    login_page = browser.get(start.url, timeout=TIMEOUT)
    assert login_page.status_code == 200, login_page.text[:500]
    form = _LoginForm()
    form.feed(login_page.text)
    assert form.action, "Keycloak's login form was not found"

    submitted = browser.post(
        urljoin(login_page.url, form.action),
        data={"username": username, "password": password, "credentialId": ""},
        headers={"Cookie": _cookie_header(browser.cookies)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert submitted.status_code == 302, submitted.text[:500]
    back = urlsplit(submitted.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"http://{SHOP_HOST}/oidc/callback/"
    assert {"code", "state"} <= parse_qs(back.query).keys()

    callback = client.get(f"{back.path}?{back.query}", HTTP_HOST=SHOP_HOST)
    assert (callback.status_code, callback.url) == (302, next_url)
    return browser


def test_customer_logs_in_through_keycloak_and_the_order_reaches_the_notification_service(shop):
    product = Product.objects.create(sku="IT-1", name="Integration keyboard", price="10.00")
    client = Client()

    log_in_through_keycloak(client, "demo", shop.secrets["KEYCLOAK_DEMO_PASSWORD"], next_url="/cart/")

    page = client.get("/", HTTP_HOST=SHOP_HOST).content.decode()
    assert "demo@example.com" in page
    client.post("/cart/add/", {"product": product.pk, "quantity": 2}, HTTP_HOST=SHOP_HOST)
    response = client.post("/checkout/", HTTP_HOST=SHOP_HOST)
    assert (response.status_code, response.url) == (302, "/orders/")

    order = Order.objects.get()
    assert (order.user.email, order.email) == ("demo@example.com", "demo@example.com")
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == ("delivered", 1, "")
    notification = Notification.objects.get()
    assert (notification.order_id, notification.recipient, notification.sender, notification.idempotency_key) == (
        str(order.pk),
        "demo@example.com",
        "shop-api",
        str(message.pk),
    )
    assert notification.token_jti.startswith("trrtcc:")
    assert [m.to for m in mail.outbox] == [["demo@example.com"]]
    assert '<span class="badge delivered">sent</span>' in client.get("/orders/", HTTP_HOST=SHOP_HOST).content.decode()


def test_logout_ends_the_keycloak_session_and_returns_to_the_shop(shop):
    client = Client()
    browser = log_in_through_keycloak(client, "demo", shop.secrets["KEYCLOAK_DEMO_PASSWORD"])

    response = client.post("/oidc/logout/", HTTP_HOST=SHOP_HOST)

    assert response.status_code == 302
    assert response.url.startswith(f"{shop.public_url}/realms/techstore/protocol/openid-connect/logout?")
    assert "_auth_user_id" not in client.session
    ended = browser.get(
        response.url, headers={"Cookie": _cookie_header(browser.cookies)}, allow_redirects=False, timeout=TIMEOUT
    )
    assert (ended.status_code, ended.headers.get("Location")) == (302, f"http://{SHOP_HOST}/")
    # The Keycloak session is over: starting a login again shows the login form, not a silent sign-in.
    again = browser.get(
        client.get("/oidc/authenticate/", HTTP_HOST=SHOP_HOST).url,
        headers={"Cookie": _cookie_header(browser.cookies)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert again.status_code == 200 and "kc-form-login" in again.text


def test_a_wrong_password_does_not_log_in(shop):
    client = Client()
    start = client.get("/oidc/authenticate/", HTTP_HOST=SHOP_HOST)
    browser = requests.Session()
    login_page = browser.get(start.url, timeout=TIMEOUT)
    form = _LoginForm()
    form.feed(login_page.text)

    submitted = browser.post(
        urljoin(login_page.url, form.action),
        data={"username": "demo", "password": "wrong", "credentialId": ""},
        headers={"Cookie": _cookie_header(browser.cookies)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert submitted.status_code == 200  # the form again, with an error
    assert "Invalid username or password." in submitted.text
    assert "_auth_user_id" not in client.session


def test_the_service_token_is_renewed_before_it_expires_over_a_run_of_calls(shop, settings):
    """With 6 s tokens and no leeway at the receiver, ~15 s of calls never meet a 401."""
    settings.M2M_AUTH = {**settings.M2M_AUTH, "LEEWAY": 0}
    reset_jwks_stores()
    _memo.clear()
    shop.set_access_token_lifespan(6)
    try:
        caches["default"].clear()
        statuses: list[int] = []
        client = get_notification_client()
        client.session.hooks["response"].append(lambda response, **kwargs: statuses.append(response.status_code))
        outcomes = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            result = client.order_placed(
                order_id="renewal", user_email="demo@example.com", idempotency_key=f"renewal-{uuid.uuid4()}"
            )
            outcomes.append(result.outcome)
            time.sleep(0.2)
    finally:
        shop.set_access_token_lifespan(300)

    assert set(outcomes) == {Outcome.DELIVERED}, [r for r in outcomes if r != Outcome.DELIVERED]
    assert 401 not in statuses
    assert len(outcomes) >= 30
    token_client = get_token_client()
    assert token_client.requests_made >= 3, "a 6 s token renewed at least every ~3 s over 15 s"
    jtis = set(Notification.objects.values_list("token_jti", flat=True))
    assert len(jtis) >= 3
    first = Notification.objects.order_by("created_at").first()
    assert first.sender == "shop-api"
    restored = decode_unverified(shop.service_token())
    assert restored["exp"] - restored["iat"] == 300
