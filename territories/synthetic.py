"""A realistic synthetic account universe for demos and benchmarks. Pure: no Django import.

Revenue is log-normal (most companies small, a long tail of giants); employees follow revenue
with noise; states are drawn in proportion to their share of US GDP, so California, Texas, New
York and Florida dominate as they do in real CRM exports; every account sits in a real ZIP code
and city of its state (from the offline ``zipcodes`` package). A few per cent of fields are blank,
as in any CRM. The same ``seed`` always gives the same frame.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

# Approximate 2023 GDP by state, $ billions (BEA). Only the proportions matter.
STATE_GDP: dict[str, float] = {
    "CA": 3870, "TX": 2560, "NY": 2150, "FL": 1580, "IL": 1070, "PA": 970, "OH": 880,
    "GA": 800, "WA": 800, "NC": 780, "NJ": 770, "MA": 730, "VA": 690, "MI": 680, "CO": 520,
    "TN": 520, "MD": 500, "AZ": 500, "IN": 490, "MN": 470, "MO": 420, "WI": 410, "CT": 330,
    "OR": 310, "SC": 310, "LA": 300, "AL": 300, "KY": 280, "UT": 260, "OK": 250, "IA": 240,
    "NV": 240, "KS": 220, "DC": 170, "AR": 170, "NE": 170, "MS": 150, "NM": 130, "ID": 120,
    "NH": 110, "HI": 110, "WV": 100, "DE": 95, "ME": 90, "RI": 75, "ND": 75, "SD": 70,
    "MT": 70, "AK": 70, "WY": 50, "VT": 45,
}  # fmt: skip

REGION_OF_STATE: dict[str, str] = {
    **dict.fromkeys(
        ["WA", "OR", "CA", "NV", "AZ", "UT", "ID", "MT", "WY", "CO", "NM", "AK", "HI"], "West"
    ),
    **dict.fromkeys(
        ["ND", "SD", "NE", "KS", "MN", "IA", "MO", "WI", "IL", "IN", "MI", "OH"], "Central"
    ),
    **dict.fromkeys(
        ["TX", "OK", "AR", "LA", "MS", "AL", "TN", "KY", "GA", "FL", "SC", "NC"], "South"
    ),
    **dict.fromkeys(
        ["VA", "WV", "MD", "DE", "DC", "PA", "NJ", "NY", "CT", "RI", "MA", "VT", "NH", "ME"], "East"
    ),
}

INDUSTRIES: dict[str, float] = {
    "Software": 0.16, "Financial Services": 0.11, "Healthcare": 0.12, "Manufacturing": 0.14,
    "Retail": 0.09, "Professional Services": 0.10, "Logistics": 0.06, "Media": 0.04,
    "Energy": 0.04, "Education": 0.05, "Real Estate": 0.05, "Telecommunications": 0.04,
}  # fmt: skip

OWNERS_BY_REGION: dict[str, list[str]] = {
    "West": ["Avery Chen", "Jordan Alvarez", "Riley Park"],
    "Central": ["Morgan Shaw", "Casey Novak"],
    "South": ["Taylor Brooks", "Jamie Ortiz", "Drew Walker"],
    "East": ["Quinn Murphy", "Alex Rivera", "Sam Patel"],
}
STRATEGIC_OWNER = "Dana Whitfield"

_ADJECTIVES = [
    "Acme",
    "Apex",
    "Blue",
    "Bright",
    "Cedar",
    "Clear",
    "Core",
    "Crest",
    "Delta",
    "Eagle",
    "Evergreen",
    "First",
    "Golden",
    "Granite",
    "Harbor",
    "Horizon",
    "Iron",
    "Keystone",
    "Lakeside",
    "Liberty",
    "Maple",
    "Meridian",
    "Metro",
    "Noble",
    "North",
    "Oak",
    "Pacific",
    "Peak",
    "Pioneer",
    "Prime",
    "Quantum",
    "Red",
    "Redwood",
    "Ridge",
    "River",
    "Silver",
    "Sky",
    "Summit",
    "Sun",
    "True",
    "Union",
    "Vista",
    "West",
    "Wild",
]
_NOUNS = [
    "Analytics",
    "Bio",
    "Bridge",
    "Capital",
    "Cloud",
    "Data",
    "Dynamics",
    "Energy",
    "Foods",
    "Freight",
    "Health",
    "Labs",
    "Logic",
    "Logistics",
    "Media",
    "Medical",
    "Networks",
    "Partners",
    "Power",
    "Retail",
    "Robotics",
    "Security",
    "Signal",
    "Systems",
    "Tech",
    "Works",
    "Ventures",
    "Vision",
]
_SUFFIXES = ("Inc", "LLC", "Corp", "Group", "Co", "Holdings", "Ltd")
_CRM = {"Salesforce": 0.45, "HubSpot": 0.3, "Dynamics": 0.12, "None": 0.13}
_GROWTH = {"high": 0.2, "medium": 0.5, "low": 0.3}


@lru_cache(maxsize=1)
def zip_table() -> pd.DataFrame:
    """Active standard US ZIP codes with city, county and coordinates (built once, cached)."""
    import zipcodes

    rows = [
        (z["zip_code"], z["city"], z["state"], z["county"], float(z["lat"]), float(z["long"]))
        for z in zipcodes.list_all()
        if z["active"] and z["zip_code_type"] == "STANDARD" and z["state"] in STATE_GDP
    ]
    return pd.DataFrame(rows, columns=["postal_code", "city", "state", "county", "lat", "lon"])


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _blank_some(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    out = values.astype(object)
    out[rng.random(len(out)) < share] = ""
    return out


def generate_accounts(n: int, *, seed: int = 0, id_prefix: str = "ACC") -> pd.DataFrame:
    """``n`` synthetic accounts with the standard fields of SPEC §4 plus two custom attributes.

    Columns: external_id, name, domain, industry, employees (Int64, some missing),
    annual_revenue (USD, float), country, state, city, postal_code (5-digit text),
    current_owner, is_customer (bool), contract_value (USD, NaN for prospects),
    named_account_owner, crm_platform, growth_signal. Deterministic for ``seed``.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    rng = np.random.default_rng(seed)
    zips = zip_table()

    states = _pick(rng, STATE_GDP, n)
    postal = np.empty(n, dtype=object)
    city = np.empty(n, dtype=object)
    by_state = dict(zips.groupby("state").indices.items())
    for state in np.unique(states):
        where = np.flatnonzero(states == state)
        rows = by_state[state][rng.integers(0, len(by_state[state]), size=len(where))]
        postal[where] = zips["postal_code"].to_numpy()[rows]
        city[where] = zips["city"].to_numpy()[rows]

    revenue = np.exp(rng.normal(np.log(30e6), 1.8, size=n)).clip(2e5, 4e11).round(-3)
    per_employee = np.exp(rng.normal(np.log(250e3), 0.5, size=n))
    employees = np.maximum(1, (revenue / per_employee).round()).astype("int64")

    # Bigger companies are likelier to be customers already (about 7 % overall).
    p_customer = 0.03 + 0.12 * (np.log10(revenue) - 5.3) / 6.3
    is_customer = rng.random(n) < p_customer.clip(0.01, 0.25)
    acv = (revenue * 0.0008 * np.exp(rng.normal(0, 0.6, size=n))).clip(6e3, 2.5e6).round(-2)
    contract_value = np.where(is_customer, acv, np.nan)

    regions = np.array([REGION_OF_STATE[s] for s in states])
    owners = np.empty(n, dtype=object)
    for region, names in OWNERS_BY_REGION.items():
        where = np.flatnonzero(regions == region)
        owners[where] = np.array(names, dtype=object)[rng.integers(0, len(names), len(where))]
    owners[rng.random(n) < 0.08] = ""  # unassigned accounts exist in every CRM
    named = np.full(n, "", dtype=object)
    if n:
        top = np.argsort(-revenue)[: max(1, n // 200)]
        named[top] = STRATEGIC_OWNER

    adjective = np.array(_ADJECTIVES)[rng.integers(0, len(_ADJECTIVES), n)]
    noun = np.array(_NOUNS)[rng.integers(0, len(_NOUNS), n)]
    suffix = np.array(_SUFFIXES)[rng.integers(0, len(_SUFFIXES), n)]
    base = np.char.add(np.char.add(adjective, " "), noun)
    # Make names unique the way real ones are: a place name tells twins apart.
    seen: dict[str, int] = {}
    names = np.empty(n, dtype=object)
    domains = np.empty(n, dtype=object)
    for i in range(n):
        key = str(base[i])
        count = seen.get(key, 0)
        seen[key] = count + 1
        label = key if count == 0 else f"{key} {city[i]}" if count == 1 else f"{key} {count}"
        names[i] = f"{label} {suffix[i]}"
        slug = "".join(ch for ch in label.lower() if ch.isalnum())
        domains[i] = f"{slug}.com" if count < 2 else f"{slug}{count}.com"

    employees_col = pd.array(employees, dtype="Int64")
    employees_col[rng.random(n) < 0.04] = pd.NA
    frame = pd.DataFrame(
        {
            "external_id": [f"{id_prefix}-{i + 1:06d}" for i in range(n)],
            "name": names,
            "domain": _blank_some(rng, domains, 0.03),
            "industry": _blank_some(rng, _pick(rng, INDUSTRIES, n), 0.02),
            "employees": employees_col,
            "annual_revenue": revenue,
            "country": np.full(n, "US", dtype=object),
            "state": states.astype(object),
            "city": city,
            "postal_code": postal,
            "current_owner": owners,
            "is_customer": is_customer,
            "contract_value": contract_value,
            "named_account_owner": named,
            "crm_platform": _pick(rng, _CRM, n),
            "growth_signal": _pick(rng, _GROWTH, n),
        }
    )
    # About 1 % of accounts lost their geography somewhere between the form and the CRM.
    lost = rng.random(n) < 0.01
    frame.loc[lost, ["state", "city", "postal_code"]] = ""
    return frame
