"""Benchmark: import 100,000 accounts end to end (file -> validated rows -> PostgreSQL).

Generates a synthetic universe with ``territories.synthetic.generate_accounts``, writes it as CSV
and XLSX (not timed), then imports each through the same service the import job runs
(``account_import_create`` + ``account_import_run``) into a throw-away engagement, and prints the
seconds of each phase. Run against PostgreSQL:

    DATABASE_URL=postgres://... .venv/bin/python bench/import_accounts.py [--rows 100000]

The second import of the same file is an update of every row (re-import), timed too.
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

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402

from engagements.models import CustomerOrganization, Engagement  # noqa: E402
from territories import services  # noqa: E402
from territories.models import Account  # noqa: E402
from territories.synthetic import generate_accounts  # noqa: E402


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


def run_import(engagement: Engagement, path: Path, *, revalue: bool) -> dict[str, float]:
    phases: dict[str, float] = {}
    last = time.perf_counter()
    start = last

    def progress(pct: float, message: str) -> None:
        nonlocal last
        now = time.perf_counter()
        phases[message.split(" ")[0]] = phases.get(message.split(" ")[0], 0) + now - last
        last = now

    upload = SimpleUploadedFile(path.name, path.read_bytes())
    record = services.account_import_create(engagement=engagement, upload=upload, user=None)
    inspected = time.perf_counter()
    record = services.account_import_run(account_import=record, progress=progress, revalue=revalue)
    end = time.perf_counter()
    assert record.status == "imported", (record.status, record.message, record.errors[:3])
    return {
        "upload+inspect": inspected - start,
        "read+validate+write": end - inspected,
        "total": end - start,
        "created": record.created_count,
        "updated": record.updated_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--revalue", action="store_true", help="include segments/tiers/values")
    args = parser.parse_args()
    print(f"database: {connection.vendor}; rows: {args.rows:,}")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        files = write_files(args.rows, Path(tmp))
        print(f"(wrote the files in {time.perf_counter() - t:.1f} s, not timed)")
        org, _ = CustomerOrganization.objects.get_or_create(name="Benchmark (throw-away)")
        for kind, path in files.items():
            Engagement.objects.filter(organization=org, name=f"bench-{kind}").delete()
            engagement = Engagement.objects.create(organization=org, name=f"bench-{kind}")
            try:
                size = path.stat().st_size / 1e6
                first = run_import(engagement, path, revalue=args.revalue)
                second = run_import(engagement, path, revalue=args.revalue)
                count = Account.objects.filter(engagement=engagement).count()
                assert count == args.rows, count
                print(
                    f"{kind.upper():4} {size:6.1f} MB  first import {first['total']:.2f} s "
                    f"(created {first['created']:,})  re-import {second['total']:.2f} s "
                    f"(updated {second['updated']:,})"
                )
            finally:
                engagement.delete()
        org.delete()


if __name__ == "__main__":
    main()
