"""A DRF exception handler that completes RFC 6750 answers and names every error's code.

DRF adds `WWW-Authenticate` only to 401s; a bearer-token API must also challenge on 403
(`error="insufficient_scope"`). Set ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` to
``"m2m_auth.handlers.exception_handler"``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException, ErrorDetail, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .authentication import bearer_challenge
from .permissions import DENIAL_ATTRIBUTE
from .principal import ServicePrincipal


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    denial = getattr(request, DENIAL_ATTRIBUTE, None)
    if isinstance(exc, PermissionDenied) and denial is not None:
        if exc.detail == PermissionDenied.default_detail:
            response.data = {"detail": denial.message}
            exc.detail = ErrorDetail(denial.message, code=denial.code)
        if isinstance(getattr(request, "user", None), ServicePrincipal):
            response["WWW-Authenticate"] = bearer_challenge(
                error="insufficient_scope", description=denial.message, scope=denial.scope
            )
    _add_error_code(exc, response)
    return response


def _add_error_code(exc: Exception, response: Response) -> None:
    """Give every `{"detail": ...}` body its stable machine-readable `code`."""
    code = getattr(getattr(exc, "detail", None), "code", None)
    if isinstance(exc, APIException) and code and isinstance(response.data, dict) and "detail" in response.data:
        response.data["code"] = code
