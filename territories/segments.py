"""Size segments: thresholds on annual revenue or employees, boundaries as written. Pure.

A ``SegmentScheme`` is an ordered list of bands, largest first. Each band but the last has a
lower bound with ``≥`` (inclusive) or ``>`` (exclusive) as the customer wrote it; the last band
takes every account below the others, and also accounts whose size is unknown (saying so in its
description, because routing and valuation both depend on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

BASES: dict[str, str] = {"annual_revenue": "annual revenue", "employees": "employees"}


def _amount(basis: str, value: float) -> str:
    if basis == "annual_revenue":
        return f"${value:,.0f}"
    return f"{value:,.0f} employees"


@dataclass(frozen=True)
class Band:
    label: str
    minimum: float | None = None  # None: the last band, everything below the others
    inclusive: bool = True  # True: minimum belongs to this band (≥); False: (>)

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "minimum": self.minimum, "inclusive": self.inclusive}


@dataclass(frozen=True)
class SegmentScheme:
    basis: str
    bands: tuple[Band, ...]

    def problems(self) -> list[str]:
        """Why the scheme cannot be used (empty when it can)."""
        problems = []
        if self.basis not in BASES:
            problems.append(f"Segments are cut on {', '.join(BASES.values())}, not “{self.basis}”.")
        if not self.bands:
            return [*problems, "Define at least one segment."]
        labels = [b.label.strip() for b in self.bands]
        if any(not label for label in labels):
            problems.append("Every segment needs a name.")
        seen = set()
        for label in labels:
            if label.lower() in seen:
                problems.append(f"The segment name “{label}” is used twice.")
            seen.add(label.lower())
        *upper, last = self.bands
        if last.minimum is not None:
            problems.append(
                f"The last segment (“{last.label}”) takes everything below the others: it has no threshold."
            )
        previous = None
        for band in upper:
            if band.minimum is None:
                problems.append(
                    f"Segment “{band.label}” needs a threshold (only the last one has none)."
                )
                continue
            if band.minimum < 0 or not np.isfinite(band.minimum):
                problems.append(f"Segment “{band.label}”: the threshold must be a positive number.")
            if previous is not None and band.minimum >= previous:
                problems.append(
                    f"Segment “{band.label}”: thresholds must decrease from the first segment "
                    f"to the last ({_amount(self.basis, band.minimum)} is not below "
                    f"{_amount(self.basis, previous)})."
                )
            previous = band.minimum
        return problems

    def describe(self) -> list[str]:
        """One plain sentence per segment, boundaries as written."""
        name = BASES.get(self.basis, self.basis)
        lines = []
        above: Band | None = None
        for band in self.bands:
            parts = []
            if band.minimum is not None:
                parts.append(
                    f"{name} {'≥' if band.inclusive else '>'} {_amount(self.basis, band.minimum)}"
                )
            if above is not None:
                # Below the band above: the complement of its boundary.
                parts.append(
                    f"{name} {'<' if above.inclusive else '≤'} {_amount(self.basis, above.minimum)}"
                )
            text = f"{band.label}: {' and '.join(parts) if parts else 'every account'}"
            if band.minimum is None:
                text += f", or {name} unknown"
            lines.append(text)
            above = band
        return lines

    @property
    def labels(self) -> list[str]:
        return [b.label for b in self.bands]

    def as_dict(self) -> dict[str, Any]:
        return {"basis": self.basis, "bands": [b.as_dict() for b in self.bands]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentScheme:
        return cls(
            basis=data["basis"],
            bands=tuple(
                Band(
                    label=b["label"],
                    minimum=None if b.get("minimum") is None else float(b["minimum"]),
                    inclusive=bool(b.get("inclusive", True)),
                )
                for b in data["bands"]
            ),
        )


DEFAULT_SCHEME = SegmentScheme(
    # The playbook's example definition: "Enterprise is $1B+ annual revenue, Commercial is below".
    basis="annual_revenue",
    bands=(Band("Enterprise", 1e9, True), Band("Commercial")),
)


def assign_segments(size: np.ndarray, scheme: SegmentScheme) -> np.ndarray:
    """Segment label of every account from its size (float array, NaN when unknown)."""
    size = np.asarray(size, dtype=float)
    result = np.full(len(size), scheme.bands[-1].label, dtype=object)
    open_rows = np.ones(len(size), dtype=bool)
    with np.errstate(invalid="ignore"):
        for band in scheme.bands[:-1]:
            hit = (size >= band.minimum) if band.inclusive else (size > band.minimum)
            hit &= open_rows
            result[hit] = band.label
            open_rows &= ~hit
    return result


def market_table(
    segment: np.ndarray, value: np.ndarray, order: Sequence[str], *, is_customer=None
) -> list[dict[str, Any]]:
    """Per segment in ``order``: accounts, customers, total and average value, share of value."""
    frame = pd.DataFrame(
        {
            "segment": np.asarray(segment, dtype=object),
            "value": np.nan_to_num(np.asarray(value, dtype=float)),
            "customer": np.zeros(len(segment), dtype=bool)
            if is_customer is None
            else np.asarray(is_customer, dtype=bool),
        }
    )
    grouped = frame.groupby("segment").agg(
        accounts=("value", "size"), total=("value", "sum"), customers=("customer", "sum")
    )
    grand = float(frame["value"].sum())
    labels = list(order) + [s for s in grouped.index if s not in order]
    rows = []
    for label in labels:
        if label in grouped.index:
            g = grouped.loc[label]
            accounts, total, customers = int(g["accounts"]), float(g["total"]), int(g["customers"])
        else:
            accounts, total, customers = 0, 0.0, 0
        rows.append(
            {
                "segment": label,
                "accounts": accounts,
                "customers": customers,
                "total_value": total,
                "average_value": total / accounts if accounts else 0.0,
                "value_share": round(100 * total / grand, 1) if grand else 0.0,
            }
        )
    return rows
