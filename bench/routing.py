"""Benchmark the pure routing engine: bulk routing of a DataFrame, and one record at a time.

    .venv/bin/python bench/routing.py [--accounts 1000000] [--repeat 3] [--check 2000]

The territory object is built in Python, as ``routing.services.routing_config_build`` would build
it from the database, for a realistic hierarchy: three size bands on annual revenue; named
accounts (external id and domain) evaluated first; an Enterprise pod of account lists; Mid-Market
and SMB pods cut by region, with California split by county and New York by 3-digit ZIP; SMB
software accounts in their own territories; 100+ territories in all. The accounts are
``territories.synthetic.generate_accounts`` (log-normal revenue, states by GDP, real ZIP codes,
a few per cent of blanks), with garbage mixed in (unparseable revenue, unknown ZIP codes, foreign
countries) so the fallbacks are exercised.

Prints the median of ``--repeat`` bulk runs (after a warm-up run), the single-record rate, and
checks that ``--check`` random rows give the same answer on both paths.
Results go in docs/benchmarks.md under "Routing".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from routing import engine  # noqa: E402
from territories import geo  # noqa: E402
from territories.segments import Band  # noqa: E402
from territories.synthetic import generate_accounts  # noqa: E402

SPLIT = {"CA": "county", "NY": "zip3"}


def build_config(frame: pd.DataFrame, seed: int = 1) -> engine.RoutingConfig:
    rng = np.random.default_rng(seed)
    bands = (Band("Enterprise", 1e9, True), Band("Mid-Market", 5e7, True), Band("SMB"))
    regions = sorted(set(geo.STATE_REGION.values()))
    pods = [engine.Pod("enterprise", "Enterprise", segments=frozenset({"Enterprise"}))]
    for segment in ("Mid-Market", "SMB"):
        for region in regions:
            key = f"{segment.lower()}-{region.lower()}"
            pods.append(
                engine.Pod(
                    key,
                    f"{segment} · {region}",
                    segments=frozenset({segment}),
                    regions=frozenset({region}),
                )
            )
    rules = []
    enterprise_ids = frame.loc[frame["annual_revenue"] >= 1e9, "external_id"].astype(str).tolist()
    for i, chunk in enumerate(np.array_split(np.array(enterprise_ids, dtype=object), 12)):
        rules.append(
            engine.TerritoryRule(
                f"ent-{i + 1:02d}", f"Enterprise {i + 1}", "enterprise", engine.Team(f"Strategic AE {i + 1}"),
                accounts=frozenset(chunk.tolist()),
            )
        )  # fmt: skip
    for pod in pods[1:]:
        segment = next(iter(pod.segments))
        region = next(iter(pod.regions))
        units: list[str] = []
        for state in geo.STATES:
            if geo.STATE_REGION[state] != region:
                continue
            units += geo.state_units(state, SPLIT[state]) if state in SPLIT else [state]
        seats = 8 if segment == "Mid-Market" else 12
        rng.shuffle(units)
        for j, chunk in enumerate(np.array_split(np.array(units, dtype=object), seats)):
            chunk = chunk.tolist()
            rules.append(
                engine.TerritoryRule(
                    f"{pod.key}-{j + 1:02d}", f"{pod.label} {j + 1}", pod.key, engine.Team(f"AE {pod.key} {j + 1}", f"SDR {j}"),
                    states=frozenset(u for u in chunk if ":" not in u),
                    units=frozenset(u for u in chunk if ":" in u),
                )
            )  # fmt: skip
        if segment == "SMB":
            rules.append(
                engine.TerritoryRule(
                    f"{pod.key}-software", f"{pod.label} software", pod.key, engine.Team(f"AE {pod.key} software"),
                    priority=10, industries=frozenset({"software"}),
                )
            )  # fmt: skip
    sample = frame.sample(500, random_state=seed)
    overrides = tuple(
        engine.NamedOverride(
            str(r.external_id), engine.normalize_domain(r.domain), "", f"Named owner {k % 7}"
        )
        for k, r in enumerate(sample.itertuples())
    )
    fallbacks = {
        "segment": engine.Fallback(queue="Size review"),
        "region": engine.Fallback(queue="Geo review"),
        "state": engine.Fallback(queue="Geo review"),
        "sub_state": engine.Fallback(queue="Geo review"),
        "territory": engine.Fallback(queue="RevOps"),
    }
    return engine.RoutingConfig(
        bands=bands,
        pods=tuple(pods),
        territories=tuple(rules),
        overrides=overrides,
        fallbacks=fallbacks,
        granularity_by_state=SPLIT,
    )


def make_frame(n: int, seed: int) -> pd.DataFrame:
    frame = generate_accounts(n, seed=seed)
    rng = np.random.default_rng(seed)
    # Garbage a CRM export has: text in the revenue column, made-up ZIP codes, foreign accounts.
    revenue = frame["annual_revenue"].astype(object)
    revenue[rng.random(n) < 0.01] = "n/a"
    frame["annual_revenue"] = revenue
    postal = frame["postal_code"].astype(object)
    postal[rng.random(n) < 0.01] = "ABCDE"
    frame["postal_code"] = postal
    country = frame["country"].astype(object)
    country[rng.random(n) < 0.005] = "Canada"
    frame["country"] = country
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    start = time.perf_counter()
    frame = make_frame(args.accounts, args.seed)
    print(
        f"generate {args.accounts:,} accounts: {time.perf_counter() - start:.1f} s (not timed below)"
    )
    start = time.perf_counter()
    geo.postal_to_state("10001")
    print(
        f"ZIP table load (once per process, warmed at start-up): {time.perf_counter() - start:.2f} s"
    )
    typed = frame.copy()
    typed["annual_revenue"] = pd.to_numeric(typed["annual_revenue"], errors="coerce")
    config = build_config(typed, args.seed)
    print(
        f"config: {len(config.pods)} pods, {len(config.territories)} territories, "
        f"{sum(len(t.accounts) for t in config.territories):,} listed accounts, "
        f"{len(config.overrides)} named accounts, split states {SPLIT}"
    )

    for label, data in (
        ("object revenue column (text and numbers mixed)", frame),
        ("float revenue column", typed),
    ):
        runs = []
        first = None
        for attempt in range(args.repeat + 1):
            start = time.perf_counter()
            routed = engine.route_frame(data, config, trace=True)
            elapsed = time.perf_counter() - start
            if attempt == 0:
                first = elapsed
            else:
                runs.append(elapsed)
        print(
            f"bulk route_frame, {len(data):,} rows, {label}: median {statistics.median(runs):.2f} s "
            f"(min {min(runs):.2f}, max {max(runs):.2f}, first {first:.2f}) = "
            f"{len(data) / statistics.median(runs):,.0f} records/s"
        )
    levels = routed["decided_at"].value_counts()
    print("decided at: " + ", ".join(f"{k} {v:,}" for k, v in levels.items()))

    rows = frame.sample(min(args.check, len(frame)), random_state=args.seed)
    records = rows.to_dict("records")
    start = time.perf_counter()
    decisions = [engine.route_record(r, config) for r in records]
    elapsed = time.perf_counter() - start
    print(
        f"single route_record, {len(records):,} records with full traces: "
        f"{elapsed / len(records) * 1e6:.0f} µs per record"
    )
    bulk = engine.route_frame(rows, config)
    mismatches = sum(
        engine.decision_from_row(bulk.iloc[i].to_dict()) != d.outcome()
        for i, d in enumerate(decisions)
    )
    print(f"single vs bulk on {len(records):,} random rows: {mismatches} differences")
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
