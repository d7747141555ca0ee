"""Benchmarks of the balancing engine against its lower bounds and a greedy baseline.

    .venv/bin/python bench/balancing.py                 # every scenario, one process each
    .venv/bin/python bench/balancing.py big whale       # some scenarios
    .venv/bin/python bench/balancing.py --json out.json # also write the rows as JSON

Each scenario runs in a fresh process so its peak memory (``ru_maxrss``) is its own. ``seconds``
is the engine call alone (data generation excluded); ``peak MB`` is the whole process.
The greedy baseline is "largest first to the lightest territory with room" (room: at most
``ceil(n/K)`` atoms), the rule waterfalls of commercial planners in their simplest form.
Results and the machine are recorded in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import balancing_data as data  # noqa: E402

from territories.balancing import Problem, balance, growth_cut, metrics_for  # noqa: E402
from territories.balancing.geo import bisect, delaunay_edges  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def greedy(problem: Problem) -> np.ndarray:
    """Largest first (sum of the measures over their means) to the lightest territory with room."""
    w = problem.measures
    k = problem.territories
    mean = w.sum(axis=0) / k
    cols = [j for j in range(problem.d) if mean[j] > 0 and not problem.unit_count[j]] or [0]
    key = (w[:, cols] / mean[cols]).sum(axis=1)
    room = -(-problem.n // k)
    count = [0] * k
    heap = [(0.0, t) for t in range(k)]
    out = np.empty(problem.n, dtype=np.int64)
    for i in np.argsort(-key, kind="stable").tolist():
        load, t = heapq.heappop(heap)
        while count[t] >= room:
            load, t = heapq.heappop(heap)
        out[i] = t
        count[t] += 1
        heapq.heappush(heap, (load + key[i], t))
    return out


def row(name: str, method: str, problem: Problem, metrics, seconds: float, **extra) -> dict:
    r = {
        "scenario": name,
        "method": method,
        "atoms": problem.n,
        "territories": problem.territories,
        "seconds": round(seconds, 3),
        "peak_mb": round(peak_mb(), 1),
        "within_tolerance": metrics.within_tolerance,
        "optimal": metrics.optimal,
        "measures": {
            m.name: {
                "max_dev_pct": round(m.max_dev_pct, 6),
                "lower_bound_max_dev_pct": round(m.lower_bound_max_dev_pct, 6),
                "gap_pp": round(m.gap_pp, 6),
                "spread_pct": round(m.spread_pct, 6),
                "cv_pct": round(m.cv_pct, 6),
            }
            for m in metrics.measures
        },
    }
    if metrics.moves_lower_bound is not None:
        r["moved_atoms"] = metrics.moved_atoms
        r["moves_lower_bound"] = metrics.moves_lower_bound
        r["moves_ratio"] = round(metrics.moves_ratio, 4)
        r["moved_value_pct"] = round(metrics.moved_value_pct, 3)
    if metrics.contiguous_territories is not None:
        r["contiguous"] = metrics.contiguous_territories
    r.update(extra)
    return r


def greenfield_pair(name: str, problem: Problem, tolerance: float = 0.10, **kw) -> list[dict]:
    t0 = time.perf_counter()
    result = balance(problem, tolerance=tolerance, **kw)
    t1 = time.perf_counter()
    rows = [row(name, "engine", result.problem, result.metrics, t1 - t0, notes=list(result.notes))]
    t0 = time.perf_counter()
    g = greedy(problem)
    t1 = time.perf_counter()
    gm = metrics_for(result.problem, g, tolerance=tolerance, bounds=result.bounds)
    rows.append(row(name, "greedy", result.problem, gm, t1 - t0))
    return rows


def scenario_big() -> list[dict]:
    """1,000,000 accounts into 500 territories, count + value (log-normal, sigma 1.5)."""
    v = data.lognormal_values(1_000_000, seed=1)
    return greenfield_pair("big-lognormal", Problem(data.count_value(v), ("count", "value"), 500))


def scenario_big_pareto() -> list[dict]:
    """1,000,000 accounts into 500 territories, count + value (Pareto 80/20)."""
    v = data.pareto_values(1_000_000, seed=2)
    return greenfield_pair("big-pareto", Problem(data.count_value(v), ("count", "value"), 500))


def scenario_whale() -> list[dict]:
    """100,000 accounts into 200, Pareto alpha 1.05: whales bigger than a territory's mean."""
    v = data.pareto_values(100_000, seed=3, alpha=1.05)
    return greenfield_pair("whale", Problem(data.count_value(v), ("count", "value"), 200))


def scenario_three() -> list[dict]:
    """10,000 atoms into 160, three measures (CTDP measures), no geography: run to the end, and
    with a 3-second limit."""
    _, w = data.ctdp(10_000, seed=4)
    p = Problem(w, ("customers", "demand", "workload"), 160)
    rows = greenfield_pair("three-measures", p)
    t0 = time.perf_counter()
    r = balance(p, time_limit=3.0)
    t1 = time.perf_counter()
    rows.insert(1, row("three-measures", "engine, 3 s limit", p, r.metrics, t1 - t0))
    return rows


def scenario_continuity() -> list[dict]:
    """1,000,000 accounts, 500 drifted territories, rebalance to ±5 % with the fewest moves."""
    v = data.lognormal_values(1_000_000, seed=5)
    owner = data.drifted_owners(1_000_000, 500, seed=5)
    p = Problem(data.count_value(v), ("count", "value"), 500, owner=owner)
    t0 = time.perf_counter()
    result = balance(p, tolerance=0.05)
    t1 = time.perf_counter()
    before = metrics_for(p, owner, tolerance=0.05, bounds=result.bounds)
    return [
        row("continuity", "engine", p, result.metrics, t1 - t0),
        row("continuity", "start (drifted)", p, before, 0.0),
    ]


def scenario_growth() -> list[dict]:
    """1,000,000 accounts, 500 balanced territories grow to 550, ±5 % after every cut."""
    v = data.lognormal_values(1_000_000, seed=6)
    p = Problem(data.count_value(v), ("count", "value"), 500)
    start = balance(p).assignment
    t0 = time.perf_counter()
    result = growth_cut(p, start, add=50, tolerance=0.05)
    t1 = time.perf_counter()
    steps_ok = sum(s.within_tolerance for s in result.steps)
    worst = max(max(s.max_dev_pct.values()) for s in result.steps)
    return [
        row(
            "growth",
            "engine",
            result.problem,
            result.metrics,
            t1 - t0,
            steps_within_tolerance=f"{steps_ok}/{len(result.steps)}",
            worst_step_max_dev_pct=round(worst, 3),
        )
    ]


def _contiguous(name: str, n: int, k: int, seed: int) -> list[dict]:
    coords, w = data.ctdp(n, seed=seed)
    p = Problem(w, ("customers", "demand", "workload"), k, coords=coords)
    t0 = time.perf_counter()
    result = balance(p, tolerance=0.05, contiguous=True, seed=seed)
    t1 = time.perf_counter()
    rows = [row(name, "engine", result.problem, result.metrics, t1 - t0, notes=list(result.notes))]
    # Baseline: the compact recursive bisection the search starts from (before the search).
    gp = result.problem
    t0 = time.perf_counter()
    b = bisect(coords, (w / w.mean(axis=0)).sum(axis=1), k)
    t1 = time.perf_counter()
    rows.append(row(name, "bisection only", gp, metrics_for(gp, b, tolerance=0.05), t1 - t0))
    return rows


def scenario_ctdp_500() -> list[dict]:
    """CTDP-like: 500 points into 10 contiguous territories, three measures within ±5 %."""
    return _contiguous("ctdp-500", 500, 10, 7)


def scenario_ctdp_10k() -> list[dict]:
    """CTDP-like: 10,000 points into 160 contiguous territories, three measures within ±5 %."""
    return _contiguous("ctdp-10k", 10_000, 160, 8)


def scenario_clustered() -> list[dict]:
    """20,000 accounts in clustered metros into 50 contiguous territories, count + value ±10 %."""
    pts = data.clustered_points(20_000, seed=9)
    v = data.lognormal_values(20_000, seed=9, sigma=1.0)
    p = Problem(data.count_value(v), ("count", "value"), 50, coords=pts, edges=delaunay_edges(pts))
    t0 = time.perf_counter()
    result = balance(p, tolerance=0.10, contiguous=True, seed=9)
    t1 = time.perf_counter()
    rows = [row("clustered", "engine", p, result.metrics, t1 - t0, notes=list(result.notes))]
    g = greedy(p)
    rows.append(
        row(
            "clustered",
            "greedy (not contiguous)",
            p,
            metrics_for(p, g, tolerance=0.10, bounds=result.bounds),
            0.0,
        )
    )
    return rows


SCENARIOS = {
    "big": scenario_big,
    "big-pareto": scenario_big_pareto,
    "whale": scenario_whale,
    "three": scenario_three,
    "continuity": scenario_continuity,
    "growth": scenario_growth,
    "ctdp-500": scenario_ctdp_500,
    "ctdp-10k": scenario_ctdp_10k,
    "clustered": scenario_clustered,
}


def table(rows: list[dict]) -> str:
    lines = [
        f"{'scenario':<15}{'method':<24}{'atoms':>9}{'K':>5}{'sec':>8}{'peakMB':>8}  "
        "per measure: max dev % / bound % / gap pp; moves/bound"
    ]
    for r in rows:
        ms = "  ".join(
            f"{name}: {m['max_dev_pct']:.4f}/{m['lower_bound_max_dev_pct']:.4f}/{m['gap_pp']:.4f}"
            for name, m in r["measures"].items()
        )
        if "moves_lower_bound" in r:
            ms += f"  moves {r['moved_atoms']}/{r['moves_lower_bound']} = {r['moves_ratio']:.3f}"
        if "contiguous" in r:
            ms += f"  contiguous {r['contiguous']}/{r['territories']}"
        if "steps_within_tolerance" in r:
            ms += f"  steps in band {r['steps_within_tolerance']}"
        lines.append(
            f"{r['scenario']:<15}{r['method']:<24}{r['atoms']:>9}{r['territories']:>5}"
            f"{r['seconds']:>8.2f}{r['peak_mb']:>8.0f}  {ms}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"any of: {', '.join(SCENARIOS)} (default: all)",
    )
    ap.add_argument("--json", help="write the rows to this file")
    ap.add_argument("--inline", action="store_true", help="run in this process (no fresh process)")
    args = ap.parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    rows: list[dict] = []
    for name in names:
        if args.inline:
            new = SCENARIOS[name]()
        else:
            done = subprocess.run(
                [sys.executable, __file__, "--inline", "--json", "-", name],
                capture_output=True,
                text=True,
                check=True,
            )
            new = json.loads(done.stdout.strip().splitlines()[-1])
            print(table(new), flush=True)
        rows.extend(new)
    if args.json == "-":
        print(json.dumps(rows))
    elif args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    if not args.inline:
        print()
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
