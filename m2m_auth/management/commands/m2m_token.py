"""`manage.py m2m_token`: get this service's token and show its claims (the seed's curl test)."""

import json
import time

import jwt
from django.core.management.base import BaseCommand, CommandError

from m2m_auth.exceptions import M2MAuthError
from m2m_auth.tokens import build_token_client, token_fingerprint


class Command(BaseCommand):
    help = (
        "Obtain a client-credentials token from Keycloak through the shared token cache and print its "
        "decoded claims and remaining lifetime. The raw token is printed only with --raw."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scope", action="append", default=None, help="Ask for this scope (repeatable).")
        parser.add_argument("--audience", help="Ask for this audience.")
        parser.add_argument("--raw", action="store_true", help="Also print the raw access token.")

    def handle(self, *args, **options):
        overrides = {}
        if options["scope"]:
            overrides["scopes"] = options["scope"]
        if options["audience"]:
            overrides["audience"] = options["audience"]
        try:
            client = build_token_client(**overrides)
            token = client.get_token()
        except M2MAuthError as exc:
            raise CommandError(str(exc)) from None
        claims = jwt.decode(token, options={"verify_signature": False})
        remaining = claims.get("exp", 0) - time.time()
        self.stdout.write(f"Token for {client.client_id} from {client.token_url}")
        self.stdout.write(f"sha256 {token_fingerprint(token)}, expires in {remaining:.0f} s")
        self.stdout.write("Claims (as issued, signature not checked here):")
        self.stdout.write(json.dumps(claims, indent=2, sort_keys=True))
        if options["raw"]:
            self.stdout.write(token)
