"""Benchmarks of the balancing engine against its lower bounds and a greedy baseline.

    .venv/bin/python bench/balancing.py                 # every scenario, one process each
    .venv/bin/python bench/balancing.py big whale       # some scenarios
    .venv/bin/python bench/balancing.py --json out.json # also write the rows as JSON
    .venv/bin/python bench/balancing.py --scale 0.02 continuity growth  # a quick sanity run

Each scenario runs in a fresh process so its peak memory (``ru_maxrss``) is its own. ``seconds``
is the engine call alone (data generation excluded); ``peak MB`` is the whole process.
``--scale`` multiplies the atoms and territories of every scenario (the recorded figures are at 1).

Greedy baselines, the rule waterfalls of commercial planners in their simplest form, side by
side with the engine in every scenario:

* greenfield: largest first to the lightest territory with room (room: at most ``ceil(n/K)``);
* continuity: from the owners, on value, the heaviest territory gives its largest atom that
  fits to the lightest, until every value is inside the band or nothing fits (the count goes
  where the value takes it);
* growth: one new territory at a time, on value, take the largest atom that fits from the
  heaviest territory until the new one reaches the band's floor;
* CTDP and clustered maps: the greenfield greedy (it ignores geography, so not contiguous).

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

# Multiplies atoms and territories (``--scale``); 1 for the recorded figures.
SCALE = 1.0


def sz(n: int, least: int = 2) -> int:
    return max(least, round(n * SCALE))


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


class _Fill:
    """Per territory, its atoms sorted by value, so the largest that fits is one searchsorted."""

    def __init__(self, values: np.ndarray, assign: np.ndarray, k: int):
        order = np.lexsort((values, assign))
        cuts = np.searchsorted(assign[order], np.arange(k + 1))
        self.ids = [order[cuts[t] : cuts[t + 1]] for t in range(k)]
        self.vals = [values[i] for i in self.ids]

    def take_largest(self, t: int, room: float) -> int:
        """Remove and return the largest atom of ``t`` with value <= ``room``, or -1."""
        pos = int(np.searchsorted(self.vals[t], room, side="right")) - 1
        if pos < 0:
            return -1
        atom = int(self.ids[t][pos])
        self.ids[t] = np.delete(self.ids[t], pos)
        self.vals[t] = np.delete(self.vals[t], pos)
        return atom


def _value_col(problem: Problem) -> int:
    return problem.value_measure if problem.value_measure is not None else problem.d - 1


def greedy_continuity(problem: Problem, owner: np.ndarray, tolerance: float) -> np.ndarray:
    """From ``owner``, on value (what a planner's waterfall balances): the heaviest territory
    gives its largest atom that fits — neither the lightest above its ceiling nor itself below
    its floor — to the lightest, until every value is inside the band or nothing fits. Other
    measures (the count) go where the value takes them. An atom moves at most once."""
    k = problem.territories
    vc = _value_col(problem)
    v = problem.measures[:, vc] / (problem.measures[:, vc].sum() / k)
    assign = owner.copy()
    load = np.bincount(assign, weights=v, minlength=k)
    fill = _Fill(v, assign, k)
    lo, hi = 1.0 - tolerance, 1.0 + tolerance
    for _ in range(problem.n):
        if np.abs(load - 1.0).max() <= tolerance:
            break
        h, light = int(np.argmax(load)), int(np.argmin(load))
        atom = fill.take_largest(h, min(hi - load[light], load[h] - lo))
        if atom < 0:
            break
        assign[atom] = light
        load[h] -= v[atom]
        load[light] += v[atom]
    return assign


def greedy_growth(
    problem: Problem, start: np.ndarray, add: int, tolerance: float
) -> tuple[np.ndarray, int]:
    """One new territory at a time, on value: the heaviest territory gives its largest atom
    that fits (the new one stays under its ceiling, the donor above its floor) until the new
    one reaches the floor of the new mean. Returns the assignment and how many steps ended
    with every territory inside the band on every measure (the count goes where value takes it).
    """
    k0 = problem.territories
    k = k0 + add
    vc = _value_col(problem)
    u = problem.measures / (problem.measures.sum(axis=0) / k)  # normalised to the final mean
    assign = start.copy()
    load = np.zeros((k, problem.d))
    np.add.at(load, assign, u)
    fill = _Fill(u[:, vc], assign, k)
    steps_ok = 0
    for step in range(add):
        new = k0 + step
        mean = load[: new + 1].sum(axis=0) / (new + 1)
        lo, hi = (1.0 - tolerance) * mean[vc], (1.0 + tolerance) * mean[vc]
        while load[new, vc] < lo:
            h = int(np.argmax(load[:k0, vc]))  # donors: the original territories
            atom = fill.take_largest(h, min(hi - load[new, vc], load[h, vc] - lo))
            if atom < 0:
                break
            assign[atom] = new
            load[h] -= u[atom]
            load[new] += u[atom]
        steps_ok += bool(np.all(np.abs(load[: new + 1] / mean - 1.0) <= tolerance))
    return assign, steps_ok


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
    v = data.lognormal_values(sz(1_000_000), seed=1)
    return greenfield_pair(
        "big-lognormal", Problem(data.count_value(v), ("count", "value"), sz(500))
    )


def scenario_big_pareto() -> list[dict]:
    """1,000,000 accounts into 500 territories, count + value (Pareto 80/20)."""
    v = data.pareto_values(sz(1_000_000), seed=2)
    return greenfield_pair("big-pareto", Problem(data.count_value(v), ("count", "value"), sz(500)))


def scenario_whale() -> list[dict]:
    """100,000 accounts into 200, Pareto alpha 1.05: whales bigger than a territory's mean."""
    v = data.pareto_values(sz(100_000), seed=3, alpha=1.05)
    return greenfield_pair("whale", Problem(data.count_value(v), ("count", "value"), sz(200)))


def scenario_three() -> list[dict]:
    """10,000 atoms into 160, three measures (CTDP measures), no geography: run to the end, and
    with a 3-second limit."""
    _, w = data.ctdp(sz(10_000), seed=4)
    p = Problem(w, ("customers", "demand", "workload"), sz(160))
    rows = greenfield_pair("three-measures", p)
    t0 = time.perf_counter()
    r = balance(p, time_limit=3.0)
    t1 = time.perf_counter()
    rows.insert(1, row("three-measures", "engine, 3 s limit", p, r.metrics, t1 - t0))
    return rows


def scenario_continuity() -> list[dict]:
    """1,000,000 accounts, 500 drifted territories, rebalance to ±5 % with the fewest moves."""
    n, k = sz(1_000_000), sz(500)
    v = data.lognormal_values(n, seed=5)
    owner = data.drifted_owners(n, k, seed=5)
    p = Problem(data.count_value(v), ("count", "value"), k, owner=owner)
    t0 = time.perf_counter()
    result = balance(p, tolerance=0.05)
    t1 = time.perf_counter()
    before = metrics_for(p, owner, tolerance=0.05, bounds=result.bounds)
    t2 = time.perf_counter()
    g = greedy_continuity(p, owner, 0.05)
    t3 = time.perf_counter()
    return [
        row("continuity", "engine", p, result.metrics, t1 - t0),
        row(
            "continuity",
            "greedy",
            p,
            metrics_for(p, g, tolerance=0.05, bounds=result.bounds),
            t3 - t2,
        ),
        row("continuity", "start (drifted)", p, before, 0.0),
    ]


def scenario_growth() -> list[dict]:
    """1,000,000 accounts, 500 balanced territories grow to 550, ±5 % after every cut."""
    n, k, add = sz(1_000_000), sz(500), sz(50, least=1)
    v = data.lognormal_values(n, seed=6)
    p = Problem(data.count_value(v), ("count", "value"), k)
    start = balance(p).assignment
    t0 = time.perf_counter()
    result = growth_cut(p, start, add=add, tolerance=0.05)
    t1 = time.perf_counter()
    steps_ok = sum(s.within_tolerance for s in result.steps)
    worst = max(max(s.max_dev_pct.values()) for s in result.steps)
    t2 = time.perf_counter()
    g, g_ok = greedy_growth(p, start, add, 0.05)
    t3 = time.perf_counter()
    gm = metrics_for(result.problem, g, tolerance=0.05, bounds=result.bounds)
    return [
        row(
            "growth",
            "engine",
            result.problem,
            result.metrics,
            t1 - t0,
            steps_within_tolerance=f"{steps_ok}/{len(result.steps)}",
            worst_step_max_dev_pct=round(worst, 3),
        ),
        row(
            "growth",
            "greedy",
            result.problem,
            gm,
            t3 - t2,
            steps_within_tolerance=f"{g_ok}/{add}",
        ),
    ]


def _contiguous(name: str, n: int, k: int, seed: int) -> list[dict]:
    coords, w = data.ctdp(n, seed=seed)
    p = Problem(w, ("customers", "demand", "workload"), k, coords=coords)
    t0 = time.perf_counter()
    result = balance(p, tolerance=0.05, contiguous=True, seed=seed)
    t1 = time.perf_counter()
    rows = [row(name, "engine", result.problem, result.metrics, t1 - t0, notes=list(result.notes))]
    # Baselines: the greedy (blind to the map), and the compact recursive bisection the search
    # starts from (before the search).
    gp = result.problem
    t0 = time.perf_counter()
    g = greedy(p)
    t1 = time.perf_counter()
    rows.append(
        row(
            name,
            "greedy (not contiguous)",
            gp,
            metrics_for(gp, g, tolerance=0.05, bounds=result.bounds),
            t1 - t0,
        )
    )
    t0 = time.perf_counter()
    b = bisect(coords, (w / w.mean(axis=0)).sum(axis=1), k)
    t1 = time.perf_counter()
    rows.append(row(name, "bisection only", gp, metrics_for(gp, b, tolerance=0.05), t1 - t0))
    return rows


def scenario_ctdp_500() -> list[dict]:
    """CTDP-like: 500 points into 10 contiguous territories, three measures within ±5 %."""
    return _contiguous("ctdp-500", sz(500), sz(10), 7)


def scenario_ctdp_10k() -> list[dict]:
    """CTDP-like: 10,000 points into 160 contiguous territories, three measures within ±5 %."""
    return _contiguous("ctdp-10k", sz(10_000), sz(160), 8)


def scenario_clustered() -> list[dict]:
    """20,000 accounts in clustered metros into 50 contiguous territories, count + value ±10 %."""
    n = sz(20_000)
    pts = data.clustered_points(n, seed=9)
    v = data.lognormal_values(n, seed=9, sigma=1.0)
    p = Problem(
        data.count_value(v), ("count", "value"), sz(50), coords=pts, edges=delaunay_edges(pts)
    )
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
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply atoms and territories (sanity runs)"
    )
    args = ap.parse_args(argv)
    global SCALE
    SCALE = args.scale
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
                [
                    sys.executable,
                    __file__,
                    "--inline",
                    "--scale",
                    str(args.scale),
                    "--json",
                    "-",
                    name,
                ],
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
