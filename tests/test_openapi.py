"""The OpenAPI schemas of both services (drf-spectacular) and Swagger UI over them, served without a CDN."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from m2m_auth.authentication import ServiceAccountAuthentication
from m2m_auth.permissions import HasClientRole, HasScope, IsServiceAccount

ROOT = Path(__file__).resolve().parent.parent
SCHEME = "keycloakClientCredentials"
TITLES = {"notifications": "Notification service API", "shop": "TechStore shop API"}


def schema_of(urlconf: str) -> dict:
    schema = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
    validate_schema(schema)
    return schema


def resolve(schema: dict, node: dict) -> dict:
    """`node`, or the component its `$ref` names."""
    if "$ref" not in node:
        return node
    *_, kind, name = node["$ref"].split("/")
    return schema["components"][kind][name]


@pytest.fixture
def keycloak_behind_a_proxy(settings):
    """The services reach Keycloak inside; browsers (and so Swagger UI) at its public URL."""
    settings.M2M_AUTH = {
        "KEYCLOAK_URL": "http://keycloak:8080",
        "KEYCLOAK_PUBLIC_URL": "https://id.example.com",
        "KEYCLOAK_REALM": "techstore",
        "AUDIENCE": "notification-service",
    }


# --- The notification service --------------------------------------------------------------------


@pytest.fixture
def notification_schema(keycloak_behind_a_proxy) -> dict:
    return schema_of("config.urls.notifications")


@pytest.fixture
def send_operation(notification_schema) -> dict:
    assert list(notification_schema["paths"]) == ["/api/notifications/order"]
    return notification_schema["paths"]["/api/notifications/order"]["post"]


def test_the_security_scheme_is_keycloaks_client_credentials_flow_at_the_public_token_url(notification_schema):
    scheme = notification_schema["components"]["securitySchemes"][SCHEME]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"] == {
        "clientCredentials": {
            "tokenUrl": "https://id.example.com/realms/techstore/protocol/openid-connect/token",
            "scopes": {"notifications:send": scheme["flows"]["clientCredentials"]["scopes"]["notifications:send"]},
        }
    }
    assert "notification-service" in scheme["flows"]["clientCredentials"]["scopes"]["notifications:send"]


def test_sending_requires_the_role_as_the_operations_security(send_operation):
    assert send_operation["security"] == [{SCHEME: ["notifications:send"]}]


def test_the_request_body_has_the_camel_case_fields(notification_schema, send_operation):
    body = resolve(notification_schema, send_operation["requestBody"]["content"]["application/json"]["schema"])
    assert send_operation["requestBody"]["required"] is True
    assert set(body["properties"]) == {"orderId", "userEmail"}
    assert set(body["required"]) == {"orderId", "userEmail"}
    assert body["properties"]["userEmail"]["format"] == "email"


def test_the_idempotency_key_header_is_documented(send_operation):
    (parameter,) = [p for p in send_operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["in"] == "header"
    assert parameter.get("required", False) is False
    assert parameter["schema"] == {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"}


def test_every_answer_is_documented_with_its_body_and_headers(notification_schema, send_operation):
    responses = send_operation["responses"]
    assert set(responses) == {"201", "400", "401", "403", "422", "503"}

    def body(status: str) -> dict:
        return resolve(notification_schema, responses[status]["content"]["application/json"]["schema"])

    assert set(body("201")["properties"]) == {"id", "status", "orderId", "userEmail", "sender", "createdAt", "sentAt"}
    assert set(body("400")["properties"]) == {"orderId", "userEmail", "Idempotency-Key"}
    for status in ("401", "403", "422"):
        assert set(body(status)["properties"]) == {"detail", "code"}, status
    assert set(responses["401"]["headers"]) == set(responses["403"]["headers"]) == {"WWW-Authenticate"}
    alternatives = [resolve(notification_schema, option) for option in body("503")["oneOf"]]
    assert [set(option["properties"]) >= {"detail", "code"} for option in alternatives] == [True, True]
    assert set(responses["503"]["headers"]) == {"Retry-After", "Idempotent-Replayed"}


# --- The shop ------------------------------------------------------------------------------------


def test_the_shop_documents_its_orders_api_with_session_authentication(settings):
    schema = schema_of("config.urls.shop")
    assert list(schema["paths"]) == ["/api/orders/"]
    operations = schema["paths"]["/api/orders/"]
    assert set(operations) == {"get", "post"}
    assert schema["components"]["securitySchemes"] == {
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
    }
    for operation in operations.values():
        assert operation["security"] == [{"cookieAuth": []}]
    created = resolve(schema, operations["post"]["responses"]["201"]["content"]["application/json"]["schema"])
    assert {"id", "status", "total", "items", "notification"} <= set(created["properties"])
    body = resolve(schema, operations["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"items"}
    assert set(operations["post"]["responses"]) == {"201", "400", "403"}


# --- The extension: required scopes from any composition of permissions -------------------------


class _View(APIView):
    authentication_classes = [ServiceAccountAuthentication]

    def get(self, request):
        return Response({})  # pragma: no cover - the schema only


class RoleOrScopesView(_View):
    permission_classes = [
        IsServiceAccount
        & (HasClientRole("reports:read", client="reports") | HasScope("reports", "export"))
        & ~HasScope("banned")
    ]


class OtherRoleView(_View):
    permission_classes = [HasClientRole("reports:write", client="reports")]


class NoRoleView(_View):
    permission_classes = [IsServiceAccount]


def test_scopes_follow_the_permissions_and_every_view_adds_its_own_to_the_scheme(keycloak_behind_a_proxy):
    patterns = [
        path("a", RoleOrScopesView.as_view()),
        path("b", OtherRoleView.as_view()),
        path("c", NoRoleView.as_view()),
    ]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    validate_schema(schema)
    assert schema["paths"]["/a"]["get"]["security"] == [{SCHEME: ["reports:read"]}, {SCHEME: ["export", "reports"]}]
    assert schema["paths"]["/b"]["get"]["security"] == [{SCHEME: ["reports:write"]}]
    assert schema["paths"]["/c"]["get"]["security"] == [{SCHEME: []}]
    scopes = schema["components"]["securitySchemes"][SCHEME]["flows"]["clientCredentials"]["scopes"]
    assert set(scopes) == {"reports:read", "reports", "export", "reports:write"}


# --- Served: schema and Swagger UI ---------------------------------------------------------------

EXTERNAL_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


@pytest.mark.parametrize("service", ["notifications", "shop"])
def test_each_service_serves_its_schema_and_swagger_ui_with_no_external_url(client, settings, service):
    settings.ROOT_URLCONF = f"config.urls.{service}"
    title = TITLES[service]
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert yaml.safe_load(schema.content)["info"]["title"] == title

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert f"<title>{title}</title>" in html
    assert EXTERNAL_URL.findall(html) == []
    assert 'url: "/api/schema/"' in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 4  # favicon, css, bundle, preset
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file of this project"


def test_the_schema_is_public_even_with_a_bad_bearer_token(client, settings):
    settings.ROOT_URLCONF = "config.urls.notifications"
    answer = client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert answer.status_code == 200


# --- manage.py spectacular -----------------------------------------------------------------------


@pytest.mark.parametrize("service", ["notifications", "shop"])
def test_manage_py_spectacular_validates_with_no_warning(tmp_path, service):
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name not in ("DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE=f"config.settings.{service}",
        DJANGO_SECRET_KEY="openapi-test-" + "x" * 40,
        DJANGO_VAR_DIR=str(tmp_path),
        KEYCLOAK_CLIENT_SECRET="shop-api-secret",  # the shop's start-up checks require its secrets
        SHOP_WEB_CLIENT_SECRET="shop-web-secret",
    )
    out = tmp_path / "schema.yaml"
    command = [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)]
    for extra in ([], ["--custom-settings", f"config.urls.{service}.API_DOCS"]):
        result = subprocess.run(  # noqa: S603
            command + extra, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr
        schema = yaml.safe_load(out.read_text())
        assert schema["paths"], service
    assert schema["info"]["title"] == TITLES[service]  # from the last run, with the service's API_DOCS
