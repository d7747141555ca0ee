"""manage.py routing_token ENGAGEMENT [--name NAME]: print a new routing API token."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from routing.access import token_create
from routing.management.commands._common import engagement_arg


class Command(BaseCommand):
    help = (
        "Create a routing API token for an engagement and print it (only its hash is stored: "
        "this is the one time it is shown). Revoke it on the engagement's API tokens page."
    )

    def add_arguments(self, parser):
        parser.add_argument("engagement", help="the engagement's id, or its exact name")
        parser.add_argument("--name", default="Command-line token", help="a label for the token")

    def handle(self, *args, engagement: str, name: str, **options):
        target = engagement_arg(engagement)
        token, plaintext = token_create(engagement=target, name=name, actor=None)
        self.stderr.write(f"Token “{token.name}” for {target.name} (prefix {token.prefix}):")
        self.stdout.write(plaintext)
