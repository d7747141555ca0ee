"""The routing engine: one account record in, a territory, an owner and a decision trace out.

Pure: no Django import. It evaluates the **territory object** (routing's own records, turned by
``routing.services.routing_config_build`` into a frozen :class:`RoutingConfig`), never the
territories app's tables, so it can be tested and benchmarked alone.

Evaluation order (SPEC §5, the tech spec's "flow logic")
--------------------------------------------------------
1. **Named-account override** by external id or domain: the first override (in the config's
   order) whose external id or domain equals the record's wins and bypasses everything else.
2. **Account lists**: a territory that lists the record's external id takes it. A territory with
   an account list (account-level territories of the hierarchy) takes *only* listed accounts.
3. **Hierarchy cuts**: the record's segment (size bands on annual revenue or employees,
   boundaries inclusive or exclusive as the hierarchy defines them), region (of the state),
   state and sub-state unit (county, 3-digit ZIP or city, derived from the postal code by
   ``territories.geo``) and industry; the first pod whose criteria match takes the record.
4. **Territory lookup** inside that pod: candidate territories in order of (priority, most
   specific geography first, key); the first whose criteria all hold wins.
5. **Team**: the territory's AE is the owner; SDR, SE and CSM come with it.

Missing or unparseable data is evaluated *lazily*: a blank industry only matters if a pod or
territory that could otherwise take the record needs the industry. When the first candidate
(in order) that is not ruled out by the data that *is* known needs a field that is blank or
unparseable, the record goes to the configured **fallback of that level** (a default territory
or an ops queue). A pod found but no territory matching, no pod matching, or a territory without
an AE use the ``territory`` and ``owner`` fallbacks.

Two paths, same answers
-----------------------
:func:`route_record` routes one record (a mapping) and explains every step with the record's own
values. :func:`route_frame` routes a DataFrame: it extracts the same features vectorised, groups
rows by the features the decision depends on (override hit, account-list hit, size band, unit,
industry) and runs the same decision function once per distinct group. Both call
:func:`_decide`; a property test checks they agree on random and garbage records.

A trace step's ``rule`` depends only on those features (so the bulk path can report it per row
cheaply); its ``reason`` may quote the record's raw values. :attr:`Decision.why` — the reason of
the deciding rule or fallback ("territory COM-LA is the first match by priority (1): its
sub-region includes CA:C06037", "annual revenue is blank: the segment fallback is the queue
“Ops review”") — depends only on the features too, so the single and bulk paths give the same
sentence (the bulk path's ``reason`` column).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from territories import geo
from territories.segments import Band

# --- Vocabulary ---------------------------------------------------------------------------------

TEAM_ROLES: tuple[str, ...] = ("ae", "sdr", "se", "csm")
TEAM_LABELS: dict[str, str] = {"ae": "AE", "sdr": "SDR", "se": "SE", "csm": "CSM"}
BASES: dict[str, str] = {"annual_revenue": "annual revenue", "employees": "employees"}

# Levels a fallback can be configured for, in evaluation order.
FALLBACK_LEVELS: tuple[str, ...] = (
    "segment",
    "region",
    "state",
    "sub_state",
    "industry",
    "territory",
    "owner",
)
FALLBACK_LABELS: dict[str, str] = {
    "segment": "Segment (size blank or unparseable)",
    "region": "Region (no usable state or ZIP code)",
    "state": "State (no usable state or ZIP code)",
    "sub_state": "Sub-state unit (split state, ZIP code missing or unknown)",
    "industry": "Industry (blank)",
    "territory": "No territory matches",
    "owner": "Territory has no AE",
}
# Where a decision was made: one of these or a fallback level.
DECISION_LEVELS: tuple[str, ...] = ("named_account", "account_list", "territory")

# The record fields the engine reads (other keys are ignored).
RECORD_FIELDS: tuple[str, ...] = (
    "external_id",
    "name",
    "domain",
    "annual_revenue",
    "employees",
    "industry",
    "country",
    "state",
    "city",
    "postal_code",
)

_US_COUNTRY = frozenset(
    {"", "us", "usa", "u.s.", "u.s.a.", "united states", "united states of america", "america"}
)
BLANK = -1  # size band index when the size is blank
UNPARSEABLE = -2  # … when it cannot be read as a non-negative number


# --- Configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    ae: str = ""
    sdr: str = ""
    se: str = ""
    csm: str = ""

    def as_dict(self) -> dict[str, str]:
        return {role: getattr(self, role) for role in TEAM_ROLES}

    def describe(self) -> str:
        members = [f"{TEAM_LABELS[r]} {getattr(self, r)}" for r in TEAM_ROLES if getattr(self, r)]
        return ", ".join(members) or "no team members"


@dataclass(frozen=True)
class Pod:
    """A branch of the segmentation hierarchy. Empty criteria mean "any"."""

    key: str
    label: str = ""
    segments: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()
    industries: frozenset[str] = frozenset()  # industry_key() values

    def describe(self) -> str:
        parts = []
        for name, values in (
            ("segment", self.segments),
            ("region", self.regions),
            ("state", self.states),
            ("industry", self.industries),
        ):
            if values:
                parts.append(f"{name} {' or '.join(sorted(values))}")
        return ", ".join(parts) or "every account"


@dataclass(frozen=True)
class TerritoryRule:
    """One territory record of the territory object, as the engine evaluates it.

    ``units`` are sub-state unit ids of ``territories.geo`` ("CA:C06037", "CA:Z940",
    "CA:CITY:San Jose"); ``states`` take a whole state. A territory with ``accounts`` (an
    account list) takes only the accounts it lists.
    """

    key: str
    name: str = ""
    pod: str = ""  # "" = evaluated in every pod
    team: Team = Team()
    priority: int = 100  # lower first
    active: bool = True
    effective_from: date | None = None
    effective_to: date | None = None  # inclusive
    segments: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    industries: frozenset[str] = frozenset()  # industry_key() values
    states: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()

    def live(self, on: date) -> bool:
        if not self.active:
            return False
        if self.effective_from is not None and on < self.effective_from:
            return False
        return self.effective_to is None or on <= self.effective_to

    @cached_property
    def unit_states(self) -> frozenset[str]:
        return frozenset(u.split(":", 1)[0] for u in self.units)

    @property
    def has_geography(self) -> bool:
        return bool(self.states or self.units)

    @property
    def specificity(self) -> int:
        """2 for sub-state units, 1 for whole states, 0 for no geography (sort: most first)."""
        return 2 if self.units else (1 if self.states else 0)

    def label(self) -> str:
        return (
            f"{self.key} {self.name}".strip() if self.name and self.name != self.key else self.key
        )


@dataclass(frozen=True)
class NamedOverride:
    """A named account: matched by external id or domain, evaluated before anything else."""

    external_id: str = ""
    domain: str = ""  # normalize_domain() form
    territory: str = ""  # territory key, "" for an owner-only override
    owner: str = ""

    def label(self) -> str:
        parts = [p for p in (self.external_id, self.domain) if p]
        return "named account " + " / ".join(parts)


@dataclass(frozen=True)
class Fallback:
    """Where a record goes when a level cannot be decided: a default territory or a queue."""

    territory: str = ""
    queue: str = ""

    def describe(self) -> str:
        return f"territory {self.territory}" if self.territory else f"queue “{self.queue}”"


@dataclass(frozen=True)
class RoutingConfig:
    """Everything the engine needs, frozen. Build once per territory-object version."""

    segment_basis: str = "annual_revenue"
    bands: tuple[Band, ...] = ()
    pods: tuple[Pod, ...] = ()
    territories: tuple[TerritoryRule, ...] = ()
    overrides: tuple[NamedOverride, ...] = ()
    fallbacks: Mapping[str, Fallback] = field(default_factory=dict)
    default_queue: str = "Unassigned"
    granularity_by_state: Mapping[str, str] = field(default_factory=dict)
    region_of_state: Mapping[str, str] = field(default_factory=lambda: dict(geo.STATE_REGION))
    as_of: date = field(default_factory=date.today)
    version: int = 0

    def problems(self) -> list[str]:
        """Why the config cannot route (empty when it can)."""
        problems = []
        if self.segment_basis not in BASES:
            problems.append(f"Segment basis {self.segment_basis!r} is not one of {list(BASES)}.")
        if self.bands and self.bands[-1].minimum is not None:
            problems.append("The last size band must have no minimum (it takes the rest).")
        keys = [t.key for t in self.territories]
        if len(keys) != len(set(keys)):
            problems.append("Territory keys must be unique.")
        for level in self.fallbacks:
            if level not in FALLBACK_LEVELS:
                problems.append(f"Unknown fallback level {level!r}.")
        try:
            geo.resolve_unit(None, None, granularity_by_state=dict(self.granularity_by_state))
        except ValueError as exc:
            problems.append(str(exc))
        return problems

    @cached_property
    def index(self) -> _Index:
        return _Index(self)


class _Index:
    """Lookups derived once per config: live territories in evaluation order, override maps."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        live = [t for t in config.territories if t.live(config.as_of)]
        self.ignored = len(config.territories) - len(live)
        self.rules = tuple(sorted(live, key=lambda t: (t.priority, -t.specificity, t.key)))
        self.by_key = {t.key: t for t in self.rules}
        self.all_keys = {t.key for t in config.territories}
        self.override_by_id: dict[str, int] = {}
        self.override_by_domain: dict[str, int] = {}
        for i, o in enumerate(config.overrides):
            if o.external_id:
                self.override_by_id.setdefault(o.external_id, i)
            if o.domain:
                self.override_by_domain.setdefault(o.domain, i)
        self.listed: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            for account in sorted(rule.accounts):
                self.listed.setdefault(account, i)
        self.has_lists = bool(self.listed)
        pod_keys = {p.key for p in config.pods}
        # Candidates per pod, in evaluation order; territories of no (known) pod count everywhere.
        self.by_pod: dict[str, tuple[int, ...]] = {}
        for pod_key in [*pod_keys, ""]:
            self.by_pod[pod_key] = tuple(
                i
                for i, t in enumerate(self.rules)
                if not t.accounts and (t.pod == pod_key or t.pod == "" or t.pod not in pod_keys)
            )
        self.bands = config.bands
        self.minima = np.array(
            [b.minimum if b.minimum is not None else -np.inf for b in config.bands], dtype=float
        )


# --- Features: what the decision depends on ------------------------------------------------------


def clean_text(value: object) -> str:
    """Text of a cell with surrounding whitespace removed; blanks (None, NaN, NA) are ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        if math.isfinite(value) and float(value).is_integer():
            return str(int(value))
        return repr(float(value))
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value).strip()


_DOMAIN = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/?#]*@)?(?:www\.)?([^/?#:@\s]*)")


def normalize_domain(value: object) -> str:
    """ "https://www.Acme.com/about" → "acme.com"; an e-mail address gives its domain."""
    text = clean_text(value).lower()
    if not text:
        return ""
    match = _DOMAIN.match(text)
    return match.group(1).rstrip(".") if match else ""


def industry_key(value: object) -> str:
    """Industries compare case- and spacing-insensitively: " Health  care" ~ "health care"."""
    return " ".join(clean_text(value).casefold().split())


_AMOUNT = re.compile(
    r"(?:\$\s*)?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?)(?:\s*usd)?",
    re.ASCII | re.IGNORECASE,
)


def parse_size(value: object) -> float | None | int:
    """A company size from a cell: the number, or BLANK / UNPARSEABLE (negative ints).

    Accepts numbers and text like "1,250,000", "$1.2e9", "42 USD". Negative, infinite and
    non-numeric values are UNPARSEABLE; None, NaN and "" are BLANK.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return BLANK
    if isinstance(value, (bool, np.bool_)):
        return UNPARSEABLE
    if isinstance(value, (int, np.integer)):
        try:
            number = float(value)
        except OverflowError:  # a whole number past the float range (10**400) is infinite
            return UNPARSEABLE
    elif isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return BLANK
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return BLANK
        match = _AMOUNT.fullmatch(text)
        if match is None:
            return UNPARSEABLE
        number = float(match.group(1).replace(",", ""))
    else:
        return UNPARSEABLE
    if not math.isfinite(number) or number < 0:
        return UNPARSEABLE
    return number


def _band_of(config: RoutingConfig, size: float | int) -> int:
    """Index of the size band (the first whose minimum the size reaches), or BLANK/UNPARSEABLE."""
    if isinstance(size, int) and size < 0:
        return size
    for i, band in enumerate(config.bands):
        if band.minimum is None:
            return i
        if size >= band.minimum if band.inclusive else size > band.minimum:
            return i
    return len(config.bands) - 1 if config.bands else BLANK


def _is_us(country: object) -> bool:
    return clean_text(country).casefold() in _US_COUNTRY


@dataclass(frozen=True)
class _Key:
    """The features a decision depends on; rows with equal keys get equal outcomes."""

    named: int  # override index or -1
    listed: int  # index into _Index.rules or -1
    band: int  # band index, BLANK or UNPARSEABLE
    unit: str  # geo unit id ("?" unknown state, "CA:?" unknown sub-state unit)
    industry: str  # industry_key(), "" when blank


@dataclass(frozen=True)
class _Facts:
    """The record's own values, for the reasons of a single-record trace."""

    external_id: str
    domain: str
    size_raw: str
    size: float | int
    industry: str
    unit_reason: str
    foreign: str  # the country when it is outside the US


def _features(record: Mapping[str, Any], config: RoutingConfig) -> tuple[_Key, _Facts]:
    index = config.index
    external_id = clean_text(record.get("external_id"))
    domain = normalize_domain(record.get("domain"))
    named = min(
        (
            i
            for i in (
                index.override_by_id.get(external_id, -1) if external_id else -1,
                index.override_by_domain.get(domain, -1) if domain else -1,
            )
            if i >= 0
        ),
        default=-1,
    )
    listed = index.listed.get(external_id, -1) if external_id else -1
    raw_size = record.get(config.segment_basis)
    size = parse_size(raw_size)
    band = _band_of(config, size)
    country = record.get("country")
    foreign = "" if _is_us(country) else clean_text(country)
    if foreign:
        unit, unit_reason = geo.UNKNOWN, f"the country ({foreign}) is outside the US"
    else:
        resolution = geo.resolve_unit(
            record.get("state"),
            record.get("postal_code"),
            record.get("city"),
            granularity_by_state=dict(config.granularity_by_state),
        )
        unit, unit_reason = resolution.unit, resolution.reason
    industry_raw = clean_text(record.get("industry"))
    key = _Key(named, listed, band, unit, industry_key(industry_raw))
    facts = _Facts(
        external_id, domain, clean_text(raw_size), size, industry_raw, unit_reason, foreign
    )
    return key, facts


# --- The decision -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceStep:
    level: str
    rule: str  # what was evaluated at this level (depends only on the decision's features)
    matched: bool
    reason: str  # why, in words, with the record's values where the single path has them

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "rule": self.rule,
            "matched": self.matched,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Decision:
    territory: str  # territory key, "" when none
    territory_name: str
    queue: str  # the ops queue when the record went to one, else ""
    owner: str  # the AE, the named-account owner, or the queue's name
    team: Team
    pod: str
    segment: str
    unit: str
    level: str  # where it was decided: named_account, account_list, territory or a fallback level
    fallback: str  # the fallback level used, "" when none
    trace: tuple[TraceStep, ...] = ()
    # Why the deciding rule or fallback applied, in words that depend only on the decision's
    # features (never on the record's raw values), so both paths give the same sentence.
    why: str = ""

    def summary(self) -> str:
        """One line of the trace's rules, as the bulk path writes it per row."""
        return " › ".join(f"{s.level}: {s.rule}" for s in self.trace if s.rule)

    def outcome(self) -> tuple:
        """Everything but the trace's wording: what the two paths must agree on."""
        return (
            self.territory,
            self.territory_name,
            self.queue,
            self.owner,
            self.team,
            self.pod,
            self.segment,
            self.unit,
            self.level,
            self.fallback,
            self.summary(),
            self.why,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "territory": (
                {"key": self.territory, "name": self.territory_name} if self.territory else None
            ),
            "queue": self.queue or None,
            "owner": self.owner,
            "team": self.team.as_dict(),
            "pod": self.pod or None,
            "segment": self.segment or None,
            "geo_unit": self.unit,
            "decided_at": self.level,
            "fallback": self.fallback or None,
            "reason": self.why,
            "trace": [s.as_dict() for s in self.trace],
        }


def _money(basis: str, value: float) -> str:
    return f"${value:,.0f}" if basis == "annual_revenue" else f"{value:,.0f} employees"


def _band_rule(config: RoutingConfig, i: int) -> str:
    """ "Enterprise: annual revenue ≥ $1,000,000,000" — the band as the hierarchy defines it."""
    band = config.bands[i]
    name = BASES.get(config.segment_basis, config.segment_basis)
    parts = []
    if band.minimum is not None:
        parts.append(
            f"{name} {'≥' if band.inclusive else '>'} {_money(config.segment_basis, band.minimum)}"
        )
    if i > 0:
        above = config.bands[i - 1]
        parts.append(
            f"{name} {'<' if above.inclusive else '≤'} {_money(config.segment_basis, above.minimum)}"
        )
    return f"{band.label}: {' and '.join(parts) or 'every size'}"


_LEVEL_WORDS = {
    "segment": "segment",
    "region": "region",
    "state": "state",
    "sub_state": "sub-state unit",
    "industry": "industry",
}


class _Needs(Exception):
    """A candidate that the known data does not rule out needs a field that is missing."""

    def __init__(self, level: str, what: str) -> None:
        self.level, self.what = level, what


def _check(
    level: str,
    wanted: frozenset[str],
    value: str | None,
    missing: str,
) -> bool:
    """Whether ``value`` passes a criterion; raises _Needs when it is unknown but needed."""
    if not wanted:
        return True
    if value is None:
        raise _Needs(level, missing)
    return value in wanted


def _geo_check(rule: TerritoryRule, unit: str, state: str | None, missing: str) -> bool:
    if not rule.has_geography:
        return True
    if state is None:
        raise _Needs("state", missing)
    if state in rule.states:
        return True
    if state not in rule.unit_states:
        return False
    if unit in rule.units:
        return True
    if geo.unit_kind(unit) == "unknown":
        raise _Needs("sub_state", missing)
    return False


def _decide(key: _Key, config: RoutingConfig, facts: _Facts | None = None) -> Decision:
    """The decision for one feature key; ``facts`` (single path) only enrich the reasons."""
    index = config.index
    steps: list[TraceStep] = []
    basis = BASES.get(config.segment_basis, config.segment_basis)

    # 1. Named-account override.
    if key.named >= 0:
        override = config.overrides[key.named]
        if facts is not None:
            how = (
                f"external id {facts.external_id}"
                if override.external_id and override.external_id == facts.external_id
                else f"domain {facts.domain}"
            )
            why = f"{how} is a named account; named accounts bypass all other rules"
        else:
            why = "named accounts bypass all other rules"
        steps.append(TraceStep("named_account", override.label(), True, why))
        territory = index.by_key.get(override.territory) if override.territory else None
        segment = config.bands[key.band].label if key.band >= 0 else ""
        if override.territory and territory is None:
            steps.append(
                TraceStep(
                    "territory",
                    override.territory,
                    False,
                    f"territory {override.territory} is not active today; the override's owner applies",
                )
            )
        if override.owner:
            team = territory.team if territory else Team()
            team = Team(override.owner, team.sdr, team.se, team.csm)
            steps.append(
                TraceStep("owner", f"AE {override.owner}", True, "the named account's owner")
            )
            return Decision(
                territory.key if territory else "",
                territory.name if territory else "",
                "",
                override.owner,
                team,
                territory.pod if territory else "",
                segment,
                key.unit,
                "named_account",
                "",
                tuple(steps),
                f"{override.label()} bypasses all other rules; its owner is {override.owner}",
            )
        if territory is not None:
            return _with_team(
                territory,
                steps,
                key,
                config,
                "named_account",
                pod=territory.pod,
                why=f"{override.label()} bypasses all other rules; it belongs to territory "
                f"{territory.label()}",
            )
        return _fallback(
            "owner",
            "the named account has no owner and no active territory",
            steps,
            key,
            config,
            pod="",
        )
    if config.overrides:
        why = "neither the external id nor the domain is a named account"
        if facts is not None:
            why = (
                f"external id {facts.external_id or '(blank)'} and domain "
                f"{facts.domain or '(blank)'} are not named accounts"
            )
        steps.append(TraceStep("named_account", "", False, why))

    # 2. Account lists.
    if key.listed >= 0:
        rule = index.rules[key.listed]
        why = "the external id is on this territory's account list"
        if facts is not None:
            why = f"external id {facts.external_id} is on {rule.key}'s account list"
        steps.append(TraceStep("account_list", rule.label(), True, why))
        return _with_team(
            rule,
            steps,
            key,
            config,
            "account_list",
            pod=rule.pod,
            why=f"the external id is on the account list of territory {rule.label()}",
        )
    if index.has_lists:
        steps.append(
            TraceStep(
                "account_list", "", False, "the external id is on no territory's account list"
            )
        )

    # 3. Hierarchy cuts: the record's segment, region, state, unit and industry.
    segment: str | None = None
    if key.band >= 0:
        segment = config.bands[key.band].label
        why = "size band"
        if facts is not None:
            why = f"{basis} {_money(config.segment_basis, facts.size)} falls in {segment}"
        steps.append(TraceStep("segment", _band_rule(config, key.band), True, why))
    elif config.bands:
        missing = "blank" if key.band == BLANK else "not a non-negative number"
        if facts is not None and key.band == UNPARSEABLE:
            missing = f"“{facts.size_raw}” is not a non-negative number"
        steps.append(TraceStep("segment", "", False, f"{basis} is {missing}"))
    size_missing = f"{basis} is {'blank' if key.band == BLANK else 'unparseable'}"

    state = geo.unit_state(key.unit)
    region = config.region_of_state.get(state) if state else None
    geo_reason = facts.unit_reason if facts is not None else ""
    # What a fallback's reason says of a missing field, without the record's values.
    geo_plain = (
        "no usable state or ZIP code"
        if state is None
        else f"the sub-state unit of {state} is unknown"
    )
    plain_missing = {
        "segment": size_missing,
        "region": geo_plain,
        "state": geo_plain,
        "sub_state": geo_plain,
        "industry": "industry is blank",
    }
    if state is None:
        steps.append(TraceStep("state", "", False, geo_reason or "no usable state or ZIP code"))
        geo_missing = geo_reason or "no usable state or ZIP code"
    else:
        steps.append(
            TraceStep(
                "region",
                region or "",
                region is not None,
                f"{state} is in the {region} region" if region else f"{state} has no region",
            )
        )
        sub = geo.unit_kind(key.unit) != "state"
        steps.append(
            TraceStep(
                "sub_state" if sub else "state",
                key.unit,
                geo.unit_kind(key.unit) != "unknown",
                geo_reason or (f"unit {key.unit}" if sub else f"state {state}"),
            )
        )
        geo_missing = geo_reason or f"the sub-state unit of {state} is unknown"
    industry = key.industry or None
    if facts is not None:
        steps.append(
            TraceStep(
                "industry",
                key.industry,
                industry is not None,
                f"industry “{facts.industry}”" if industry else "industry is blank",
            )
        )
    else:
        steps.append(TraceStep("industry", key.industry, industry is not None, "industry"))

    # 4. The first pod whose criteria hold.
    pod: Pod | None = None
    if config.pods:
        for candidate in config.pods:
            try:
                ok = (
                    _check("segment", candidate.segments, segment, size_missing)
                    and _check("region", candidate.regions, region, geo_missing)
                    and _check("state", candidate.states, state, geo_missing)
                    and _check("industry", candidate.industries, industry, "industry is blank")
                )
            except _Needs as needs:
                steps.append(
                    TraceStep(
                        "pod",
                        candidate.key,
                        False,
                        f"pod {candidate.label or candidate.key} ({candidate.describe()}) needs the "
                        f"{_LEVEL_WORDS[needs.level]}: {needs.what}",
                    )
                )
                return _fallback(
                    needs.level,
                    needs.what,
                    steps,
                    key,
                    config,
                    pod="",
                    plain=f"{plain_missing[needs.level]} (pod {candidate.label or candidate.key} "
                    f"needs the {_LEVEL_WORDS[needs.level]})",
                )
            if ok:
                pod = candidate
                break
        if pod is None:
            steps.append(
                TraceStep("pod", "", False, "no pod of the hierarchy takes this combination")
            )
            return _fallback("territory", "no pod matches", steps, key, config, pod="")
        steps.append(
            TraceStep(
                "pod",
                pod.key,
                True,
                f"the first pod whose criteria match: {pod.label or pod.key} ({pod.describe()})",
            )
        )

    # 5. The first territory of the pod (priority, specificity, key) whose criteria hold.
    candidates = index.by_pod.get(pod.key if pod else "", index.by_pod[""])
    for position in candidates:
        rule = index.rules[position]
        try:
            ok = (
                _check("segment", rule.segments, segment, size_missing)
                and _check("region", rule.regions, region, geo_missing)
                and _geo_check(rule, key.unit, state, geo_missing)
                and _check("industry", rule.industries, industry, "industry is blank")
            )
        except _Needs as needs:
            steps.append(
                TraceStep(
                    "territory",
                    rule.key,
                    False,
                    f"{rule.label()} (priority {rule.priority}) needs the "
                    f"{_LEVEL_WORDS[needs.level]}: {needs.what}",
                )
            )
            return _fallback(
                needs.level,
                needs.what,
                steps,
                key,
                config,
                pod=pod.key if pod else "",
                plain=f"{plain_missing[needs.level]} (territory {rule.label()} needs the "
                f"{_LEVEL_WORDS[needs.level]})",
            )
        if ok:
            where = _where(rule, key.unit, state)
            steps.append(
                TraceStep(
                    "territory",
                    rule.label(),
                    True,
                    f"first match by priority ({rule.priority}){where}",
                )
            )
            return _with_team(
                rule,
                steps,
                key,
                config,
                "territory",
                pod=pod.key if pod else rule.pod,
                why=f"territory {rule.label()} is the first match by priority "
                f"({rule.priority}){where}",
            )
    steps.append(
        TraceStep(
            "territory",
            "",
            False,
            f"no active territory{' of pod ' + pod.key if pod else ''} matches",
        )
    )
    return _fallback(
        "territory", "no territory matches", steps, key, config, pod=pod.key if pod else ""
    )


def _where(rule: TerritoryRule, unit: str, state: str | None) -> str:
    if unit in rule.units:
        return f": its sub-region includes {unit}"
    if state and state in rule.states:
        return f": its sub-region includes the state {state}"
    return ""


def _with_team(
    rule: TerritoryRule,
    steps: list[TraceStep],
    key: _Key,
    config: RoutingConfig,
    level: str,
    *,
    pod: str,
    why: str,
) -> Decision:
    segment = config.bands[key.band].label if key.band >= 0 else ""
    if not rule.team.ae:
        steps.append(TraceStep("owner", "", False, f"{rule.key} has no AE"))
        fallback = _fallback("owner", f"{rule.key} has no AE", steps, key, config, pod=pod)
        return Decision(
            rule.key,
            rule.name,
            fallback.queue,
            fallback.owner,
            Team(
                fallback.owner if not fallback.queue else "",
                rule.team.sdr,
                rule.team.se,
                rule.team.csm,
            ),
            pod,
            segment,
            key.unit,
            level,
            "owner",
            fallback.trace,
            f"{why}; {fallback.why}",
        )
    steps.append(
        TraceStep(
            "owner", f"AE {rule.team.ae}", True, f"the territory's team: {rule.team.describe()}"
        )
    )
    return Decision(
        rule.key,
        rule.name,
        "",
        rule.team.ae,
        rule.team,
        pod,
        segment,
        key.unit,
        level,
        "",
        tuple(steps),
        why,
    )


def _fallback(
    level: str,
    why: str,
    steps: list[TraceStep],
    key: _Key,
    config: RoutingConfig,
    *,
    pod: str,
    plain: str | None = None,
) -> Decision:
    """The decision of ``level``'s fallback. ``why`` is the trace's reason (it may quote the
    record's values on the single path); ``plain`` says the same from the decision's features
    alone, for :attr:`Decision.why` (defaults to ``why`` when that has no record values)."""
    plain = why if plain is None else plain
    index = config.index
    segment = config.bands[key.band].label if key.band >= 0 else ""
    configured = config.fallbacks.get(level)
    target = index.by_key.get(configured.territory) if configured and configured.territory else None
    if target is not None and target.team.ae:
        steps.append(
            TraceStep(
                "fallback",
                f"{level} → territory {target.key}",
                True,
                f"{why}: the {level.replace('_', '-')} fallback is territory {target.label()}",
            )
        )
        return Decision(
            target.key,
            target.name,
            "",
            target.team.ae,
            target.team,
            pod,
            segment,
            key.unit,
            level,
            level,
            tuple(steps),
            f"{plain}: the {level.replace('_', '-')} fallback is territory {target.label()}",
        )
    queue = configured.queue if configured and configured.queue else config.default_queue
    if configured and configured.territory:
        inactive = f" (fallback territory {configured.territory} is not active or has no AE)"
        why += inactive
        plain += inactive
    steps.append(
        TraceStep(
            "fallback",
            f"{level} → queue {queue}",
            True,
            f"{why}: the {level.replace('_', '-')} fallback is the queue “{queue}”",
        )
    )
    return Decision(
        "",
        "",
        queue,
        queue,
        Team(),
        pod,
        segment,
        key.unit,
        level,
        level,
        tuple(steps),
        f"{plain}: the {level.replace('_', '-')} fallback is the queue “{queue}”",
    )


# --- Single path --------------------------------------------------------------------------------


def route_record(record: Mapping[str, Any], config: RoutingConfig) -> Decision:
    """Route one account record (a mapping of RECORD_FIELDS; other keys are ignored)."""
    key, facts = _features(record, config)
    return _decide(key, config, facts)


# --- Bulk path ----------------------------------------------------------------------------------

BULK_COLUMNS: tuple[str, ...] = (
    "territory",
    "territory_name",
    "queue",
    "owner",
    "ae",
    "sdr",
    "se",
    "csm",
    "pod",
    "segment",
    "geo_unit",
    "decided_at",
    "fallback",
    "reason",
    "trace",
)


def _map_unique(values: pd.Series, func) -> np.ndarray:
    """``func`` applied to each distinct value once; NaN/None/NA map through ``func(None)``.

    Booleans are mapped one by one: pandas hashes True, 1 and 1.0 as one key, but a size of
    True is unparseable where 1 is one employee.
    """
    values = values.astype(object).reset_index(drop=True)
    special = values.map(type).isin((bool, np.bool_)).to_numpy()
    originals = values[special].tolist() if special.any() else []
    if originals:
        values = values.where(~special, None)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = [func(v) for v in uniques.tolist()] + [func(None)]
    table = np.empty(len(mapped), dtype=object)
    table[:] = mapped
    out = table[codes]
    if originals:
        fixed = np.empty(len(originals), dtype=object)
        fixed[:] = [func(v) for v in originals]
        out[special] = fixed
    return out


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].reset_index(drop=True)
    return pd.Series([None] * len(frame), dtype=object)


def _texts(series: pd.Series) -> np.ndarray:
    """clean_text of every cell (vectorised when the column is all strings)."""
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        values = series.astype(object)
        is_str = values.map(type).eq(str).to_numpy()
        if is_str.all():
            return values.str.strip().to_numpy(dtype=object)
    return _map_unique(series.astype(object), clean_text)


def _sizes(series: pd.Series) -> np.ndarray:
    """parse_size of every cell as float, with BLANK / UNPARSEABLE as -1.0 / -2.0."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.where(series.isna().to_numpy(), float(BLANK), float(UNPARSEABLE))
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        out = values.copy()
        with np.errstate(invalid="ignore"):
            out[~np.isfinite(values) | (values < 0)] = UNPARSEABLE
        out[np.isnan(values)] = BLANK
        return out
    parsed = _map_unique(series.astype(object), parse_size)
    return np.asarray([float(v) for v in parsed], dtype=float) if len(parsed) else np.zeros(0)


def _bands(config: RoutingConfig, sizes: np.ndarray) -> np.ndarray:
    """Band index per row (vectorised _band_of): BLANK/UNPARSEABLE pass through."""
    out = np.where(sizes == BLANK, BLANK, UNPARSEABLE).astype(np.int64)
    known = sizes >= 0
    # The -1/-2 sentinels are negative, so a known size is ≥ 0 and never confused with them.
    if not config.bands:
        return np.where(known, BLANK, out)
    open_rows = known.copy()
    for i, band in enumerate(config.bands):
        if band.minimum is None:
            hit = open_rows
        else:
            hit = open_rows & (sizes >= band.minimum if band.inclusive else sizes > band.minimum)
        out[hit] = i
        open_rows &= ~hit
    out[open_rows] = len(config.bands) - 1
    return out


def route_frame(frame: pd.DataFrame, config: RoutingConfig, *, trace: bool = True) -> pd.DataFrame:
    """Route every row of ``frame`` (columns named as RECORD_FIELDS; missing ones are blank).

    Returns a DataFrame of BULK_COLUMNS aligned with ``frame``'s index (``reason`` is
    :attr:`Decision.why`, the deciding rule's or fallback's reason; ``trace`` holds the
    one-line summary of :meth:`Decision.summary`, left out with ``trace=False``). Row i equals
    ``route_record(frame.iloc[i].to_dict(), config)``. Cost: linear vectorised feature
    extraction plus one Python decision per distinct (override, list, band, unit, industry).
    """
    n = len(frame)
    index = config.index
    external_ids = _texts(_column(frame, "external_id"))
    ext = pd.Series(external_ids, dtype=object)
    named = np.full(n, -1, dtype=np.int64)
    if index.override_by_id:
        named = ext.map(index.override_by_id).fillna(-1).to_numpy(dtype=np.int64)
    if index.override_by_domain:
        domains = _map_unique(_column(frame, "domain").astype(object), normalize_domain)
        by_domain = pd.Series(domains, dtype=object).map(index.override_by_domain)
        by_domain = by_domain.fillna(-1).to_numpy(dtype=np.int64)
        both = (named >= 0) & (by_domain >= 0)
        named = np.where(both, np.minimum(named, by_domain), np.maximum(named, by_domain))
    listed = np.full(n, -1, dtype=np.int64)
    if index.listed:
        listed = ext.map(index.listed).fillna(-1).to_numpy(dtype=np.int64)
    bands = _bands(config, _sizes(_column(frame, config.segment_basis)))

    countries = _column(frame, "country")
    foreign = ~_map_unique(countries.astype(object), _is_us).astype(bool)
    units = geo.unit_ids(
        _column(frame, "state"),
        _column(frame, "postal_code"),
        _column(frame, "city"),
        granularity_by_state=dict(config.granularity_by_state),
    ).to_numpy(dtype=object)
    if foreign.any():
        units = np.where(foreign, geo.UNKNOWN, units)
    industries = _map_unique(_column(frame, "industry").astype(object), industry_key)

    # Group rows by decision key; decide once per group.
    codes = np.zeros(n, dtype=np.int64)
    for column in (named, listed, bands, units, industries):
        col_codes, col_uniques = pd.factorize(pd.Series(column))
        codes = codes * (len(col_uniques) + 1) + (col_codes + 1)
    group, groups = pd.factorize(codes)
    first = np.zeros(len(groups), dtype=np.int64)
    first[group[::-1]] = np.arange(n)[::-1]
    decisions = [
        _decide(_Key(int(named[i]), int(listed[i]), int(bands[i]), units[i], industries[i]), config)
        for i in first.tolist()
    ]
    columns: dict[str, list] = {name: [] for name in BULK_COLUMNS}
    for d in decisions:
        columns["territory"].append(d.territory)
        columns["territory_name"].append(d.territory_name)
        columns["queue"].append(d.queue)
        columns["owner"].append(d.owner)
        for role in TEAM_ROLES:
            columns[role].append(getattr(d.team, role))
        columns["pod"].append(d.pod)
        columns["segment"].append(d.segment)
        columns["geo_unit"].append(d.unit)
        columns["decided_at"].append(d.level)
        columns["fallback"].append(d.fallback)
        columns["reason"].append(d.why)
        columns["trace"].append(d.summary() if trace else "")
    names = [c for c in BULK_COLUMNS if trace or c != "trace"]
    out = {}
    for name in names:
        values = np.empty(len(decisions), dtype=object)
        values[:] = columns[name]
        out[name] = values[group]
    return pd.DataFrame(out, index=frame.index)


def decision_from_row(row: Mapping[str, Any]) -> tuple:
    """The outcome tuple of a route_frame row (what Decision.outcome gives), for comparisons."""
    return (
        row["territory"],
        row["territory_name"],
        row["queue"],
        row["owner"],
        Team(*(row[r] for r in TEAM_ROLES)),
        row["pod"],
        row["segment"],
        row["geo_unit"],
        row["decided_at"],
        row["fallback"],
        row.get("trace", ""),
        row["reason"],
    )


def records_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A frame of RECORD_FIELDS from record mappings, values kept as given (object dtype)."""
    rows = list(records)
    return pd.DataFrame(
        {f: pd.Series([r.get(f) for r in rows], dtype=object) for f in RECORD_FIELDS}
    )
