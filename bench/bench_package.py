"""Benchmark: the documentation package of the demo's second customer, built as a worker does.

On a throw-away database (``create_test_db``), the demo is seeded (``engagements.demo.demo_seed``:
both customers, not timed) with N accounts per engagement; Bluepeak Logistics' engagement then
has an approved map, a growth plan, the territory object, a passing QA run and an audit — every
document has its data. The package is then built in a fresh process
(``manage.py build_package <id> --force``: the same ``handoff.package.package_build`` the job
calls, in a process of its own like RQ's work horse), and the benchmark reports the wall time,
the per-document times the build measured, the zip's size and the process's peak RSS
(``getrusage(RUSAGE_CHILDREN)``).

Targets (issue 8): 5,000 accounts ≤ 60 s; 50,000 accounts ≤ 3 minutes, memory reported.
Without ``REDIS_URL`` the script runs itself again under ``bin/with_redis.py`` (a private Redis for
the jobs the demo's approvals queue; none of them runs).

    DATABASE_URL=postgres://... .venv/bin/python bench/bench_package.py [--accounts 5000,50000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

TARGETS = {5000: 60.0, 50000: 180.0}


def build_in_child(
    engagement_id: int, db_name: str, media: Path
) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, zip path) of ``build_package`` in a fresh
    process."""
    url = os.environ["DATABASE_URL"]
    env = dict(
        os.environ, MEDIA_ROOT=str(media), DATABASE_URL=url.rsplit("/", 1)[0] + "/" + db_name
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "build_package", str(engagement_id), "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"build_package failed:\n{done.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return seconds, cpu, max(usage.ru_maxrss, before) / 1024.0, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="5000,50000", help="comma-separated sizes")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (the build runs in a child).")
    if not os.environ.get("REDIS_URL"):
        # Seeding the demo approves a run, which queues jobs: give them a Redis to land on (a
        # private one, thrown away afterwards; no worker runs them — only the build is timed).
        with_redis = str(ROOT / "bin" / "with_redis.py")
        argv = [sys.executable, with_redis, "--name", "bench-package", "--", sys.executable]
        os.execv(sys.executable, argv + [str(Path(__file__).resolve()), *sys.argv[1:]])
    sizes = [int(x) for x in args.accounts.split(",") if x.strip()]

    from engagements.demo import demo_seed
    from engagements.models import Engagement
    from handoff.package_models import DocumentPackage

    media = Path(settings.MEDIA_ROOT) / "bench-package"
    # A name of its own: tests (test_<name>) may run on the same server meanwhile.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"bench_package_{connection.settings_dict['NAME']}"
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    db_name = connection.settings_dict["NAME"]
    results = []
    try:
        for n in sizes:
            start = time.perf_counter()
            demo_seed(accounts=n, seed=2026, password="bench-pass", say=lambda _m: None)
            seeded = time.perf_counter() - start
            engagement = Engagement.objects.get(organization__name="Bluepeak Logistics")
            connection.close()  # the child opens its own
            seconds, cpu, rss, path = build_in_child(engagement.pk, db_name, media)
            package = DocumentPackage.objects.filter(engagement=engagement).order_by("-version")[0]
            timings = sorted(
                ((f["file"], f["seconds"]) for f in package.files), key=lambda kv: -kv[1]
            )
            row = {
                "accounts": n,
                "seed_seconds": round(seeded, 1),
                "build_seconds": round(seconds, 1),
                "cpu_seconds": round(cpu, 1),
                "recorded_seconds": package.seconds,
                "load_average": os.getloadavg()[0],
                "target_seconds": TARGETS.get(n),
                "within_target": seconds <= TARGETS.get(n, float("inf")),
                "peak_rss_mb": round(rss, 0),
                "zip_mb": round(package.size / 1e6, 2),
                "files": len(package.files),
                "slowest": dict(timings[:5]),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            Path(path).unlink(missing_ok=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(json.dumps({"database": connection.vendor, "results": results}, indent=2))


if __name__ == "__main__":
    main()
