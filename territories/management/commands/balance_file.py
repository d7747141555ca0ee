"""``python manage.py balance_file FILE --territories K ...``: balance a CSV/XLSX, no database.

A thin shell around :func:`territories.balancing.cli.run`, which holds the options and the logic
(see ``docs/balancing.md``). The exit code is passed through: 0 done, 2 bad input (one line on
stderr).
"""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from territories.balancing.cli import build_parser, run


class Command(BaseCommand):
    help = build_parser().description
    # Reads a file and prints; it needs no database and no system checks.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("argv", nargs=argparse.REMAINDER, help="see balance_file --help")

    def run_from_argv(self, argv: list[str]) -> None:
        # From manage.py: hand every word after the command name to run() untouched, so its own
        # parser (not Django's) reads the options and the exit code reaches the shell.
        if argv[2:3] in (["-h"], ["--help"]):
            build_parser(prog=f"{argv[0]} balance_file").print_help()
            sys.exit(0)
        sys.exit(run(argv[2:]))

    def handle(self, *args, argv: list[str] | None = None, **options) -> None:
        # From call_command(): same run(), streams of this command; non-zero exits as SystemExit.
        code = run(list(argv or []) + list(args), stdout=self.stdout, stderr=self.stderr)
        if code:
            raise SystemExit(code)
