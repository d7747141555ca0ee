"""Benchmark: import 100,000 accounts end to end (file -> validated rows -> PostgreSQL).

Generates a synthetic universe with ``territories.synthetic.generate_accounts`` (16 columns: the
14 standard fields and two custom attributes), writes it as CSV and as XLSX (not timed), then
imports each through the same services the upload page and the import job use
(``account_import_create`` then ``account_import_run``) into a throw-away engagement, twice: the
first import creates every account, the second updates every one (a re-import).

Phases, timed from the service's own progress reports:
  inspect   upload stored, file sniffed (encoding / separator / zip check), preview read
  read      the whole file read as text (CSV: pandas C parser; XLSX: calamine)
  validate  every row checked and typed
  write     upsert in one transaction (PostgreSQL: COPY into a temp table + INSERT … ON CONFLICT)
  = import  the four above: the accounts are in the database
  revalue   segments, tiers, values and explanations of the whole universe written back
  quality   the data-quality report
  = job     everything the import job does

    DATABASE_URL=postgres://... .venv/bin/python bench/import_accounts.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402

from engagements.models import CustomerOrganization, Engagement  # noqa: E402
from territories import services  # noqa: E402
from territories.models import Account  # noqa: E402
from territories.synthetic import generate_accounts  # noqa: E402

PHASES = ("inspect", "read", "validate", "write", "revalue", "quality")
# First word of each progress message of account_import_run -> the phase it starts.
STARTS = {
    "Reading": "read",
    "Checking": "validate",
    "Writing": "write",
    "Valuing": "revalue",
    "Updating": "quality",
}


def write_files(rows: int, folder: Path) -> dict[str, Path]:
    frame = generate_accounts(rows, seed=7, id_prefix="BENCH")
    frame["is_customer"] = frame["is_customer"].map({True: "yes", False: "no"})
    csv_path = folder / "accounts.csv"
    frame.to_csv(csv_path, index=False)
    xlsx_path = folder / "accounts.xlsx"
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Accounts")
    sheet.append(list(frame.columns))
    # Written as a CRM export would be: numbers as numbers, blanks as empty cells.
    frame = frame.astype(object).where(frame.notna(), None)
    for record in frame.itertuples(index=False):
        sheet.append(list(record))
    workbook.save(xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path}


def run_import(engagement: Engagement, path: Path) -> dict[str, float]:
    times = dict.fromkeys(PHASES, 0.0)
    current = "inspect"
    last = time.perf_counter()

    def progress(pct: float, message: str) -> None:
        nonlocal current, last
        phase = STARTS.get(message.split(" ")[0])
        if phase is None or phase == current or PHASES.index(phase) < PHASES.index(current):
            return  # a step inside the current phase (the re-valuation's own reports)
        now = time.perf_counter()
        times[current] += now - last
        current, last = phase, now

    upload = SimpleUploadedFile(path.name, path.read_bytes())
    record = services.account_import_create(engagement=engagement, upload=upload, user=None)
    progress(0, "Reading")
    record = services.account_import_run(account_import=record, progress=progress)
    times[current] += time.perf_counter() - last
    assert record.status == "imported", (record.status, record.message, record.errors[:3])
    times["created"], times["updated"] = record.created_count, record.updated_count
    return times


def line(kind: str, label: str, size: float, t: dict[str, float]) -> str:
    imported = sum(t[p] for p in PHASES[:4])
    job = imported + t["revalue"] + t["quality"]
    return (
        f"{kind:4} {label:9} {size:5.1f} MB  "
        + "  ".join(f"{p} {t[p]:5.2f}" for p in PHASES[:4])
        + f"  = import {imported:5.2f} s  | revalue {t['revalue']:5.2f}  quality "
        f"{t['quality']:5.2f}  = job {job:5.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(f"database: {connection.vendor}; rows: {args.rows:,}")
    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = Path(tmp) / "media"  # the uploads go with the temporary folder
        started = time.perf_counter()
        files = write_files(args.rows, Path(tmp))
        print(f"(files written in {time.perf_counter() - started:.1f} s, not timed)")
        org, _ = CustomerOrganization.objects.get_or_create(name="Benchmark (throw-away)")
        try:
            for kind, path in files.items():
                Engagement.objects.filter(organization=org, name=f"bench-{kind}").delete()
                engagement = Engagement.objects.create(organization=org, name=f"bench-{kind}")
                size = path.stat().st_size / 1e6
                first = run_import(engagement, path)
                assert first["created"] == args.rows, first
                print(line(kind.upper(), "first", size, first))
                second = run_import(engagement, path)
                assert second["updated"] == args.rows, second
                assert Account.objects.filter(engagement=engagement).count() == args.rows
                print(line(kind.upper(), "re-import", size, second))
        finally:
            Engagement.objects.filter(organization=org).delete()
            org.delete()


if __name__ == "__main__":
    main()
