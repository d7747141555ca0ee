"""Account valuation: a dollar value and a one-line explanation for every account. Pure.

Two methods (SPEC §4):

* **benchmark** — for each segment × tier, a statistic (median by default) of existing customers'
  contract values. A prospect is worth that benchmark × the hedge factor (< 1: a prospect is not
  yet a customer). When a segment × tier cell has fewer than ``min_customers`` customers the
  segment's statistic is used instead, and when the segment has too few, all customers'.
* **scaled** — value per employee (or per dollar of revenue), a statistic over existing
  customers of the segment (all customers when the segment has too few), × the prospect's size
  × the hedge factor, capped per segment. A prospect of unknown size falls back to the benchmark.

A customer with a contract value is worth it plus the expansion potential
(ACV × ``expansion_factor``): potential, not current revenue, drives value (seed 003,
principle 3). A customer without a contract value on record is valued like a prospect.

Inputs are arrays (one entry per account); all work is vectorised, so 100,000 accounts with
their explanations take a fraction of a second. Values are whole US dollars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

METHODS: dict[str, str] = {
    "benchmark": "Benchmark: a statistic of current customers' ACV per segment and tier",
    "scaled": "Scaled: value per employee or per revenue dollar, learned from current customers",
}
STATISTICS: dict[str, str] = {
    "median": "median",
    "mean": "average",
    "p25": "25th-percentile",
    "p75": "75th-percentile",
}
SCALE_BASES: dict[str, str] = {"employees": "employee", "annual_revenue": "revenue dollar"}
TIER_WORDS: dict[str, str] = {"T1": "T1", "T2": "T2", "T3": "T3", "unqualified": "unqualified"}

# Codes of how each account was valued (stored for the summary's counts).
CUSTOMER = "customer"
CELL = "benchmark"
SEGMENT = "benchmark_segment"
OVERALL = "benchmark_all"
SCALED = "scaled"
CAPPED = "scaled_capped"
NONE = "not_valued"


@dataclass(frozen=True)
class ValuationParams:
    method: str = "benchmark"
    statistic: str = "median"
    hedge_factor: float = 0.6
    expansion_factor: float = 0.2
    min_customers: int = 3
    scale_basis: str = "employees"
    caps: Mapping[str, float] = field(default_factory=dict)  # segment -> prospect value ceiling

    def problems(self) -> list[str]:
        problems = []
        if self.method not in METHODS:
            problems.append(f"Method must be one of {', '.join(METHODS)}, not “{self.method}”.")
        if self.statistic not in STATISTICS:
            problems.append(
                f"Statistic must be one of {', '.join(STATISTICS)}, not “{self.statistic}”."
            )
        not_numbers = [
            f"{label} must be a number, not “{number}”."
            for label, number in (
                ("Hedge factor", self.hedge_factor),
                ("Expansion factor", self.expansion_factor),
                ("Minimum customers per benchmark", self.min_customers),
            )
            if isinstance(number, bool) or not isinstance(number, (int, float))
        ]
        if not_numbers:
            return problems + not_numbers
        if not (0 < self.hedge_factor < 1):
            problems.append(
                f"Hedge factor must be above 0 and below 1 (a prospect is worth less than a "
                f"customer), not {self.hedge_factor:g}."
            )
        if not (0 <= self.expansion_factor <= 10):
            problems.append(
                f"Expansion factor must be between 0 and 10, not {self.expansion_factor:g}."
            )
        if not (1 <= self.min_customers <= 1000):
            problems.append(
                f"Minimum customers per benchmark must be 1–1000, not {self.min_customers}."
            )
        if self.scale_basis not in SCALE_BASES:
            problems.append(
                f"Scale basis must be employees or annual_revenue, not “{self.scale_basis}”."
            )
        for segment, cap in self.caps.items():
            if not (cap > 0 and np.isfinite(cap)):
                problems.append(f"The cap for {segment} must be a positive amount, not {cap}.")
        return problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "statistic": self.statistic,
            "hedge_factor": self.hedge_factor,
            "expansion_factor": self.expansion_factor,
            "min_customers": self.min_customers,
            "scale_basis": self.scale_basis,
            "caps": dict(self.caps),
        }


@dataclass
class Valuation:
    value: np.ndarray  # float64, whole dollars, one per account
    explanation: np.ndarray  # object array of one-line explanations
    basis: np.ndarray  # object array of the codes above
    benchmarks: pd.DataFrame  # segment, tier, customers, benchmark, source (CELL/SEGMENT/OVERALL)
    ratios: pd.DataFrame  # scaled method: segment, customers, ratio, source
    # For sensitivity: the prospects' value before the hedge, and their cap (inf when none).
    prospect_base: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    prospect_cap: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    customer_value: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))


def _money(values: np.ndarray) -> list[str]:
    return [f"${v:,.0f}" for v in values]


def _statistic(grouped, statistic: str):
    if statistic == "median":
        return grouped.median()
    if statistic == "mean":
        return grouped.mean()
    return grouped.quantile(0.25 if statistic == "p25" else 0.75)


def _stat_of(values: np.ndarray, statistic: str) -> float:
    if len(values) == 0:
        return float("nan")
    if statistic == "median":
        return float(np.median(values))
    if statistic == "mean":
        return float(np.mean(values))
    return float(np.quantile(values, 0.25 if statistic == "p25" else 0.75))


def _labels(segment: np.ndarray, tier: np.ndarray) -> pd.Series:
    seg = pd.Series(segment, dtype=object).replace("", "Unsegmented").fillna("Unsegmented")
    words = pd.Series(tier, dtype=object).map(TIER_WORDS).fillna("unqualified")
    return seg + " · " + words


def benchmark_table(
    segment: np.ndarray,
    tier: np.ndarray,
    acv: np.ndarray,
    is_reference: np.ndarray,
    params: ValuationParams,
    segments: Sequence[str],
    tiers: Sequence[str],
) -> pd.DataFrame:
    """The benchmark of every segment × tier cell with its source and customer count."""
    refs = pd.DataFrame(
        {"segment": segment[is_reference], "tier": tier[is_reference], "acv": acv[is_reference]}
    )
    cell_stat = _statistic(refs.groupby(["segment", "tier"])["acv"], params.statistic)
    cell_n = refs.groupby(["segment", "tier"]).size()
    seg_stat = _statistic(refs.groupby("segment")["acv"], params.statistic)
    seg_n = refs.groupby("segment").size()
    overall = _stat_of(refs["acv"].to_numpy(), params.statistic)
    rows = []
    for seg in segments:
        for t in tiers:
            n = int(cell_n.get((seg, t), 0))
            sn = int(seg_n.get(seg, 0))
            if n >= params.min_customers:
                value, source = float(cell_stat[(seg, t)]), CELL
            elif sn >= params.min_customers:
                value, source = float(seg_stat[seg]), SEGMENT
            elif len(refs) > 0:
                value, source = overall, OVERALL
            else:
                value, source = float("nan"), NONE
            rows.append(
                {
                    "segment": seg,
                    "tier": t,
                    "customers": n,
                    "segment_customers": sn,
                    "benchmark": value,
                    "source": source,
                }
            )
    return pd.DataFrame(
        rows, columns=["segment", "tier", "customers", "segment_customers", "benchmark", "source"]
    )


def value_accounts(
    frame: pd.DataFrame,
    params: ValuationParams,
    *,
    segments: Sequence[str] = (),
    tiers: Sequence[str] = ("T1", "T2", "T3", "unqualified"),
) -> Valuation:
    """Value every row of ``frame``.

    ``frame`` columns: segment (text), tier (text), is_customer (bool), contract_value (USD,
    NaN when none), employees and annual_revenue (NaN when unknown). ``segments`` gives the
    order of the benchmark table (any segment found in the frame is added).
    """
    problems = params.problems()
    if problems:
        raise ValueError(" ".join(problems))
    n = len(frame)
    segment = frame["segment"].fillna("").to_numpy(dtype=object)
    tier = frame["tier"].fillna("unqualified").to_numpy(dtype=object)
    acv = pd.to_numeric(frame["contract_value"], errors="coerce").to_numpy(dtype=float)
    is_customer = frame["is_customer"].fillna(False).to_numpy(dtype=bool)
    with np.errstate(invalid="ignore"):
        is_reference = is_customer & (acv > 0)
    all_segments = list(dict.fromkeys([*segments, *pd.unique(segment)]))
    bench = benchmark_table(segment, tier, acv, is_reference, params, all_segments, tiers)

    labels = _labels(segment, tier)
    stat = STATISTICS[params.statistic]
    hedge = params.hedge_factor
    value = np.zeros(n, dtype=float)
    basis = np.full(n, NONE, dtype=object)
    explanation = np.empty(n, dtype=object)
    prospect_base = np.zeros(n, dtype=float)
    prospect_cap = np.full(n, np.inf)
    customer_value = np.zeros(n, dtype=float)

    # Customers with a contract: ACV + expansion.
    if is_reference.any():
        current = acv[is_reference]
        expansion = np.round(current * params.expansion_factor)
        total = np.round(current) + expansion
        value[is_reference] = total
        customer_value[is_reference] = total
        basis[is_reference] = CUSTOMER
        pct = f"{100 * params.expansion_factor:g} %"
        explanation[is_reference] = [
            f"{label} customer: current ACV ${c:,.0f} + {pct} expansion ${e:,.0f} = ${t:,.0f}"
            for label, c, e, t in zip(
                labels[is_reference].to_numpy(dtype=object),
                current.tolist(),
                expansion.tolist(),
                total.tolist(),
                strict=True,
            )
        ]

    prospect = ~is_reference
    kind = np.where(is_customer, "customer (no ACV on record)", "prospect")

    # Benchmark value of every prospect's cell (also the scaled method's fallback).
    key = pd.MultiIndex.from_arrays([segment, tier])
    bench_idx = bench.set_index(["segment", "tier"])
    cell_value = bench_idx["benchmark"].reindex(key).to_numpy(dtype=float)
    cell_source = bench_idx["source"].reindex(key).to_numpy(dtype=object)
    cell_n = bench_idx["customers"].reindex(key).to_numpy()

    use_bench = prospect.copy()
    if params.method == "scaled":
        size = pd.to_numeric(frame[params.scale_basis], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio_ok = is_reference & (size > 0)
            per_unit = np.where(ratio_ok, acv / size, np.nan)
        refs = pd.DataFrame({"segment": segment[ratio_ok], "ratio": per_unit[ratio_ok]})
        seg_ratio = _statistic(refs.groupby("segment")["ratio"], params.statistic)
        seg_count = refs.groupby("segment").size()
        overall_ratio = _stat_of(refs["ratio"].to_numpy(), params.statistic)
        ratio_rows = []
        for seg in all_segments:
            count = int(seg_count.get(seg, 0))
            if count >= params.min_customers:
                ratio_rows.append((seg, count, float(seg_ratio[seg]), SEGMENT))
            elif len(refs):
                ratio_rows.append((seg, count, overall_ratio, OVERALL))
            else:
                ratio_rows.append((seg, count, float("nan"), NONE))
        ratios = pd.DataFrame(ratio_rows, columns=["segment", "customers", "ratio", "source"])
        ratio_of = ratios.set_index("segment")
        account_ratio = ratio_of["ratio"].reindex(segment).to_numpy(dtype=float)
        scalable = prospect & (size > 0) & np.isfinite(account_ratio)
        use_bench = prospect & ~scalable
        if scalable.any():
            base = account_ratio[scalable] * size[scalable]
            caps = np.array([params.caps.get(s, np.inf) for s in segment[scalable]], dtype=float)
            raw = np.round(base * hedge)
            final = np.minimum(raw, caps)
            capped = raw > caps
            value[scalable] = final
            prospect_base[scalable] = base
            prospect_cap[scalable] = caps
            basis[scalable] = np.where(capped, CAPPED, SCALED)
            # One f-string per account: chained pandas string additions cost several times more.
            if params.scale_basis == "employees":
                units = [f"${r:,.2f} per employee" for r in account_ratio[scalable].tolist()]
                sizes = [f"{s:,.0f} employees" for s in size[scalable].tolist()]
            else:
                units = [
                    f"${1000 * r:,.2f} per $1,000 of revenue"
                    for r in account_ratio[scalable].tolist()
                ]
                sizes = [f"revenue ${s:,.0f}" for s in size[scalable].tolist()]
            sources = {
                seg: f"{stat} of {seg or 'Unsegmented'} customers"
                if src == SEGMENT
                else f"{stat} of all customers"
                for seg, src in zip(ratios["segment"], ratios["source"], strict=True)
            }
            explanation[scalable] = [
                f"{label} {k}: {u} ({sources[seg]}) × {z} × hedge {hedge:g} = ${r:,.0f}"
                + (f", capped at ${c:,.0f}" if over else "")
                for label, k, u, seg, z, r, c, over in zip(
                    labels[scalable].to_numpy(dtype=object),
                    kind[scalable],
                    units,
                    segment[scalable],
                    sizes,
                    raw.tolist(),  # Python floats format several times faster than numpy's
                    caps.tolist(),
                    capped.tolist(),
                    strict=True,
                )
            ]
    else:
        ratios = pd.DataFrame(columns=["segment", "customers", "ratio", "source"])

    valued = use_bench & np.isfinite(cell_value)
    if valued.any():
        raw = np.round(cell_value[valued] * hedge)
        value[valued] = raw
        prospect_base[valued] = cell_value[valued]
        basis[valued] = cell_source[valued]
        # Within one cell every prospect has the same benchmark: build each text once.
        frame_v = pd.DataFrame(
            {
                "label": labels[valued].to_numpy(),
                "kind": kind[valued],
                "segment": segment[valued],
                "tier": tier[valued],
                "source": cell_source[valued],
                "n": cell_n[valued],
                "bench": cell_value[valued],
                "value": raw,
            }
        )
        keys = frame_v.drop_duplicates(["label", "kind", "source", "bench"])
        text_of = {}
        for row in keys.itertuples(index=False):
            seg_name = row.segment or "Unsegmented"
            if row.source == CELL:
                what = f"{stat} customer ACV"
            elif row.source == SEGMENT:
                what = (
                    f"{stat} ACV of all {seg_name} customers "
                    f"(fewer than {params.min_customers} {row.tier} customers)"
                )
            else:
                what = (
                    f"{stat} ACV of all customers "
                    f"(fewer than {params.min_customers} {seg_name} customers)"
                )
            text_of[(row.label, row.kind, row.source, row.bench)] = (
                f"{row.label} {row.kind}: {what} ${row.bench:,.0f} × hedge {hedge:g} = "
                f"${np.round(row.bench * hedge):,.0f}"
            )
        # Plain numpy arrays: iterating pandas' string arrays goes element by element.
        explanation[valued] = [
            text_of[k]
            for k in zip(
                labels[valued].to_numpy(dtype=object),
                kind[valued],
                cell_source[valued],
                cell_value[valued],
                strict=True,
            )
        ]
    missing = use_bench & ~np.isfinite(cell_value)
    if missing.any():
        explanation[missing] = (
            labels[missing]
            + " "
            + pd.Series(kind[missing], index=labels[missing].index)
            + ": not valued — no current customer has a contract value to benchmark against"
        ).to_numpy()
    return Valuation(
        value=value,
        explanation=explanation,
        basis=basis,
        benchmarks=bench,
        ratios=ratios,
        prospect_base=prospect_base,
        prospect_cap=prospect_cap,
        customer_value=customer_value,
    )


def sensitivity(
    valuation: Valuation, segment: np.ndarray, hedges: Sequence[float], order: Sequence[str]
) -> list[dict[str, Any]]:
    """Total value and value per segment at each hedge factor in ``hedges``.

    Customers' values do not depend on the hedge; prospects' are base × hedge, capped.
    """
    segment = np.asarray(segment, dtype=object)
    labels = list(dict.fromkeys([*order, *pd.unique(segment)]))
    codes = pd.Categorical(segment, categories=labels).codes
    rows = []
    for hedge in hedges:
        prospects = np.minimum(np.round(valuation.prospect_base * hedge), valuation.prospect_cap)
        values = valuation.customer_value + prospects
        per_segment = np.bincount(codes, weights=values, minlength=len(labels))
        rows.append(
            {
                "hedge": float(hedge),
                "total": float(values.sum()),
                "segments": {label: float(v) for label, v in zip(labels, per_segment, strict=True)},
            }
        )
    return rows


def summary(valuation: Valuation, segment: np.ndarray, tier: np.ndarray) -> dict[str, Any]:
    """Counts and totals of a valuation for the summary page (JSON-ready)."""
    value = valuation.value
    basis_counts = pd.Series(valuation.basis).value_counts().to_dict()
    by_tier = (
        pd.DataFrame({"tier": tier, "value": value})
        .groupby("tier")["value"]
        .agg(["size", "sum"])
        .reindex(["T1", "T2", "T3", "unqualified"], fill_value=0)
    )
    return {
        "accounts": int(len(value)),
        "total_value": float(value.sum()),
        "customer_value": float(valuation.customer_value.sum()),
        "prospect_value": float(value.sum() - valuation.customer_value.sum()),
        "not_valued": int(basis_counts.get(NONE, 0)),
        "basis_counts": {str(k): int(v) for k, v in basis_counts.items()},
        "by_tier": [
            {"tier": t, "accounts": int(r["size"]), "total_value": float(r["sum"])}
            for t, r in by_tier.iterrows()
        ],
    }


def methodology_lines(params: ValuationParams, scheme) -> list[str]:
    """The valuation methodology in plain sentences (the text the customer signs off).

    ``scheme`` is a ``territories.segments.SegmentScheme``; the lines depend only on parameters,
    never on data, so re-importing accounts does not change what was approved.
    """
    stat = STATISTICS[params.statistic]
    k = params.min_customers
    lines = [
        "Every account gets a dollar value that estimates its potential, not only its current "
        "revenue.",
        "Segments: " + "; ".join(scheme.describe()) + ".",
        f"Current customers with a contract value: their current annual contract value (ACV) plus "
        f"{100 * params.expansion_factor:g} % expansion potential.",
    ]
    benchmark = (
        f"the {stat} ACV of current customers in the same segment and ICP tier, × a hedge "
        f"factor of {params.hedge_factor:g} (a prospect is not yet a customer). Where a segment "
        f"and tier has fewer than {k} customers, the {stat} of the whole segment is used, and "
        f"where the segment has fewer than {k}, the {stat} of all customers"
    )
    if params.method == "benchmark":
        lines.append(f"Prospects: {benchmark}.")
    else:
        unit = SCALE_BASES[params.scale_basis]
        size = "employees" if params.scale_basis == "employees" else "annual revenue"
        caps = "; ".join(f"{seg} at ${cap:,.0f}" for seg, cap in params.caps.items())
        lines.append(
            f"Prospects: the {stat} ACV per {unit} of current customers in the same segment "
            f"(of all customers where the segment has fewer than {k}), × the prospect's {size} "
            f"× a hedge factor of {params.hedge_factor:g}"
            + (f", capped per segment: {caps}." if caps else ", not capped.")
        )
        lines.append(f"Prospects whose {size} is unknown: {benchmark}.")
    lines.append("Customers with no contract value on record are valued like prospects.")
    return lines
