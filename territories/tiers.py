"""The ICP tier matrix: ordered rules, each a set of conditions; first match wins. Pure.

A ``Rule`` belongs to a tier (T1 best fit, T2, T3) and holds conditions that must all hold. Rules
are tried in order (the caller passes T1's rules first, then T2's, then T3's, each tier's in its
own order); an account takes the tier of the first rule it matches, or ``unqualified``.

Conditions work on any column of the accounts frame (the standard fields of SPEC §4 and the
derived ``segment``) and on custom attributes, named ``custom:<key>`` and read from the frame's
``custom`` column of dicts. Text compares case-insensitively after trimming; numeric operators
read numbers and never match a blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TIERS: tuple[str, ...] = ("T1", "T2", "T3")
UNQUALIFIED = "unqualified"
ALL_TIERS: tuple[str, ...] = (*TIERS, UNQUALIFIED)
TIER_LABELS: dict[str, str] = {
    "T1": "T1 · best fit",
    "T2": "T2",
    "T3": "T3",
    UNQUALIFIED: "Unqualified",
}
CUSTOM_PREFIX = "custom:"

OPERATORS: dict[str, str] = {
    "in": "is one of",
    "not_in": "is not one of",
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "gte": "≥",
    "gt": ">",
    "lte": "≤",
    "lt": "<",
    "between": "is between (inclusive)",
    "blank": "is blank",
    "present": "is not blank",
}
NUMERIC_OPERATORS = frozenset({"gte", "gt", "lte", "lt", "between"})
NO_VALUE_OPERATORS = frozenset({"blank", "present"})
LIST_OPERATORS = frozenset({"in", "not_in"})

NUMERIC_FIELDS = frozenset({"employees", "annual_revenue", "contract_value"})
MONEY_FIELDS = frozenset({"annual_revenue", "contract_value"})
BOOLEAN_FIELDS = frozenset({"is_customer"})
FIELD_NAMES: dict[str, str] = {
    "external_id": "external id",
    "name": "name",
    "domain": "domain",
    "industry": "industry",
    "employees": "employees",
    "annual_revenue": "annual revenue",
    "country": "country",
    "state": "state",
    "city": "city",
    "postal_code": "postal code",
    "current_owner": "current owner",
    "is_customer": "is a customer",
    "contract_value": "contract value",
    "named_account_owner": "named-account owner",
    "segment": "segment",
}


def field_label(name: str) -> str:
    if name.startswith(CUSTOM_PREFIX):
        return f"“{name[len(CUSTOM_PREFIX) :]}”"
    return FIELD_NAMES.get(name, name)


def _number_text(field: str, value: float) -> str:
    if field in MONEY_FIELDS:
        return f"${value:,.0f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


@dataclass(frozen=True)
class Condition:
    """``field op value``. ``value`` is a tuple of texts for in/not in, a float for numeric
    comparisons, a (low, high) pair for between, a text for is/is not/contains (a bool for
    ``is_customer``), and None for blank/not blank."""

    field: str
    op: str
    value: Any = None

    def describe(self) -> str:
        name = field_label(self.field)
        if self.op in NO_VALUE_OPERATORS:
            return f"{name} {OPERATORS[self.op]}"
        if self.field in BOOLEAN_FIELDS:
            yes = bool(self.value) == (self.op == "eq")
            return "is a customer" if yes else "is not a customer"
        if self.op in LIST_OPERATORS:
            return f"{name} {OPERATORS[self.op]} {', '.join(self.value)}"
        if self.op == "between":
            low, high = self.value
            return (
                f"{name} between {_number_text(self.field, low)} "
                f"and {_number_text(self.field, high)}"
            )
        if self.op in NUMERIC_OPERATORS:
            return f"{name} {OPERATORS[self.op]} {_number_text(self.field, self.value)}"
        return f"{name} {OPERATORS[self.op]} {self.value}"

    def as_dict(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        value = data.get("value")
        if isinstance(value, list):
            value = tuple(value)
        return cls(field=data["field"], op=data["op"], value=value)


@dataclass(frozen=True)
class Rule:
    tier: str
    conditions: tuple[Condition, ...]
    name: str = ""

    def describe(self) -> str:
        if not self.conditions:
            return "every account"
        return " and ".join(c.describe() for c in self.conditions)


def parse_condition(field: str, op: str, text: str) -> Condition:
    """A condition from form input; ``ValueError`` names what is wrong with ``text``."""
    if op not in OPERATORS:
        raise ValueError(f"Unknown operator “{op}”.")
    text = (text or "").strip()
    if op in NO_VALUE_OPERATORS:
        return Condition(field, op, None)
    if field in BOOLEAN_FIELDS:
        if op not in ("eq", "ne"):
            raise ValueError("“is a customer” takes only “is” or “is not” with yes or no.")
        word = text.lower()
        if word in ("yes", "true", "1", "y"):
            return Condition(field, op, True)
        if word in ("no", "false", "0", "n"):
            return Condition(field, op, False)
        raise ValueError(f"“{text}” is not yes or no.")
    if not text:
        raise ValueError(f"{OPERATORS[op].capitalize()} needs a value.")
    if op in LIST_OPERATORS:
        items = tuple(dict.fromkeys(p.strip() for p in text.replace("\n", ",").split(",")))
        items = tuple(p for p in items if p)
        if not items:
            raise ValueError("Give at least one value, separated by commas.")
        return Condition(field, op, items)
    if op in NUMERIC_OPERATORS:
        if op == "between":
            parts = [
                p for p in text.replace("–", "-").replace(" and ", "-").split("-") if p.strip()
            ]
            if len(parts) != 2:
                raise ValueError("Between takes two numbers, like “100 - 500”.")
            low, high = (parse_number(p) for p in parts)
            if low > high:
                raise ValueError(f"The lower bound {low:,} is above the upper bound {high:,}.")
            return Condition(field, op, (low, high))
        return Condition(field, op, parse_number(text))
    if field in NUMERIC_FIELDS and op in ("eq", "ne"):
        return Condition(field, op, parse_number(text))
    return Condition(field, op, text)


def parse_number(text: str) -> float:
    cleaned = text.strip().replace("$", "").replace(",", "").replace(" ", "")
    multiplier = 1.0
    suffixes = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9}
    for suffix, factor in sorted(suffixes.items(), key=lambda kv: -len(kv[0])):
        if cleaned.lower().endswith(suffix):
            cleaned, multiplier = cleaned[: -len(suffix)], factor
            break
    try:
        value = float(cleaned) * multiplier
    except ValueError:
        raise ValueError(f"“{text.strip()}” is not a number.") from None
    if not np.isfinite(value):
        raise ValueError(f"“{text.strip()}” is not a finite number.")
    return value


def _column(frame: pd.DataFrame, field: str) -> pd.Series:
    if field.startswith(CUSTOM_PREFIX):
        key = field[len(CUSTOM_PREFIX) :]
        if "custom" not in frame:
            return pd.Series([None] * len(frame), index=frame.index, dtype=object)
        return frame["custom"].map(lambda d: d.get(key) if isinstance(d, dict) else None)
    if field not in frame:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[field]


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().str.lower().fillna("")


def condition_mask(frame: pd.DataFrame, condition: Condition) -> np.ndarray:
    """Boolean array: which rows of ``frame`` satisfy ``condition``."""
    series = _column(frame, condition.field)
    op, value = condition.op, condition.value
    if op in NO_VALUE_OPERATORS:
        blank = series.isna() | (_text(series) == "")
        return (blank if op == "blank" else ~blank).to_numpy(dtype=bool)
    if condition.field in BOOLEAN_FIELDS:
        truth = series.fillna(False).astype(bool)
        mask = truth == bool(value)
        return (mask if op == "eq" else ~mask).to_numpy(dtype=bool)
    numeric = op in NUMERIC_OPERATORS or isinstance(value, int | float)
    if numeric:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            if op == "between":
                low, high = value
                result = (numbers >= low) & (numbers <= high)
            elif op == "gte":
                result = numbers >= value
            elif op == "gt":
                result = numbers > value
            elif op == "lte":
                result = numbers <= value
            elif op == "lt":
                result = numbers < value
            elif op == "eq":
                result = numbers == value
            else:  # ne: a blank is not equal to the number
                result = ~(numbers == value)
        return np.asarray(result, dtype=bool)
    text = _text(series)
    if op in LIST_OPERATORS:
        hit = text.isin([v.strip().lower() for v in value])
        return (hit if op == "in" else ~hit).to_numpy(dtype=bool)
    needle = str(value).strip().lower()
    if op == "contains":
        return text.str.contains(needle, regex=False).to_numpy(dtype=bool)
    hit = text == needle
    return (hit if op == "eq" else ~hit).to_numpy(dtype=bool)


@dataclass(frozen=True)
class TierAssignment:
    tier: np.ndarray  # object array of "T1", "T2", "T3" or "unqualified"
    rule: np.ndarray  # int array: index of the matching rule, -1 for none
    matches: tuple[int, ...]  # accounts won by each rule (after earlier rules took theirs)


def assign_tiers(frame: pd.DataFrame, rules: Sequence[Rule]) -> TierAssignment:
    """Tier of every row of ``frame``; first matching rule wins. O(rules × rows), vectorised."""
    n = len(frame)
    tier = np.full(n, UNQUALIFIED, dtype=object)
    rule_index = np.full(n, -1, dtype=np.int64)
    open_rows = np.ones(n, dtype=bool)
    matches = []
    for index, rule in enumerate(rules):
        mask = open_rows.copy()
        for condition in rule.conditions:
            if not mask.any():
                break
            mask &= condition_mask(frame, condition)
        tier[mask] = rule.tier
        rule_index[mask] = index
        open_rows &= ~mask
        matches.append(int(mask.sum()))
    return TierAssignment(tier=tier, rule=rule_index, matches=tuple(matches))


def ordered(rules: Iterable[tuple[str, int, Rule]]) -> list[Rule]:
    """Rules sorted by tier (T1 first) then by their order within the tier."""
    rank = {t: i for i, t in enumerate(TIERS)}
    return [r for _, _, r in sorted(rules, key=lambda x: (rank.get(x[0], 99), x[1]))]


def tier_distribution(tier: np.ndarray, is_customer: np.ndarray) -> list[dict[str, Any]]:
    """Accounts and current customers per tier, with shares in per cent."""
    tier = np.asarray(tier, dtype=object)
    is_customer = np.asarray(is_customer, dtype=bool)
    total, customers = len(tier), int(is_customer.sum())
    rows = []
    for name in ALL_TIERS:
        in_tier = tier == name
        count, cust = int(in_tier.sum()), int((in_tier & is_customer).sum())
        rows.append(
            {
                "tier": name,
                "label": TIER_LABELS[name],
                "accounts": count,
                "pct": round(100 * count / total, 1) if total else 0.0,
                "customers": cust,
                "customer_pct": round(100 * cust / customers, 1) if customers else 0.0,
            }
        )
    return rows


def matrix_warnings(distribution: Sequence[dict[str, Any]]) -> list[str]:
    """What looks wrong with a matrix, judged by where current customers land."""
    by_tier = {row["tier"]: row for row in distribution}
    customers = sum(row["customers"] for row in distribution)
    warnings = []
    if customers:
        low = by_tier["T3"]["customers"] + by_tier[UNQUALIFIED]["customers"]
        if low / customers > 0.5:
            warnings.append(
                f"{100 * low / customers:.0f} % of current customers fall in T3 or unqualified: "
                "a matrix that calls most of today's customers a poor fit is suspect."
            )
        if by_tier["T1"]["customers"] == 0:
            warnings.append("No current customer is T1: check the T1 rules against who buys.")
    total = sum(row["accounts"] for row in distribution)
    if total and by_tier["T1"]["accounts"] / total > 0.5:
        warnings.append(
            f"{by_tier['T1']['pct']:.0f} % of all accounts are T1: a best-fit tier that holds "
            "most of the market does not focus anyone."
        )
    return warnings


def matrix_lines(rules: Sequence[Rule]) -> list[str]:
    """The tier matrix in plain lines (the text the customer signs off)."""
    lines = [
        "Rules are tried from T1 down, in order; an account takes the tier of the first rule it "
        "matches. An account that matches no rule is unqualified."
    ]
    for tier in TIERS:
        own = [r for r in rules if r.tier == tier]
        lines.append(f"{TIER_LABELS[tier]}:")
        if not own:
            lines.append("  (no rule: no account is placed here)")
        for number, rule in enumerate(own, start=1):
            label = f" ({rule.name})" if rule.name else ""
            lines.append(f"  {number}. {rule.describe()}{label}")
    return lines
