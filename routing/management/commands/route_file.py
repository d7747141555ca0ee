"""manage.py route_file ENGAGEMENT FILE --out FILE: route every row of a CSV/XLSX file."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from routing import services
from routing.management.commands._common import engagement_arg


class Command(BaseCommand):
    help = (
        "Route every account row of a CSV or XLSX file against the engagement's territory "
        "object, exactly as bulk routing on the portal does, and write the file's columns plus "
        "territory, owner, team, decision level, fallback and trace to --out (.csv or .xlsx). "
        "Exits non-zero with a one-line error on a bad file."
    )

    def add_arguments(self, parser):
        parser.add_argument("engagement", help="the engagement's id, or its exact name")
        parser.add_argument("file", help="the CSV or XLSX file to route")
        parser.add_argument(
            "--out", required=True, help="where to write the result (.csv or .xlsx)"
        )

    def handle(self, *args, engagement: str, file: str, out: str, **options):
        target = engagement_arg(engagement)
        source, destination = Path(file), Path(out)
        if not source.is_file():
            raise CommandError(f"No such file: {source}")
        if destination.suffix.lower() not in (".csv", ".xlsx"):
            raise CommandError(f"--out must end in .csv or .xlsx, not {destination.name!r}.")
        if not destination.parent.is_dir():
            raise CommandError(f"--out: the folder {destination.parent} does not exist.")
        config = services.routing_config(engagement=target)
        if not config.territories:
            raise CommandError(
                f"{target.name} has no territory object yet: generate it from the approved run."
            )
        try:
            header, rows, summary, _ = services.route_table(
                path=source, name=source.name, config=config, progress=self._progress
            )
        except ValidationError as exc:
            raise CommandError(f"{source.name}: {' '.join(exc.messages)}") from None
        fmt = "xlsx" if destination.suffix.lower() == ".xlsx" else "csv"
        services.result_write(destination, header, rows, fmt)
        self._progress(100, "Done")
        self.stderr.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Routed {summary['rows']:,} rows to {destination} "
                f"({summary['fallbacks']:,} by a fallback; territory object version {config.version})."
            )
        )

    def _progress(self, pct: float, message: str) -> None:
        width = 30
        filled = int(width * max(0.0, min(100.0, pct)) / 100)
        line = f"\r[{'#' * filled}{'-' * (width - filled)}] {pct:5.1f}% {message[:50]:<50}"
        self.stderr.write(line if sys.stderr.isatty() else line.strip("\r"), ending="")
