"""``balance_file``: balance a CSV/XLSX of atoms from the command line, no database needed.

``run(argv)`` holds the whole command so tests call it without Django; the management command
``territories/management/commands/balance_file.py`` only forwards to it. Exit codes: 0 done,
2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from territories.balancing.engine import balance
from territories.balancing.growth import growth_cut
from territories.balancing.io import InputError, problem_from_table, read_table
from territories.balancing.model import BalancingError, Result

EXIT_BAD_INPUT = 2
# Top-level keys of the --json object besides one per measure (``summarise``): a measure column
# with one of these names would overwrite it, so it is refused.
RESERVED_KEYS = frozenset(
    {
        "atoms",
        "territories",
        "tolerance",
        "optimal",
        "within_tolerance",
        "max_share_pct",
        "min_feasible_share_pct",
        "moved_atoms",
        "moved_value_pct",
        "moves_lower_bound",
        "moves_ratio",
        "contiguous_territories",
        "seconds",
        "proven_optimal",
        "method",
        "measures",
        "notes",
        "segments",
        "growth_steps",
    }
)
# A text cell starting with one of these is a live formula (or becomes one) in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit code 2 via ``InputError``."""

    def error(self, message: str):  # type: ignore[override]
        raise InputError(message)


def build_parser(prog: str = "balance_file") -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog, description="Balance atoms (accounts or geographic units) into territories."
    )
    p.add_argument("file", help="CSV or XLSX, one row per atom")
    p.add_argument("--territories", "-k", type=int, help="number of territories K")
    p.add_argument(
        "--measures",
        default="count,value",
        help="measure columns, comma separated ('count' without a column = 1 per row)",
    )
    p.add_argument(
        "--id-column", help="id column (default: id, external_id, … or the first column)"
    )
    p.add_argument(
        "--tolerance", type=float, default=0.10, help="band around the mean (0.10 = ±10 %%)"
    )
    p.add_argument(
        "--max-share",
        help="cap on the largest atom's share of its territory's value, in percent (25 or 25%%)",
    )
    p.add_argument("--owner-column", help="current owner per row: start from it, fewest moves")
    p.add_argument("--lock-column", help="rows marked 1/true/yes/x keep their owner")
    p.add_argument("--segment-column", help="segment per row; balanced separately")
    p.add_argument("--seats", help="territories per segment: SEG=K,SEG=K")
    p.add_argument("--x-column")
    p.add_argument("--y-column")
    p.add_argument("--lat-column")
    p.add_argument("--lon-column")
    p.add_argument("--adjacency", help="CSV of id pairs that touch")
    p.add_argument("--contiguous", action="store_true", help="every territory one connected piece")
    p.add_argument("--add-territories", help="growth cut: M new territories (or SEG=M,…)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=None, help="seconds (default 120)")
    p.add_argument("--out", help="write id,territory,moved per atom to this CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _pairs(text: str, what: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.split(","):
        if "=" not in part:
            raise InputError(f"{what}: expected SEG=N, got {part!r}")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = int(v)
        except ValueError as exc:
            raise InputError(f"{what}: {v!r} is not a whole number") from exc
    return out


def run(
    argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        return _run(argv if argv is not None else sys.argv[1:], out)
    except BalancingError as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=err)
        return EXIT_BAD_INPUT


def _run(argv: list[str], out: TextIO) -> int:
    args = build_parser().parse_args(argv)
    if args.territories is not None and args.territories < 1:
        raise InputError(f"--territories must be at least 1 (got {args.territories})")
    if not 0 <= args.tolerance < 1:
        raise InputError(f"--tolerance must be in [0, 1) (got {args.tolerance})")
    max_share = None
    if args.max_share is not None:
        try:
            max_share = float(args.max_share.strip().rstrip("%")) / 100.0
        except ValueError as exc:
            raise InputError(f"--max-share: {args.max_share!r} is not a percentage") from exc
        if not 0 < max_share <= 1:
            raise InputError(f"--max-share must be a percentage in (0, 100] (got {args.max_share})")
    measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    clash = [m for m in measures if m in RESERVED_KEYS]
    if clash:
        raise InputError(
            f"measure column {clash[0]!r} has the name of a reported figure; rename the column "
            f"(reserved: {', '.join(sorted(RESERVED_KEYS))})"
        )
    df = read_table(args.file)
    adjacency = read_table(args.adjacency, header=False) if args.adjacency else None
    lat, lon = args.lat_column, args.lon_column
    if args.contiguous and not (args.x_column or lat or args.adjacency):
        # Convenience: the usual latitude/longitude headers need no flags.
        lat = next((c for c in ("lat", "latitude") if c in df.columns), None)
        lon = next((c for c in ("lon", "lng", "longitude") if c in df.columns), None)
        if not (lat and lon):
            raise InputError("--contiguous needs --x-column/--y-column, lat/lon or --adjacency")
    table = problem_from_table(
        df,
        territories=args.territories,
        measures=measures,
        id_column=args.id_column,
        owner_column=args.owner_column,
        lock_column=args.lock_column,
        segment_column=args.segment_column,
        seats=_pairs(args.seats, "--seats") if args.seats else None,
        x_column=args.x_column,
        y_column=args.y_column,
        lat_column=lat,
        lon_column=lon,
        adjacency=adjacency,
    )
    problem = table.problem
    if args.add_territories and max_share is not None:
        raise InputError(
            "--max-share with --add-territories is not supported: a growth cut only moves "
            "atoms into the new territories, so it cannot enforce the cap"
        )
    if args.add_territories and args.contiguous:
        raise InputError(
            "--add-territories with --contiguous is not supported: cuts are not contiguous yet"
        )
    if args.add_territories:
        text = args.add_territories.strip()
        add: int | dict[str, int]
        if "=" in text:
            add = _pairs(text, "--add-territories")
        else:
            try:
                add = int(text)
            except ValueError as exc:
                raise InputError(f"--add-territories: {text!r} is not a whole number") from exc
        if problem.owner is not None and np.all(problem.owner >= 0):
            start = problem.owner
            seconds0 = 0.0
        else:
            if problem.owner is not None:
                raise InputError("a growth cut from owners needs an owner on every row")
            base = balance(
                problem,
                tolerance=args.tolerance,
                seed=args.seed,
                time_limit=args.time_limit,
                contiguous=args.contiguous,
            )
            start = base.assignment
            seconds0 = base.seconds
        result = growth_cut(
            problem,
            start,
            add=add,
            tolerance=args.tolerance,
            seed=args.seed,
            time_limit=args.time_limit,
        )
        result = _add_seconds(result, seconds0)
        moved_from = result.problem.owner
    else:
        result = balance(
            problem,
            tolerance=args.tolerance,
            max_share=max_share,
            seed=args.seed,
            time_limit=args.time_limit,
            contiguous=args.contiguous,
        )
        moved_from = problem.owner
    if args.out:
        write_assignment(Path(args.out), table.ids, result, moved_from)
    summary = summarise(result)
    if args.json:
        print(json.dumps(summary, allow_nan=False), file=out)
    else:
        print(render_text(summary), file=out)
    return 0


def _add_seconds(result: Result, seconds: float) -> Result:
    from dataclasses import replace

    return replace(result, seconds=result.seconds + seconds)


def write_assignment(
    path: Path, ids: np.ndarray, result: Result, original: np.ndarray | None
) -> None:
    """One row per atom: ``id, territory, moved`` (territory label; moved 1/0)."""
    labels = [result.problem.label(t) for t in range(result.problem.territories)]
    moved = (
        np.zeros(ids.size, dtype=bool)
        if original is None
        else (original >= 0) & (original != result.assignment)
    )
    with path.open("w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["id", "territory", "moved"])
        for i, t, m in zip(ids.tolist(), result.assignment.tolist(), moved.tolist(), strict=True):
            wr.writerow([_safe_cell(i), _safe_cell(labels[t]), int(m)])


def _safe_cell(text: str) -> str:
    # Same rule as engagements.exports.safe_cell (not imported: this package has no Django).
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def summarise(result: Result) -> dict:
    """The ``--json`` object (also the basis of the text output)."""
    m = result.metrics
    d = m.as_dict()
    d["seconds"] = round(result.seconds, 3)
    d["optimal"] = bool(result.optimal)
    d["proven_optimal"] = bool(result.proven_optimal)
    d["method"] = result.method
    d["measures"] = [x.name for x in m.measures]
    d["notes"] = list(result.notes)
    if len(result.problem.seats) > 1:
        d["segments"] = {
            name: {
                x.name: {
                    "max_dev_pct": round(x.max_dev_pct, 6),
                    "lower_bound_max_dev_pct": round(x.lower_bound_max_dev_pct, 6),
                    "gap_pp": round(x.gap_pp, 6),
                }
                for x in seg
            }
            for name, seg in zip(result.problem.segment_names, m.per_segment, strict=True)
        }
    if result.steps:
        d["growth_steps"] = [
            {
                "step": s.step,
                "segment": s.segment,
                "new_territory": result.problem.label(s.new_territory),
                "atoms": int(s.atoms.size),
                "taken_from": {result.problem.label(t): c for t, c in s.taken_from.items()},
                "max_dev_pct": {k: round(v, 4) for k, v in s.max_dev_pct.items()},
                "within_tolerance": s.within_tolerance,
                "moved_atoms": s.moved_atoms,
            }
            for s in result.steps
        ]
    return d


def render_text(summary: dict) -> str:
    """A short human-readable report of ``summary``."""
    lines = [
        f"{summary['atoms']} atoms into {summary['territories']} territories in {summary['seconds']:.2f} s "
        f"({summary['method']}); {'optimal' if summary['optimal'] else 'not proven optimal'}",
        f"{'measure':<14}{'spread %':>10}{'max dev %':>11}{'cv %':>9}{'bound %':>10}{'gap pp':>10}",
    ]
    for name in summary["measures"]:
        x = summary[name]
        lines.append(
            f"{name:<14}{_f(x['spread_pct']):>10}{_f(x['max_dev_pct']):>11}{_f(x['cv_pct']):>9}"
            f"{_f(x['lower_bound_max_dev_pct']):>10}{_f(x['gap_pp']):>10}"
        )
    lines.append(
        f"max share {_f(summary['max_share_pct'])} % (smallest feasible {_f(summary['min_feasible_share_pct'])} %)"
    )
    if summary["moves_lower_bound"] is not None:
        lines.append(
            f"moved {summary['moved_atoms']} atoms ({_f(summary['moved_value_pct'])} % of value); "
            f"lower bound {summary['moves_lower_bound']}"
        )
    if summary["contiguous_territories"] is not None:
        lines.append(
            f"contiguous territories: {summary['contiguous_territories']} of {summary['territories']}"
        )
    lines.extend(f"note: {n}" for n in summary["notes"])
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
