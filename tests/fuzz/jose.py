"""Compact JWS built byte by byte (any header, any payload text, any signature) and JSON strategies.

PyJWT's `encode` cannot write what the fuzz tests need (a header whose `alg` differs from the
signing algorithm, duplicate keys, a payload that is not an object), so tokens are assembled here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import strategies as st

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def json_bytes(value: Any) -> bytes:
    """JSON text as Python writes it (NaN and Infinity included: PyJWT's json.loads reads them)."""
    return json.dumps(value, separators=(",", ":")).encode()


def rs256(signing_input: bytes, private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def hs256(signing_input: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, signing_input, hashlib.sha256).digest()


def compact(
    header: Any,
    payload: Any,
    *,
    key: rsa.RSAPrivateKey | None = None,
    signature: bytes = b"",
    hmac_secret: bytes | None = None,
) -> str:
    """`header.payload.signature`; `bytes` are used as the JSON text itself, anything else is dumped.

    The signature is RS256 with `key`, HS256 with `hmac_secret`, or `signature` as given.
    """
    header_text = header if isinstance(header, bytes) else json_bytes(header)
    payload_text = payload if isinstance(payload, bytes) else json_bytes(payload)
    signing_input = f"{b64url(header_text)}.{b64url(payload_text)}".encode()
    if key is not None:
        signature = rs256(signing_input, key)
    elif hmac_secret is not None:
        signature = hs256(signing_input, hmac_secret)
    return f"{signing_input.decode()}.{b64url(signature)}"


def resign(token: str, key: rsa.RSAPrivateKey) -> str:
    """The same header and payload segments with a fresh RS256 signature."""
    signing_input = token.rsplit(".", 1)[0]
    return f"{signing_input}.{b64url(rs256(signing_input.encode(), key))}"


# Strings without lone surrogates: a validly signed claim holding one is a known 500
# (see test_malicious_tokens.py::test_identity_claim_with_a_lone_surrogate_gets_401_not_500).
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
# Nor NUL, for the claims the service stores (azp, jti): a 500 on PostgreSQL, see
# test_malicious_tokens.py::test_identity_claim_postgresql_cannot_store_gets_401.
identifiers = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and +-Infinity too: Python's json reads and writes them
    | texts
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)

# Strict JSON (what DRF's parser accepts): no NaN or Infinity.
strict_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)

b64url_segments = (
    st.text(B64URL_ALPHABET, max_size=120)
    | st.binary(max_size=90).map(b64url)
    | json_values.map(json_bytes).map(b64url)
)
