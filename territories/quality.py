"""Data-quality report over an account universe. Pure: no Django import.

Input is a DataFrame with one row per account and the standard columns of SPEC §4 (see
``STANDARD_FIELDS``); missing columns count as entirely blank. Output is a JSON-ready dict.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Standard account fields in display order; the report counts blanks for each.
STANDARD_FIELDS: tuple[str, ...] = (
    "external_id",
    "name",
    "domain",
    "industry",
    "employees",
    "annual_revenue",
    "country",
    "state",
    "city",
    "postal_code",
    "current_owner",
    "is_customer",
    "contract_value",
    "named_account_owner",
)

US_STATES: frozenset[str] = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
    ]
)
_US_NAMES = {"", "US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA"}
_ZIP_RE = r"^\d{5}(-\d{4})?$"


def _blank(series: pd.Series) -> pd.Series:
    """True where a value is missing or only whitespace."""
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.isna() | (series.astype("string").str.strip() == "")
    return series.isna()


def quality_report(accounts: pd.DataFrame, *, sample_size: int = 10) -> dict[str, Any]:
    """Blanks per field, duplicates, unparseable values and accounts with no geography.

    Returns ``{"total": n, "blanks": [{field, count, pct}], "duplicates": {...},
    "unparseable": [{field, count, examples}], "no_geography": {count, pct, examples}}``;
    every ``examples`` list holds at most ``sample_size`` external ids.
    """
    n = int(len(accounts))
    frame = accounts.copy()
    for field in STANDARD_FIELDS:
        if field not in frame.columns:
            frame[field] = pd.Series([None] * n, index=frame.index, dtype=object)

    def pct(count: int) -> float:
        return round(100.0 * count / n, 1) if n else 0.0

    def examples(mask: pd.Series) -> list[str]:
        return [str(x) for x in frame.loc[mask, "external_id"].head(sample_size).tolist()]

    blanks = []
    for field in STANDARD_FIELDS:
        if field == "is_customer":
            continue  # a boolean is never blank once stored
        count = int(_blank(frame[field]).sum())
        blanks.append({"field": field, "count": count, "pct": pct(count)})

    name_key = frame["name"].astype("string").str.strip().str.lower()
    domain_key = frame["domain"].astype("string").str.strip().str.lower()
    dup_domain = domain_key.notna() & (domain_key != "") & domain_key.duplicated(keep=False)
    dup_name = name_key.notna() & (name_key != "") & name_key.duplicated(keep=False)
    duplicates = {
        "domain": {
            "count": int(dup_domain.sum()),
            "groups": int(domain_key[dup_domain].nunique()),
            "examples": examples(dup_domain),
        },
        "name": {
            "count": int(dup_name.sum()),
            "groups": int(name_key[dup_name].nunique()),
            "examples": examples(dup_name),
        },
    }

    country = frame["country"].astype("string").fillna("").str.strip().str.upper()
    is_us = country.isin(_US_NAMES)
    state = frame["state"].astype("string").fillna("").str.strip().str.upper()
    postal = frame["postal_code"].astype("string").fillna("").str.strip()
    unparseable = []
    bad_state = is_us & (state != "") & ~state.isin(US_STATES)
    bad_zip = is_us & (postal != "") & ~postal.str.match(_ZIP_RE).fillna(False)
    unparseable.append(
        {"field": "state", "count": int(bad_state.sum()), "examples": examples(bad_state)}
    )
    unparseable.append(
        {"field": "postal_code", "count": int(bad_zip.sum()), "examples": examples(bad_zip)}
    )
    for field in ("employees", "annual_revenue", "contract_value"):
        numbers = pd.to_numeric(frame[field], errors="coerce")
        present = ~_blank(frame[field])
        bad = present & (numbers.isna() | (numbers < 0) | ~np.isfinite(numbers.fillna(0)))
        unparseable.append({"field": field, "count": int(bad.sum()), "examples": examples(bad)})

    no_geo = (state == "") & (postal == "") & _blank(frame["city"])
    return {
        "total": n,
        "blanks": blanks,
        "duplicates": duplicates,
        "unparseable": unparseable,
        "no_geography": {
            "count": int(no_geo.sum()),
            "pct": pct(int(no_geo.sum())),
            "examples": examples(no_geo),
        },
    }
