"""manage.py import_accounts ENGAGEMENT FILE [--mapping JSON] [--strict] [--errors CSV]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from engagements.models import Engagement
from territories import ingest, services
from territories.models import AccountImport


class Command(BaseCommand):
    help = (
        "Import accounts from a CSV (UTF-8 or Windows-1252; comma, semicolon or tab separated) "
        "or XLSX file into an engagement, exactly as the import page does: columns auto-mapped "
        "to the standard fields (override with --mapping), every row validated, accounts "
        "upserted by external id in one transaction, then re-valued. Exits non-zero when the "
        "file is rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("engagement", help="the engagement's id, or its exact name")
        parser.add_argument("file", help="the CSV or XLSX file")
        parser.add_argument(
            "--mapping",
            help=(
                'JSON object {"file column": "field"} (or the path of a file holding one); '
                f"fields: {', '.join(ingest.FIELD_LABELS)}, {ingest.CUSTOM} or {ingest.IGNORE}. "
                "Columns not named are auto-mapped."
            ),
        )
        parser.add_argument(
            "--strict", action="store_true", help="import nothing unless every row is valid"
        )
        parser.add_argument("--errors", metavar="CSV", help="write every row error to this file")

    def handle(self, *args, engagement: str, file: str, mapping, strict, errors, **options):
        target = self._engagement(engagement)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        # The upload record and its mapping are one step: a mapping refused leaves no import
        # behind (no row, no activity line, no stored file).
        with transaction.atomic():
            try:
                with path.open("rb") as handle:
                    record = services.account_import_create(
                        engagement=target, upload=File(handle, name=path.name), user=None
                    )
            except ValidationError as exc:
                raise CommandError(f"{path.name}: {' '.join(exc.messages)}") from None
            headers = record.table().headers
            chosen = dict(record.mapping)
            try:
                if mapping:
                    chosen.update(self._mapping(mapping, headers))
                services.account_import_configure(
                    account_import=record, mapping=chosen, strict=strict
                )
            except (CommandError, ValidationError) as exc:
                record.file.delete(save=False)
                if isinstance(exc, CommandError):
                    raise
                raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"{path.name}: {record.table().description}, {len(headers)} columns")
        for header in headers:
            self.stdout.write(f"  {header} -> {chosen[header]}", style_func=None)
        record = services.account_import_run(account_import=record, progress=self._progress)
        self.stderr.write("")
        if errors and record.errors_file:
            Path(errors).write_bytes(record.errors_file.read())
            self.stdout.write(f"Row errors written to {errors}")
        for error in record.errors[:10]:
            self.stdout.write(
                f"  row {error['row']}, column {error['column']}: {error['value']!r}: "
                f"{error['reason']}"
            )
        if record.error_count > 10:
            self.stdout.write(f"  … and {record.error_count - 10:,} more errors")
        for note in record.notes:
            self.stdout.write(note)
        if record.status in (AccountImport.Status.REJECTED, AccountImport.Status.FAILED):
            raise CommandError(f"Nothing imported: {record.message}")
        summary = (
            f"Imported {record.rows_imported:,} of {record.rows_total:,} rows: "
            f"{record.created_count:,} new accounts, {record.updated_count:,} updated"
        )
        if record.status == AccountImport.Status.PARTIAL:
            self.stdout.write(
                self.style.WARNING(f"{summary}; {record.rows_rejected:,} rows rejected.")
            )
        else:
            self.stdout.write(self.style.SUCCESS(summary + "."))

    def _engagement(self, value: str) -> Engagement:
        if value.isdigit():
            found = Engagement.objects.filter(pk=int(value)).first()
            if found is None:
                raise CommandError(f"No engagement with id {value}.")
            return found
        matches = list(Engagement.objects.filter(name=value)[:2])
        if not matches:
            raise CommandError(f"No engagement named {value!r}.")
        if len(matches) > 1:
            raise CommandError(f"More than one engagement is named {value!r}: give its id.")
        return matches[0]

    def _mapping(self, value: str, headers: tuple[str, ...]) -> dict[str, str]:
        text = value
        if not value.lstrip().startswith("{"):
            try:
                text = Path(value).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"--mapping: cannot read {value}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--mapping is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise CommandError('--mapping must be a JSON object {"file column": "field"}.')
        unknown = [k for k in data if k not in headers]
        if unknown:
            raise CommandError(
                f"--mapping names columns the file does not have: {', '.join(unknown)} "
                f"(the file has: {', '.join(headers)})."
            )
        return data

    def _progress(self, pct: float, message: str) -> None:
        width = 30
        filled = int(width * max(0.0, min(100.0, pct)) / 100)
        bar = "#" * filled + "-" * (width - filled)
        line = f"\r[{bar}] {pct:5.1f}% {message[:60]:<60}"
        if sys.stderr.isatty() or settings.DEBUG:
            self.stderr.write(line, ending="")
        else:
            self.stderr.write(line.strip("\r"))
