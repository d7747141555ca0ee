"""Benchmark: segments, ICP tiers and valuation of 100,000 accounts in the pure modules.

No database: the synthetic universe (``territories.synthetic.generate_accounts``) goes straight
into ``territories.segments``, ``territories.tiers`` and ``territories.valuation`` — the same
functions the re-valuation job calls — and each step is timed on its own (best and median of
``--repeat`` runs, after one warm-up). Explanations are built for every account in every run.

    .venv/bin/python bench/valuation.py [--rows 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from territories import segments, tiers, valuation  # noqa: E402
from territories.synthetic import generate_accounts  # noqa: E402

SCHEME = segments.SegmentScheme(
    "annual_revenue",
    (segments.Band("Enterprise", 1e9), segments.Band("Mid-Market", 1e8), segments.Band("SMB")),
)
RULES = [
    tiers.Rule("T1", (tiers.Condition("industry", "in", ("Software", "Financial Services")),
                      tiers.Condition("employees", "gte", 250.0))),
    tiers.Rule("T1", (tiers.Condition("custom:growth_signal", "eq", "high"),
                      tiers.Condition("employees", "gte", 1000.0))),
    tiers.Rule("T2", (tiers.Condition("industry", "in", ("Healthcare", "Manufacturing", "Retail")),
                      tiers.Condition("employees", "gte", 50.0))),
    tiers.Rule("T3", (tiers.Condition("employees", "gte", 20.0),)),
]  # fmt: skip


def timed(func, repeat: int) -> tuple[float, float, object]:
    func()  # warm-up
    runs, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs), result


def report(label: str, best: float, median: float) -> None:
    print(f"{label:<58} best {best * 1000:7.1f} ms   median {median * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    frame = generate_accounts(args.rows, seed=11)
    frame["custom"] = [{"growth_signal": g} for g in frame.pop("growth_signal")]
    frame["employees"] = frame["employees"].astype(float)
    n = f"{args.rows:,} accounts"

    best, median, seg = timed(
        lambda: segments.assign_segments(frame["annual_revenue"].to_numpy(), SCHEME), args.repeat
    )
    report(f"segments, {n}", best, median)
    frame["segment"] = seg
    best, median, assignment = timed(lambda: tiers.assign_tiers(frame, RULES), args.repeat)
    report(f"ICP tiers (4 rules, one on a custom attribute), {n}", best, median)
    frame["tier"] = assignment.tier
    result = None
    for method in ("benchmark", "scaled"):
        params = valuation.ValuationParams(method=method, caps={"Enterprise": 2e6})
        best, median, result = timed(
            lambda p=params: valuation.value_accounts(frame, p, segments=SCHEME.labels),
            args.repeat,
        )
        report(f"valuation ({method}, with explanations), {n}", best, median)
    hedges = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    best, median, _ = timed(
        lambda: valuation.sensitivity(result, seg, hedges, SCHEME.labels), args.repeat
    )
    report(f"sensitivity table (8 hedge factors), {n}", best, median)
    print(f"example explanation: {result.explanation[0]}")


if __name__ == "__main__":
    main()
