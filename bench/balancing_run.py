"""Benchmark: a balancing run of the portal end to end, and its results page.

On a throw-away database (``create_test_db``), an engagement gets a synthetic universe
(``territories.synthetic.generate_accounts``; not timed: upsert and valuation), then each
scenario runs ``territories.design.balancing_run_execute`` — exactly what the job does — and
reads the run's own phase timings:

  load    the accounts (one query, 15 columns) and the data version
  build   pods, named accounts, geographic units and their adjacency
  engine  the balancing engine, every pod
  write   pods, territories and every atom in one transaction (PostgreSQL: COPY)
  maps    the territory maps drawn and stored
  = total what the job takes

Scenarios (50 territories each; three pods: Enterprise 5 seats of accounts, Mid-Market 20,
SMB 25; continuity from the synthetic owners, who hold the first seats of the two big pods):

  accounts  Mid-Market and SMB made of accounts too: every one of 100,000 accounts is an atom
            written to the database (the heaviest write)
  counties  Mid-Market and SMB made of geographic units, every state by county (about 3,100
            units each, contiguous territories asked)

Then the results page of each run through Django's test client (session, access layer,
templates; DEBUG off; median of ``--repeat`` requests after a warm-up), with its query count,
with a territory's atoms open, and a manual move (``run_atom_move``: metrics recomputed with
``metrics_for`` and the stored bounds, territories, run and map updated); then the equity
report's suggested moves as the rebalancing job computes them, and the equity page, which
reads them stored.

    DATABASE_URL=postgres://... .venv/bin/python bench/balancing_run.py [--accounts 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from engagements.models import CustomerOrganization, Engagement, Membership, Role, User  # noqa: E402
from territories import design, geo, services  # noqa: E402
from territories.demo import THREE_SEGMENTS  # noqa: E402
from territories.hierarchy import HierarchySpec, PodSpec  # noqa: E402
from territories.models import BalancingRun, RunAtom, RunTerritory  # noqa: E402
from territories.synthetic import OWNERS_BY_REGION, generate_accounts  # noqa: E402

OWNERS = tuple(name for names in OWNERS_BY_REGION.values() for name in names)
PHASES = ("load", "build", "engine", "write", "maps", "total")


def build(accounts: int) -> tuple[Engagement, User]:
    org = CustomerOrganization.objects.create(name=f"Bench {accounts:,}")
    engagement = Engagement.objects.create(organization=org, name="Balancing bench")
    architect = User.objects.create_user(f"bench-architect-{accounts}", password="bench-pass-123")
    Membership.objects.create(engagement=engagement, user=architect, role=Role.ARCHITECT)
    services.segment_definition_update(engagement=engagement, scheme=THREE_SEGMENTS, actor=None)
    services.accounts_upsert(
        engagement=engagement, frame=generate_accounts(accounts, seed=11, id_prefix="B")
    )
    services.accounts_revalue(engagement=engagement)
    return engagement, architect


def spec_for(engagement: Engagement, scenario: str) -> HierarchySpec:
    scheme = services.model_inputs(engagement=engagement)["scheme"]
    atom = "account" if scenario == "accounts" else "unit"
    counties = {} if scenario == "accounts" else dict.fromkeys(geo.STATES, "county")
    return HierarchySpec(
        cuts=("named_accounts", "segment", "state"),
        segment_basis=scheme.basis,
        bands=scheme.bands,
        pods=(
            PodSpec("enterprise", "Enterprise", segments=("Enterprise",), seats=5, atom="account"),
            PodSpec(
                "mid-market",
                "Mid-Market",
                segments=("Mid-Market",),
                seats=20,
                atom=atom,
                granularity_by_state=counties,
                reps=OWNERS,
            ),
            PodSpec(
                "smb",
                "SMB",
                segments=("SMB",),
                seats=25,
                atom=atom,
                granularity_by_state=counties,
                reps=OWNERS,
            ),
        ),
    )


def one_run(engagement: Engagement, spec: HierarchySpec, number: int, time_limit: float):
    run = BalancingRun.objects.create(
        engagement=engagement,
        number=number,
        params=design.RunParams(seed=1, time_limit=time_limit).as_dict(),
        hierarchy=spec.to_json(),
    )
    return design.balancing_run_execute(run=run)


def timed_page(client: Client, url: str, repeat: int) -> tuple[float, int, int]:
    client.get(url)  # warm-up: template compilation, the zip table
    runs = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url)
            runs.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return statistics.median(runs), len(ctx.captured_queries), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument("--pages", type=int, default=15, help="requests per page (median)")
    parser.add_argument("--scenarios", default="accounts,counties")
    parser.add_argument("--time-limit", type=float, default=30.0, help="engine seconds per pod")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    results: dict = {"database": connection.vendor, "accounts": args.accounts, "scenarios": {}}
    try:
        start = time.perf_counter()
        engagement, architect = build(args.accounts)
        print(
            f"database {connection.vendor}; {args.accounts:,} accounts set up in "
            f"{time.perf_counter() - start:.1f} s (not timed below)",
            flush=True,
        )
        client = Client()
        client.force_login(architect)
        number = 0
        for scenario in args.scenarios.split(","):
            spec = spec_for(engagement, scenario)
            timings = {phase: [] for phase in PHASES}
            run = None
            for _ in range(args.repeat):
                number += 1
                run = one_run(engagement, spec, number, args.time_limit)
                for phase in PHASES:
                    timings[phase].append(run.summary["timings"][phase])
            atoms = RunAtom.objects.filter(run=run).count()
            balance = dict(run.metrics)  # before the manual moves below
            base = f"/engagements/{engagement.pk}/territories/runs/{run.pk}/"
            page = timed_page(client, base, args.pages)
            territory = RunTerritory.objects.filter(run=run, pod__key="smb").first()
            open_page = timed_page(client, f"{base}?territory={territory.pk}", args.pages)
            moves = []
            candidates = list(
                RunAtom.objects.filter(run=run, pod__key="smb", count__gt=0).order_by("pk")[
                    : args.pages
                ]
            )
            for atom in candidates:
                target = (
                    RunTerritory.objects.filter(run=run, pod=atom.pod)
                    .exclude(pk=atom.territory_id)
                    .first()
                )
                t0 = time.perf_counter()
                design.run_atom_move(run=run, atom=atom, territory=target, actor=None)
                moves.append(time.perf_counter() - t0)
                run.refresh_from_db()
            # The equity report's suggested moves (the job's work, after the moves above
            # unbalanced the pod a little), then the page, which reads them stored.
            t0 = time.perf_counter()
            design.rebalancing_plan_compute(run=run)
            moves_job = time.perf_counter() - t0
            equity_page = timed_page(client, f"{base}equity/", args.pages)
            row = {
                "atoms_written": atoms,
                "territories": balance["territories"],
                "value_max_dev_pct": balance["value"]["max_dev_pct"],
                "count_max_dev_pct": balance["count"]["max_dev_pct"],
                "within_tolerance": balance["within_tolerance"],
                "phases_median_s": {p: round(statistics.median(v), 3) for p, v in timings.items()},
                "total_s_all": [round(v, 3) for v in timings["total"]],
                "page_ms": round(page[0] * 1000, 1),
                "page_queries": page[1],
                "page_kib": round(page[2] / 1024),
                "page_open_ms": round(open_page[0] * 1000, 1),
                "page_open_queries": open_page[1],
                "move_ms": round(statistics.median(moves) * 1000, 1),
                "rebalancing_job_s": round(moves_job, 3),
                "equity_page_ms": round(equity_page[0] * 1000, 1),
                "equity_page_queries": equity_page[1],
            }
            results["scenarios"][scenario] = row
            phases = " ".join(f"{p} {row['phases_median_s'][p]:.2f}" for p in PHASES)
            print(
                f"{scenario:<9} {atoms:>7,} atoms, {row['territories']} territories "
                f"(value ±{row['value_max_dev_pct']:.1f} %, count ±{row['count_max_dev_pct']:.1f} %): "
                f"{phases} s (runs: {row['total_s_all']}); results page {row['page_ms']} ms, "
                f"{row['page_queries']} queries, {row['page_kib']} KiB; with a territory open "
                f"{row['page_open_ms']} ms, {row['page_open_queries']} queries; a manual move "
                f"{row['move_ms']} ms; suggested moves (job) {row['rebalancing_job_s']} s, "
                f"equity page {row['equity_page_ms']} ms, {row['equity_page_queries']} queries",
                flush=True,
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
