"""What checking a Keycloak service token costs the notification service, as ratios.

Why: every call to `POST /api/notifications/order` is authenticated by `m2m_auth`, which checks
the RS256 signature and the claims of a bearer token. A caller that reuses its token (as the
token client does for the token's lifetime) should cost next to nothing, thanks to the memo of
validated tokens; a new token should cost one signature check plus parsing. This script measures
both on the real endpoint and against the floors below them, in one run, and states the results
as ratios, which survive a change of machine where absolute times do not:

  (a) POST with the same token on every request / the same POST without authentication
      (target: at most 1.10);
  (b) POST with a new token on every request / the same POST without authentication, and
      `validate_token` on a new token / raw RSA verification of that token with `cryptography`
      (target: at most 5);
  (c) the floors: raw RSA verify, a plain `jwt.decode`, `validate_token` on a remembered token.

The unauthenticated POST is the same request, routed by a URLconf of the same shape to a copy of
the view whose only changes are no authentication classes and `AllowAny`; the copy is handed the
principal a valid token would name, so the serializer, the database rows and the e-mail (to
locmem) are the same work. All of it runs in this process, on a temporary SQLite database and a
local JWKS server (`tests/jwks_server.py`).

    .venv/bin/python bench/receiver.py [--quick] [--rounds N] [--profile VARIANT] [--output PATH]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime
import itertools
import os
import platform
import pstats
import shutil
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _common
from _common import Variant

AUDIENCE = "notification-service"
ORDER_URL = "/api/notifications/order"
SERVICE_URLCONF = "config.urls.notifications"
BASELINE_URLCONF = "bench_receiver_baseline_urls"
BODY = b'{"orderId": "1001", "userEmail": "customer@example.com"}'
TOKEN_LIFETIME = 3600  # longer than any run: no token expires while it is being timed
RESULTS_PATH = _common.RESULTS_DIR / "receiver.json"


@dataclass(frozen=True)
class Sizes:
    """Operations per variant per round; a full run's batches last about 0.1 to 1 s each."""

    rounds: int
    posts: int  # each POST variant
    validations: int  # validate_token and jwt.decode, each with tokens not seen before
    verifies: int  # raw RSA verify
    remembered: int  # validate_token on the remembered token


FULL = Sizes(rounds=9, posts=300, validations=1500, verifies=8000, remembered=40000)
QUICK = Sizes(rounds=3, posts=100, validations=400, verifies=2000, remembered=10000)


@dataclass(frozen=True)
class Ratio:
    name: str
    label: str
    numerator: str
    denominator: str
    limit: float | None = None


RATIOS = [
    Ratio("a", "(a) POST same token / POST no auth", "post_same_token", "post_no_auth", 1.10),
    Ratio("b_post", "(b) POST new token / POST no auth", "post_new_token", "post_no_auth"),
    Ratio("b", "(b) validate_token new / RSA verify", "validate_new_token", "rsa_verify", 5.0),
    Ratio("c_decode", "(c) jwt.decode / RSA verify", "jwt_decode", "rsa_verify"),
    Ratio("c_remembered", "(c) validate_token remembered / RSA verify", "validate_remembered", "rsa_verify"),
]


class Realm:
    """A signing key, the local JWKS server that publishes it, and tokens shaped like Keycloak's."""

    def __init__(self) -> None:
        from tests.jwks_server import REALM, JWKSServer, SigningKey

        self.key = SigningKey.generate("bench-key")
        self.public_key = self.key.private_key.public_key()
        self.server = JWKSServer()
        self.server.start()
        self.server.serve_keys(self.key)
        self.name = REALM
        self.issuer = f"{self.server.base_url}/realms/{REALM}"

    def claims(self) -> dict[str, Any]:
        from tests.conftest import service_claims

        return service_claims(self.issuer, exp=int(time.time()) + TOKEN_LIFETIME)

    def token(self, claims: dict[str, Any]) -> str:
        return self.key.sign(claims)

    def new_tokens(self, count: int) -> list[str]:
        return [self.token(self.claims()) for _ in range(count)]

    def m2m_auth_settings(self) -> dict[str, Any]:
        return {"KEYCLOAK_URL": self.server.base_url, "KEYCLOAK_REALM": self.name, "AUDIENCE": AUDIENCE}


def install_baseline_urlconf(principal: Any) -> None:
    """The module `BASELINE_URLCONF`: the route to the order view as in config/urls/notifications.py
    (`admin/` first, then the app's URLs), so routing costs the same, but to a copy of the view that
    has no authentication and `AllowAny`."""
    from django.contrib import admin
    from django.urls import include, path
    from rest_framework.permissions import AllowAny

    from notifications.views import OrderNotificationView

    class OrderViewWithoutAuthentication(OrderNotificationView):
        """The same view and work; the caller is taken as given instead of read from a token."""

        authentication_classes = []
        permission_classes = [AllowAny]

        def perform_authentication(self, request: Any) -> None:
            request.user = principal

    order = path(ORDER_URL.removeprefix("/"), OrderViewWithoutAuthentication.as_view(), name="order")
    module = types.ModuleType(BASELINE_URLCONF)
    module.urlpatterns = [path("admin/", admin.site.urls), path("", include(([order], "notifications")))]
    sys.modules[BASELINE_URLCONF] = module


def point_m2m_auth_at(realm: Realm) -> None:
    """Check tokens against `realm`, starting from empty key and token caches."""
    from django.test.utils import override_settings

    from m2m_auth.jwks import reset_jwks_stores
    from m2m_auth.validation import _memo

    override_settings(M2M_AUTH=realm.m2m_auth_settings()).enable()
    reset_jwks_stores()
    _memo.clear()


def serving(urlconf: str) -> Callable[[], None]:
    """Prepare a POST batch: route with `urlconf` (both resolvers stay cached), empty the outbox and
    the table, so that every variant starts from the same state."""
    from django.conf import settings
    from django.core import mail

    from notifications.models import Notification

    def prepare() -> None:
        settings.ROOT_URLCONF = urlconf
        Notification.objects.all().delete()
        mail.outbox.clear()

    return prepare


def poster(tokens: Iterator[str], keys: Iterator[str]) -> Callable[[], object]:
    """One POST per call, with the next token and the next (never used) Idempotency-Key, so that
    every call inserts a row and sends an e-mail: a repeated key would be a cheaper replay."""
    from django.test import Client

    post = Client().post

    def send() -> object:
        headers = {"authorization": f"Bearer {next(tokens)}", "idempotency-key": next(keys)}
        response = post(ORDER_URL, BODY, content_type="application/json", headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"POST answered {response.status_code}: {response.content[:300]!r}")
        return response

    return send


def post_variants(realm: Realm, sizes: Sizes, same_token: str) -> list[Variant]:
    """The three POSTs: the same request each time; the baseline's view ignores its Authorization."""
    same = itertools.repeat(same_token)
    new = iter(realm.new_tokens(sizes.rounds * (sizes.posts + 1)))  # + 1: each batch's warm-up call
    keys = (f"bench-{number}" for number in itertools.count())

    def variant(name: str, label: str, urlconf: str, tokens: Iterator[str]) -> Variant:
        return Variant(name, label, poster(tokens, keys), sizes.posts, prepare=serving(urlconf))

    return [
        variant("post_no_auth", "POST, no authentication", BASELINE_URLCONF, same),
        variant("post_same_token", "POST, same token every request", SERVICE_URLCONF, same),
        variant("post_new_token", "POST, new token every request", SERVICE_URLCONF, new),
    ]


def signature_and_input(token: str) -> tuple[bytes, bytes]:
    """A compact JWS split before timing, so that the RSA floor times the RSA work only."""
    signing_input, _, signature = token.rpartition(".")
    return base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), signing_input.encode()


def token_variants(realm: Realm, sizes: Sizes, same_token: str) -> list[Variant]:
    """validate_token and its floors, on the same never-validated tokens (the remembered one aside)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    from m2m_auth.validation import validate_token

    tokens = realm.new_tokens(sizes.rounds * (sizes.validations + 1))
    unseen = iter(tokens)  # validate_token remembers what it validated: each token is used once
    decoded = itertools.cycle(tokens)  # jwt.decode and verify remember nothing
    verified = itertools.cycle([signature_and_input(token) for token in tokens])
    public_key, padding, digest = realm.public_key, PKCS1v15(), SHA256()

    def validate_new() -> object:
        return validate_token(next(unseen))

    def validate_remembered() -> object:
        return validate_token(same_token)

    def decode() -> object:
        return jwt.decode(next(decoded), public_key, algorithms=["RS256"], audience=AUDIENCE, issuer=realm.issuer)

    def verify() -> object:
        return public_key.verify(*next(verified), padding, digest)

    return [
        Variant("validate_new_token", "validate_token, new token", validate_new, sizes.validations),
        Variant("validate_remembered", "validate_token, remembered token", validate_remembered, sizes.remembered),
        Variant("jwt_decode", "jwt.decode (plain PyJWT)", decode, sizes.validations),
        Variant("rsa_verify", "RSA verify (raw cryptography)", verify, sizes.verifies),
    ]


def build_variants(realm: Realm, sizes: Sizes) -> list[Variant]:
    """Route requests and point m2m_auth at `realm`, then every variant with its tokens made up front."""
    from m2m_auth.principal import ServicePrincipal
    from m2m_auth.validation import validate_token

    claims = realm.claims()
    same_token = realm.token(claims)
    install_baseline_urlconf(ServicePrincipal.from_claims(claims))
    point_m2m_auth_at(realm)
    validate_token(same_token)  # fetches the JWKS once, before anything is timed
    return [*post_variants(realm, sizes, same_token), *token_variants(realm, sizes, same_token)]


def compute_ratios(samples: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Every ratio; one with a target is judged on the median of its per-round values, and says how
    many rounds agree (rounds that disagree mean the machine was noisy: rerun to confirm)."""
    rows = []
    for ratio in RATIOS:
        figures = _common.compare(samples[ratio.numerator], samples[ratio.denominator])
        row = {**asdict(ratio), **figures, "verdict": None}
        if ratio.limit is not None:
            row["verdict"] = "PASS" if figures["value"] <= ratio.limit else "MISS"
            row["rounds_passing"] = sum(value <= ratio.limit for value in figures["rounds"])
        rows.append(row)
    return rows


def verdict_text(row: dict[str, Any]) -> str:
    if row["verdict"] is None:
        return ""
    return f"{row['verdict']} ({row['rounds_passing']}/{len(row['rounds'])} rounds pass)"


def render(variants: list[Variant], figures: dict[str, dict[str, Any]], ratios: list[dict[str, Any]]) -> str:
    """The times table and the ratios table, as printed."""
    times = [
        [
            variant.label,
            *(f"{figures[variant.name][key]:.1f}" for key in ("median_us", "min_us", "max_us")),
            variant.ops,
        ]
        for variant in variants
    ]
    verdicts = [
        [
            row["label"],
            f"{row['value']:.2f}",
            f"{row['rounds_min']:.2f}-{row['rounds_max']:.2f}",
            f"{row['of_medians']:.2f}",
            "" if row["limit"] is None else f"<= {row['limit']:.2f}",
            verdict_text(row),
        ]
        for row in ratios
    ]
    return "\n\n".join(
        [
            _common.format_table(["operation", "median µs", "min µs", "max µs", "ops/round"], times),
            _common.format_table(
                ["ratio (median of per-round ratios)", "value", "round min-max", "of medians", "target", "verdict"],
                verdicts,
            ),
        ]
    )


def print_profile(variants: list[Variant], name: str) -> None:
    """Where one batch of one variant spends its time: the 40 heaviest calls, cumulative."""
    chosen = next((variant for variant in variants if variant.name == name), None)
    if chosen is None:
        raise SystemExit(f"No variant {name!r}; choose one of {', '.join(variant.name for variant in variants)}.")
    chosen.prepare()
    chosen.operation()
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [chosen.operation() for _ in range(chosen.ops)])
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds, with smaller batches")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {FULL.rounds}, {QUICK.rounds} with --quick)")
    parser.add_argument("--profile", metavar="VARIANT", help="profile one batch of one variant instead of timing")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="where the JSON figures go")
    return parser.parse_args()


def sizes_for(arguments: argparse.Namespace) -> Sizes:
    sizes = QUICK if arguments.quick else FULL
    if arguments.rounds is None:
        return sizes
    if arguments.rounds < 1:
        raise SystemExit("--rounds must be at least 1.")
    return Sizes(**{**asdict(sizes), "rounds": arguments.rounds})


def progress(done: int, total: int) -> None:
    print(f"  round {done}/{total}", file=sys.stderr, flush=True)


def results(sizes: Sizes, variants: list[Variant], figures: dict[str, Any], ratios: list[Any], **run: Any) -> dict:
    """Everything printed, and the rounds behind each median, for bench/results/receiver.json."""
    return {
        "benchmark": "receiver",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "sizes": asdict(sizes),
        **run,
        "variants": {
            variant.name: {"label": variant.label, "ops_per_round": variant.ops, **figures[variant.name]}
            for variant in variants
        },
        "ratios": ratios,
    }


def main() -> int:
    arguments = parse_arguments()
    sizes = sizes_for(arguments)
    started = time.perf_counter()
    workdir = _common.setup_django("config.settings.test")
    realm = Realm()
    try:
        variants = build_variants(realm, sizes)
        if arguments.profile:
            print_profile(variants, arguments.profile)
            return 0
        print(f"{len(variants)} variants, {sizes.rounds} interleaved rounds:", file=sys.stderr, flush=True)
        samples = _common.run_interleaved(variants, sizes.rounds, lambda done: progress(done, sizes.rounds))
    finally:
        realm.server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    figures = {name: _common.summarise(values) for name, values in samples.items()}
    ratios = compute_ratios(samples)
    elapsed = time.perf_counter() - started
    print(render(variants, figures, ratios))
    if any(row["verdict"] and row["rounds_passing"] not in (0, len(row["rounds"])) for row in ratios):
        print("\nRounds disagree on a verdict: the machine was busy during this run; rerun to confirm.")
    print(f"\n{sizes.rounds} rounds in {elapsed:.0f} s; the JWKS was fetched {realm.server.requests} time(s).")
    summary = results(sizes, variants, figures, ratios, seconds=round(elapsed, 1), jwks_fetches=realm.server.requests)
    _common.write_json(arguments.output, summary)
    print(f"Figures written to {arguments.output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
