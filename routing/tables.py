"""Routing whole files: uploaded tables to engine records, routed results, and the routing
accuracy audit of a CRM export. Pure: no Django import.

Files are read by ``territories.ingest`` (safe CSV/XLSX reading, every cell as text) and mapped
to the standard account fields by its ``auto_map``; only the fields the engine reads are used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from routing import engine

ROUTING_FIELDS: tuple[str, ...] = tuple(f for f in engine.RECORD_FIELDS if f != "name")
RESULT_COLUMNS: dict[str, str] = {
    "territory": "Routed territory",
    "territory_name": "Routed territory name",
    "owner": "Routed owner",
    "queue": "Routed queue",
    "ae": "Routed AE",
    "sdr": "Routed SDR",
    "se": "Routed SE",
    "csm": "Routed CSM",
    "pod": "Routed pod",
    "segment": "Routed segment",
    "geo_unit": "Routed geo unit",
    "decided_at": "Decided at",
    "fallback": "Fallback used",
    # Why the deciding rule or fallback applied (Decision.why): the same sentence the API and
    # the "test a record" page give for the record.
    "reason": "Routing reason",
    "trace": "Routing trace",
}
CREATED_HEADERS = (
    "createddate",
    "created",
    "createdat",
    "createdon",
    "datecreated",
    "creationdate",
    "accountcreateddate",
    "accountcreated",
    "createdtime",
)


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def routing_fields_mapped(mapping: Mapping[str, str]) -> list[str]:
    return [f for f in ROUTING_FIELDS if f in mapping.values()]


def records_from_table(raw: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame:
    """The engine's record columns from a file's text frame (columns = file headers)."""
    field_of = {target: header for header, target in mapping.items()}
    columns = {}
    for name in (*engine.RECORD_FIELDS, "current_owner"):
        header = field_of.get(name)
        columns[name] = (
            raw[header].astype(object).to_numpy()
            if header is not None
            else np.full(len(raw), "", dtype=object)
        )
    return pd.DataFrame(columns, index=raw.index)


def result_table(raw: pd.DataFrame, routed: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """The uploaded columns followed by the routing columns (header, rows)."""
    header = [*map(str, raw.columns), *RESULT_COLUMNS.values()]
    left = raw.astype(object).to_numpy().tolist()
    right = routed[list(RESULT_COLUMNS)].astype(object).to_numpy().tolist()
    return header, [a + b for a, b in zip(left, right, strict=True)]


def route_summary(routed: pd.DataFrame) -> dict[str, Any]:
    """Counts for the result page: per territory/queue, per decision level, fallbacks."""
    owners = routed["territory"].where(routed["territory"] != "", "queue: " + routed["queue"])
    return {
        "rows": len(routed),
        "by_territory": owners.value_counts().head(50).to_dict(),
        "by_level": routed["decided_at"].value_counts().to_dict(),
        "fallbacks": int((routed["fallback"] != "").sum()),
    }


# --- Accuracy audit -----------------------------------------------------------------------------


def find_created_column(headers: Sequence[str]) -> str | None:
    keys = {_header_key(h): h for h in headers}
    for candidate in CREATED_HEADERS:
        if candidate in keys:
            return keys[candidate]
    return None


def parse_dates(values: Sequence[Any]) -> pd.Series:
    """Dates from CRM text ("2025-03-04", "3/4/2025", "2025-03-04T10:00:00Z"); NaT if not."""
    text = pd.Series(values, dtype=object).fillna("").astype(str).str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    rest = parsed.isna() & (text != "")
    if rest.any():
        parsed[rest] = pd.to_datetime(text[rest], errors="coerce", format="%m/%d/%Y", utc=True)
    return parsed.dt.tz_convert(None).dt.normalize()


def owner_key(value: object) -> str:
    return " ".join(engine.clean_text(value).casefold().split())


@dataclass
class AuditOutcome:
    rows: int
    eligible: int
    compared: int
    matches: int
    accuracy: float | None
    mismatches: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def audit(
    records: pd.DataFrame,
    created: pd.Series,
    config: engine.RoutingConfig,
    *,
    rollout: date,
    sample_size: int,
    seed: int,
) -> AuditOutcome:
    """Sample accounts created on or after ``rollout`` and compare the CRM owner with the engine.

    ``records`` has the engine's record columns and ``current_owner``; ``created`` the created
    dates (NaT when unknown), aligned. The sample is a seeded random choice of ``sample_size``
    eligible accounts (all of them when fewer). An account with no owner in the CRM counts as a
    mismatch: it was not routed. Accuracy is matches / compared, in per cent.
    """
    notes = []
    created = pd.Series(created.to_numpy(), index=records.index)
    unknown = int(created.isna().sum())
    if unknown:
        notes.append(f"{unknown:,} rows have no readable created date and were left out.")
    eligible_index = records.index[(created >= pd.Timestamp(rollout)).to_numpy()]
    rng = np.random.default_rng(seed)
    take = min(sample_size, len(eligible_index))
    if len(eligible_index) < sample_size:
        notes.append(
            f"Only {len(eligible_index):,} accounts were created since {rollout:%d %b %Y}; "
            f"all were compared (the playbook asks for {sample_size} or more)."
        )
    picked = np.sort(rng.choice(len(eligible_index), size=take, replace=False)) if take else []
    sample = records.loc[eligible_index[picked]]
    routed = engine.route_frame(sample, config)
    crm = sample["current_owner"].map(owner_key)
    ours = routed["owner"].map(owner_key)
    equal = (crm == ours) & (crm != "")
    mismatches = []
    for position in np.flatnonzero(~equal.to_numpy()).tolist():
        row = sample.iloc[position]
        decision = engine.route_record(row.to_dict(), config)
        mismatches.append(
            {
                "row": int(sample.index[position]),
                "external_id": engine.clean_text(row.get("external_id")),
                "name": engine.clean_text(row.get("name")),
                "crm_owner": engine.clean_text(row.get("current_owner")),
                "engine_owner": decision.owner,
                "territory": decision.territory,
                "fallback": decision.fallback,
                "trace": [s.as_dict() for s in decision.trace],
            }
        )
    compared = len(sample)
    matches = int(equal.sum())
    return AuditOutcome(
        rows=len(records),
        eligible=len(eligible_index),
        compared=compared,
        matches=matches,
        accuracy=round(100 * matches / compared, 1) if compared else None,
        mismatches=mismatches,
        notes=notes,
    )
