"""No client secret, SMTP password or access token in any log line, exception or error answer.

Every flow runs with every logger at DEBUG (urllib3's connection log, Django's request and SQL
logs, m2m_auth, notifications) and checks the formatted records, their arguments and extra
attributes, and the message, repr and traceback text of every exception the caller sees.
"""

from __future__ import annotations

import base64
import secrets
import socket
import socketserver
import threading
import traceback
import uuid
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from m2m_auth.tokens import TokenClient, TokenEndpointError, TokenPolicy
from notifications.models import Notification
from tests.conftest import service_claims
from tests.token_server import TokenServer

URL = "/api/notifications/order"
BODY = {"orderId": "1001", "userEmail": "customer@example.com"}
CLIENT_ID = "shop-api"
SECRET = "client-secret-" + secrets.token_urlsafe(24)
SMTP_PASSWORD = "smtp-password-" + secrets.token_urlsafe(24)
SMTP_AUTH_PLAIN = base64.b64encode(f"\0mailer\0{SMTP_PASSWORD}".encode()).decode()

pytestmark = pytest.mark.django_db


# What may not appear


Forbidden = tuple[str, str]  # (what it is, the value): failures name the first, never show the second


def secret_forms(secret: str, client_id: str = CLIENT_ID) -> list[Forbidden]:
    """The secret as sent: raw, in a form body (url-safe already) and inside HTTP Basic credentials."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return [("client secret", secret), ("HTTP Basic credentials", basic)]


def token_forms(token: str) -> list[Forbidden]:
    """The whole token and its signature segment, which alone would let anyone re-assemble it."""
    forms = [("access token", token)]
    if token.count(".") == 2:
        forms.append(("token signature", token.rsplit(".", 1)[-1]))
    return forms


def everything_logged(caplog) -> str:
    """Formatted records (with tracebacks), their raw arguments and every extra attribute."""
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), repr(vars(record))]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(describe(record.exc_info[1]))
    return "\n".join(parts)


def describe(exc: BaseException) -> str:
    """All a caller, a log formatter or an error tracker could print about an exception."""
    return "\n".join([str(exc), repr(exc), repr(vars(exc)), "".join(traceback.format_exception(exc))])


def assert_absent(text: str, *forbidden: Forbidden) -> None:
    """Fail naming what leaked and the 60 characters before it, without printing the value itself."""
    leaks = [
        f"{what} after {text[max(0, text.index(value) - 60) : text.index(value)]!r}"
        for what, value in forbidden
        if value in text
    ]
    assert not leaks, "; ".join(leaks)


def logger_names(caplog) -> set[str]:
    return {record.name for record in caplog.records}


# The caller: token client against a local token endpoint


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def _token_server_process() -> Iterator[TokenServer]:
    server = TokenServer().start()
    yield server
    server.stop()


@pytest.fixture
def token_server(_token_server_process, signing_key) -> TokenServer:
    """Issues real signed JWTs, so that 'the token' and 'its signature' mean something; keeps them in `issued`."""
    server = _token_server_process
    server.reset()
    server.issued = []

    def issue(number: int) -> str:
        token = signing_key.sign(service_claims("http://keycloak.test/realms/techstore"))
        server.issued.append(token)
        return token

    server.token_factory = issue
    return server


def make_client(url: str, *, clock=None, **options) -> TokenClient:
    return TokenClient(
        token_url=url,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        key_prefix=f"leak-{uuid.uuid4().hex[:8]}",
        timeout=(1.0, 2.0),
        clock=clock or Clock(),
        **options,
    )


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_fetching_renewing_and_evicting_a_token_logs_neither_secret_nor_token(debug_logs, token_server, auth_method):
    clock = Clock()
    client = make_client(token_server.url, clock=clock, auth_method=auth_method, policy=TokenPolicy(renew_jitter=0))
    first = client.get_token()
    assert client.get_token() == first
    clock.now += 250  # inside the renewal window: one renewal
    second = client.get_token()
    assert client.invalidate(second) is True
    third = client.get_token()

    assert len({first, second, third}) == 3 and token_server.count == 3
    sent = token_server.requests[0]
    if auth_method == "client_secret_basic":
        assert sent["authorization"] == "Basic " + dict(secret_forms(SECRET))["HTTP Basic credentials"]
    else:
        assert sent["form"]["client_secret"] == [SECRET]
    assert {"urllib3.connectionpool", "m2m_auth.tokens"} <= logger_names(debug_logs)
    told = everything_logged(debug_logs) + repr(client) + repr(client._local)
    assert_absent(told, *secret_forms(SECRET), *token_forms(first), *token_forms(second), *token_forms(third))


def test_wrong_secret_error_and_its_fail_fast_repeat_carry_no_secret(debug_logs, token_server):
    token_server.status = 401
    token_server.error_body = {"error": "unauthorized_client", "error_description": "Invalid client credentials"}
    client = make_client(token_server.url)
    errors = []
    for _ in range(2):
        with pytest.raises(TokenEndpointError) as raised:
            client.get_token()
        errors.append(raised.value)

    assert [(e.status, e.error, e.retryable) for e in errors] == [(401, "unauthorized_client", False)] * 2
    assert token_server.count == 1  # the second failed fast, from the remembered failure
    assert_absent(everything_logged(debug_logs) + "".join(map(describe, errors)), *secret_forms(SECRET))


def test_server_errors_back_off_then_recover_without_logging_secret_or_token(debug_logs, token_server):
    clock = Clock()
    client = make_client(token_server.url, clock=clock)
    token_server.status, token_server.headers = 503, {"Retry-After": "7"}
    errors = []
    for _ in range(2):
        with pytest.raises(TokenEndpointError) as raised:
            client.get_token()
        errors.append(raised.value)
    clock.now += 8
    token_server.status, token_server.headers = 200, {}
    token = client.get_token()

    assert [e.status for e in errors] == [503, 503] and token_server.count == 2
    told = everything_logged(debug_logs) + "".join(map(describe, errors))
    assert "Backing off" in told
    assert_absent(told, *secret_forms(SECRET), *token_forms(token))


def test_failed_renewal_keeps_the_token_and_logs_neither_it_nor_the_secret(debug_logs, token_server):
    clock = Clock()
    client = make_client(token_server.url, clock=clock, policy=TokenPolicy(renew_jitter=0))
    token = client.get_token()
    clock.now += 250
    token_server.status = 500

    assert client.get_token() == token
    told = everything_logged(debug_logs)
    assert "keeping the current one" in told
    assert_absent(told, *secret_forms(SECRET), *token_forms(token))


def test_cache_down_falls_back_without_logging_secret_or_token(debug_logs, token_server, settings):
    settings.CACHES = {**settings.CACHES, "broken": {"BACKEND": "tests.broken_cache.BrokenCache"}}
    client = make_client(token_server.url, cache_alias="broken")
    token = client.get_token()

    assert client.get_token() == token and token_server.count == 1
    told = everything_logged(debug_logs)
    assert "fall back to this process's memory" in told
    assert_absent(told, *secret_forms(SECRET), *token_forms(token))


def test_unreachable_token_endpoint_error_carries_no_secret(debug_logs):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = make_client(f"http://127.0.0.1:{port}/realms/techstore/protocol/openid-connect/token")
    with pytest.raises(TokenEndpointError) as raised:
        client.get_token()

    assert raised.value.cause == "ConnectionError"
    assert_absent(everything_logged(debug_logs) + describe(raised.value), *secret_forms(SECRET))


def test_m2m_token_command_prints_a_fingerprint_not_the_token(debug_logs, token_server, settings):
    settings.M2M_AUTH = {
        "KEYCLOAK_URL": token_server.url.split("/realms/")[0],
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": SECRET,
        "CACHE_KEY_PREFIX": f"leak-{uuid.uuid4().hex[:8]}",
    }
    out = StringIO()
    call_command("m2m_token", stdout=out)
    [token] = token_server.issued
    printed = out.getvalue()

    assert "sha256 " in printed and '"azp": "shop-api"' in printed
    assert_absent(printed + everything_logged(debug_logs), *secret_forms(SECRET), *token_forms(token))


def test_m2m_token_command_with_a_wrong_secret_names_the_error_not_the_secret(debug_logs, token_server, settings):
    token_server.status = 401
    token_server.error_body = {"error": "unauthorized_client", "error_description": "Invalid client credentials"}
    settings.M2M_AUTH = {
        "KEYCLOAK_URL": token_server.url.split("/realms/")[0],
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": SECRET,
        "CACHE_KEY_PREFIX": f"leak-{uuid.uuid4().hex[:8]}",
    }
    with pytest.raises(CommandError) as raised:
        call_command("m2m_token", stdout=StringIO())

    assert "HTTP 401 unauthorized_client" in str(raised.value)
    assert_absent(describe(raised.value) + everything_logged(debug_logs), *secret_forms(SECRET))


# The receiver: the notification endpoint


def post(token_or_header: str, *, raw: bool = False, **extra):
    authorization = token_or_header if raw else f"Bearer {token_or_header}"
    return APIClient().post(URL, BODY, format="json", HTTP_AUTHORIZATION=authorization, **extra)


@pytest.mark.parametrize(
    ("build", "status", "code"),
    [
        pytest.param(lambda make, other: make(), 201, None, id="accepted"),
        pytest.param(
            lambda make, other: make(exp=1_600_000_000, iat=1_599_999_700), 401, "token_expired", id="expired"
        ),
        pytest.param(
            lambda make, other: make(key=other, headers={"kid": "key-1"}), 401, "invalid_signature", id="bad-signature"
        ),
        pytest.param(lambda make, other: make(aud="account"), 401, "invalid_audience", id="wrong-aud"),
        pytest.param(lambda make, other: make(key=other), 401, "unknown_key", id="unknown-kid"),
        pytest.param(lambda make, other: make(typ="Refresh"), 401, "invalid_token_type", id="refresh-token"),
        pytest.param(lambda make, other: make(client_id="reporting-job"), 403, "not_service_account", id="not-azp"),
        pytest.param(
            lambda make, other: make() + "." + secrets.token_urlsafe(40), 401, "malformed_token", id="garbage-4-parts"
        ),
        pytest.param(lambda make, other: make() + "A" * 9000, 401, "token_too_large", id="too-large"),
    ],
)
def test_endpoint_answers_and_logs_carry_no_token(debug_logs, make_token, other_key, build, status, code):
    token = build(make_token, other_key)
    response = post(token)

    assert response.status_code == status
    assert response.json().get("code") == code
    assert ("django.db.backends" if status == 201 else "django.request") in logger_names(debug_logs)
    answer = response.content.decode() + str(response.headers)
    assert_absent(everything_logged(debug_logs) + answer, *token_forms(token))


def test_non_bearer_credentials_are_not_logged(debug_logs, jwks_server):
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    response = post(f"Basic {basic}", raw=True)

    assert response.status_code == 401
    assert_absent(everything_logged(debug_logs) + response.content.decode(), *secret_forms(SECRET))


def test_admin_error_mail_for_a_503_carries_no_token(debug_logs, make_token, jwks_server, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    jwks_server.status = 500  # no keys: 503, logged at ERROR, mailed to the admins
    token = make_token()
    response = post(token)

    assert response.status_code == 503
    admin_mails = [message for message in mail.outbox if message.to == ["ops@example.com"]]
    assert len(admin_mails) == 1 and "Service Unavailable" in admin_mails[0].subject
    mailed = "\n".join(str(message.message()) for message in admin_mails)
    assert "HTTP_AUTHORIZATION" in mailed  # the header is named, its value masked by Django's filter
    assert_absent(mailed + everything_logged(debug_logs), *token_forms(token))


# The notification service failing to send its e-mail


class _RefusingSMTPHandler(socketserver.StreamRequestHandler):
    """Speaks just enough SMTP to offer AUTH and refuse every credential."""

    def handle(self) -> None:
        self.wfile.write(b"220 smtp.test ESMTP\r\n")
        for line in self.rfile:
            command = line.decode("latin-1").strip()
            self.server.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-smtp.test\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == "AUTH":
                self.wfile.write(b"535 5.7.8 Authentication credentials invalid\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def refusing_smtp() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RefusingSMTPHandler)
    server.daemon_threads = True
    server.commands = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "mailer", SMTP_PASSWORD
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


def assert_delivery_failed_quietly(response, debug_logs, token: str, error_type: str) -> None:
    assert response.status_code == 503
    assert response.json()["code"] == "delivery_failed"
    notification = Notification.objects.get()
    assert (notification.status, notification.error.split(":")[0]) == ("failed", error_type)
    told = everything_logged(debug_logs) + response.content.decode() + notification.error
    assert f"failed: {error_type}" in told
    assert_absent(told, ("SMTP password", SMTP_PASSWORD), ("SMTP AUTH PLAIN", SMTP_AUTH_PLAIN), *token_forms(token))


def test_smtp_refusing_the_password_is_recorded_without_password_or_token(
    debug_logs, make_token, refusing_smtp, settings
):
    use_smtp(settings, refusing_smtp.server_address[1])
    token = make_token()
    response = post(token)

    assert f"AUTH PLAIN {SMTP_AUTH_PLAIN}" in refusing_smtp.commands  # the password really was sent
    assert_delivery_failed_quietly(response, debug_logs, token, "SMTPAuthenticationError")


def test_smtp_server_down_is_recorded_without_password_or_token(debug_logs, make_token, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    use_smtp(settings, port)
    token = make_token()

    assert_delivery_failed_quietly(post(token), debug_logs, token, "ConnectionRefusedError")
