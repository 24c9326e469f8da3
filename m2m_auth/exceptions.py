"""Domain errors of m2m_auth; each carries a human message and a stable machine code.

The validator and the key store raise these; only ``authentication.py`` turns them into HTTP
answers, so the core stays usable outside DRF.
"""

from typing import Any

from rest_framework.exceptions import APIException


class M2MAuthError(Exception):
    """Base class of every error this app raises."""

    default_message = "Authentication error."
    code = "m2m_auth_error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidToken(M2MAuthError):
    """The presented token is not acceptable here; the caller should get a 401."""

    default_message = "Token is invalid."
    code = "invalid_token"


class MalformedToken(InvalidToken):
    default_message = "Token is malformed."
    code = "malformed_token"


class TokenTooLarge(InvalidToken):
    default_message = "Token is too large."
    code = "token_too_large"


class DisallowedAlgorithm(InvalidToken):
    default_message = "Token signature algorithm is not accepted."
    code = "invalid_algorithm"


class DisallowedHeader(InvalidToken):
    default_message = "Token header carries a parameter that is not accepted."
    code = "invalid_header"


class UnknownSigningKey(InvalidToken):
    default_message = "Token was signed by a key this service does not know."
    code = "unknown_key"


class InvalidSignature(InvalidToken):
    default_message = "Token signature is invalid."
    code = "invalid_signature"


class TokenExpired(InvalidToken):
    default_message = "Token has expired."
    code = "token_expired"


class TokenNotYetValid(InvalidToken):
    default_message = "Token is not valid yet."
    code = "token_not_yet_valid"


class InvalidIssuer(InvalidToken):
    default_message = "Token issuer is not trusted."
    code = "invalid_issuer"


class InvalidAudience(InvalidToken):
    default_message = "Token is not intended for this service."
    code = "invalid_audience"


class InvalidTokenType(InvalidToken):
    default_message = "Token is not an access token."
    code = "invalid_token_type"


class InvalidClaims(InvalidToken):
    default_message = "Token claims are missing or malformed."
    code = "invalid_claims"


class KeysUnavailable(M2MAuthError):
    """No signing key can be had (Keycloak unreachable and nothing cached): a 503, not a 401."""

    default_message = "Token signing keys are temporarily unavailable."
    code = "jwks_unavailable"


class TokenEndpointError(M2MAuthError):
    """Keycloak did not issue a token; names the client, endpoint, status and Keycloak's error."""

    code = "token_endpoint_error"

    def __init__(
        self,
        *,
        client_id: str,
        endpoint: str,
        status: int | None = None,
        error: str | None = None,
        description: str | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
        cause: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.endpoint = endpoint
        self.status = status
        self.error = error
        self.description = description
        self.retryable = retryable
        self.retry_after = retry_after
        self.cause = cause
        super().__init__(self._describe())

    def _describe(self) -> str:
        what = f"HTTP {self.status}" if self.status is not None else (self.cause or "no answer")
        if self.error:
            what += f" {self.error}"
        if self.description:
            what += f" ({self.description})"
        return f"Keycloak issued no token for client '{self.client_id}' at {self.endpoint}: {what}."

    def to_cache(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "description": self.description,
            "retryable": self.retryable,
            "cause": self.cause,
        }


# The one HTTP error that is neither a 401 nor a 403; raised by the DRF-facing modules.
class ServiceUnavailable(APIException):
    """503: the service cannot check tokens right now; retrying later may succeed."""

    status_code = 503
    default_detail = KeysUnavailable.default_message
    default_code = KeysUnavailable.code
