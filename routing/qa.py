"""The routing QA suite: test cases generated from the territory object, and their checking.
Pure: no Django import.

Cases follow the six categories of the playbook's 2d test plan (seed 000):

* **standard** — one record per territory, built from the territory's own criteria (a size in its
  segment, a ZIP code in its sub-region, its industry) or, for an account-level territory, one of
  its listed accounts; expected: that territory.
* **boundary** — both sides of every size threshold (the threshold itself and one unit across),
  each placed where a territory of the expected segment takes it; expected: the segment as the
  hierarchy defines it (and that territory).
* **geography** — for every state split below state level, one record per territory holding
  units there (a unit other than its standard case's) and one per state with no such territory;
  expected: the sub-state unit (and territory).
* **named** — every active named account, matched by external id (and by domain when it has
  one), with size and geography of another territory to prove the bypass.
* **missing** — a blank value for every field the hierarchy uses (size, also unparseable;
  geography; industry; the ZIP code of a split state); expected: that level's fallback.
* **team_update** — the AE of a territory is changed (inside a transaction the runner rolls
  back) and the next record must go to the new AE.

Expectations left blank are not checked; ``expect_fallback`` is a fallback level, "none", or
"geography" (any of region, state, sub-state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from routing import engine
from territories import geo, synthetic

GEOGRAPHY_LEVELS = frozenset({"region", "state", "sub_state"})
TEMP_AE = "QA Temporary AE"


@dataclass(frozen=True)
class CaseSpec:
    key: str  # stable across regenerations: which generated case this is
    category: str
    name: str
    record: dict[str, Any]
    expect_territory: str = ""
    expect_owner: str = ""
    expect_segment: str = ""
    expect_unit: str = ""
    expect_fallback: str = ""
    setup: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseResult:
    passed: bool
    failures: tuple[str, ...]
    actual: dict[str, Any]


def check(decision: engine.Decision, expect: Mapping[str, str]) -> CaseResult:
    """Compare a decision with a case's expectations (blank ones are not checked)."""
    actual = {
        "territory": decision.territory,
        "owner": decision.owner,
        "segment": decision.segment,
        "unit": decision.unit,
        "fallback": decision.fallback or "none",
        "level": decision.level,
    }
    failures = []
    for name in ("territory", "owner", "segment", "unit"):
        wanted = (expect.get(f"expect_{name}") or "").strip()
        if wanted and wanted != actual[name]:
            failures.append(f"{name}: expected {wanted}, got {actual[name] or '(none)'}")
    wanted = (expect.get("expect_fallback") or "").strip()
    if wanted:
        got = actual["fallback"]
        ok = got in GEOGRAPHY_LEVELS if wanted == "geography" else got == wanted
        if not ok:
            failures.append(f"fallback: expected {wanted}, got {got}")
    return CaseResult(not failures, tuple(failures), actual)


# --- Sample locations -------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _locations(granularity: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, str, str]]:
    """unit id → (state, ZIP code, city) of the first ZIP code (in ZIP order) that lands there."""
    table = synthetic.zip_table().sort_values("postal_code", kind="stable")
    units = geo.unit_ids(
        table["state"], table["postal_code"], table["city"], granularity_by_state=dict(granularity)
    ).to_numpy(dtype=object)
    out: dict[str, tuple[str, str, str]] = {}
    for uid, state, postal, city in zip(
        units.tolist(),
        table["state"].tolist(),
        table["postal_code"].tolist(),
        table["city"].tolist(),
        strict=True,
    ):
        out.setdefault(uid, (state, postal, city))
        out.setdefault(state, (state, postal, city))
    return out


def _location(config: engine.RoutingConfig, uid: str) -> dict[str, str] | None:
    spot = _locations(tuple(sorted(config.granularity_by_state.items()))).get(uid)
    if spot is None:
        return None
    state, postal, city = spot
    return {"country": "US", "state": state, "postal_code": postal, "city": city}


# --- Building records -------------------------------------------------------------------------


def _size_in(config: engine.RoutingConfig, label: str) -> float | None:
    """A size well inside band ``label``: between its minimum and the next band up."""
    bands = config.bands
    for i, band in enumerate(bands):
        if band.label != label:
            continue
        above = bands[i - 1].minimum if i > 0 else None
        if band.minimum is None:
            return float(round(above / 2)) if above else 0.0
        if above is None:
            return float(band.minimum * 2 or 1)
        return float(round((band.minimum + above) / 2))
    return None


def _pod(config: engine.RoutingConfig, key: str) -> engine.Pod | None:
    return next((p for p in config.pods if p.key == key), None)


def _segments_for(config: engine.RoutingConfig, rule: engine.TerritoryRule) -> list[str]:
    pod = _pod(config, rule.pod)
    wanted = rule.segments or (pod.segments if pod else frozenset())
    return [b.label for b in config.bands if not wanted or b.label in wanted]


def _state_for(config: engine.RoutingConfig, rule: engine.TerritoryRule) -> str | None:
    pod = _pod(config, rule.pod)
    regions = rule.regions or (pod.regions if pod else frozenset())
    states = pod.states if pod else frozenset()
    for state in geo.STATES:
        if regions and config.region_of_state.get(state) not in regions:
            continue
        if states and state not in states:
            continue
        return state
    return None


def _open_unit(
    config: engine.RoutingConfig, rule: engine.TerritoryRule, states: list[str]
) -> str | None:
    """A place in one of ``states`` that no more specific territory claims: a whole state that
    is not split if there is one, else a sub-state unit no other territory lists."""
    split = config.granularity_by_state
    for state in sorted(states, key=lambda s: (split.get(s, "state") != "state", s)):
        granularity = split.get(state, "state")
        if granularity == "state":
            return state
        claimed = set().union(*(r.units for r in config.index.rules if r is not rule))
        for uid in geo.state_units(state, granularity):
            if uid not in claimed and _location(config, uid) is not None:
                return uid
    return states[0] if states else None


def standard_record(
    config: engine.RoutingConfig, rule: engine.TerritoryRule, *, unit: str | None = None
) -> dict[str, Any] | None:
    """A record the territory's criteria take (None when the criteria cannot be met)."""
    record: dict[str, Any] = {"name": f"QA {rule.key}"}
    segments = _segments_for(config, rule)
    if config.bands:
        if not segments:
            return None
        record[config.segment_basis] = _size_in(config, segments[0])
    if unit is None:
        # The first unit with a standard ZIP code (a prefix like NY 005 has only special ones).
        unit = next((u for u in sorted(rule.units) if _location(config, u)), None)
    if unit is None and rule.states:
        unit = _open_unit(config, rule, sorted(rule.states))
    if unit is None:
        state = _state_for(config, rule)
        unit = _open_unit(config, rule, [state]) if state else None
    if unit is not None:
        location = _location(config, unit)
        if location is None:
            return None
        record.update(location)
    pod = _pod(config, rule.pod)
    industries = rule.industries or (pod.industries if pod else frozenset())
    # "Other" rather than blank: a blank industry would test the industry fallback instead.
    record["industry"] = sorted(industries)[0] if industries else "Other"
    return record


def _expected_segment(config: engine.RoutingConfig, size: float) -> str:
    for band in config.bands:
        if band.minimum is None:
            return band.label
        if size >= band.minimum if band.inclusive else size > band.minimum:
            return band.label
    return ""


def generate(config: engine.RoutingConfig) -> list[CaseSpec]:
    """Every generated case for the territory object as ``config`` holds it."""
    index = config.index
    rules = [r for r in index.rules if not r.accounts]
    listed = [r for r in index.rules if r.accounts]
    cases: list[CaseSpec] = []
    standard: dict[str, dict[str, Any]] = {}
    n = 0

    def next_id(prefix: str) -> str:
        nonlocal n
        n += 1
        return f"QA-{prefix}-{n:04d}"

    # 1. Standard: one per territory.
    for rule in listed:
        account = sorted(rule.accounts)[0]
        record = {"external_id": account, "name": f"QA {rule.key} listed account"}
        cases.append(
            CaseSpec(
                f"standard:{rule.key}",
                "standard",
                f"{rule.label()}: listed account {account}",
                record,
                expect_territory=rule.key,
            )
        )
    for rule in rules:
        record = standard_record(config, rule)
        if record is None:
            continue
        record["external_id"] = next_id("STD")
        standard[rule.key] = record
        where = (
            record.get("city") and f"{record['city']}, {record['state']} {record['postal_code']}"
        )
        cases.append(
            CaseSpec(
                f"standard:{rule.key}",
                "standard",
                f"{rule.label()}: {record.get('industry')} account"
                + (f" in {where}" if where else ""),
                record,
                expect_territory=rule.key,
            )
        )

    # 2. Boundary: both sides of every threshold.
    basis = engine.BASES.get(config.segment_basis, config.segment_basis)
    for band in config.bands:
        if band.minimum is None:
            continue
        m = band.minimum
        sides = (m, m - 1) if band.inclusive else (m, m + 1)
        for size in sides:
            if size < 0:
                continue
            segment = _expected_segment(config, size)
            rule = next((r for r in rules if segment in _segments_for(config, r)), None)
            base = dict(standard[rule.key]) if rule and rule.key in standard else {}
            base.update({config.segment_basis: size, "external_id": next_id("BND")})
            base.setdefault("industry", "Other")
            op = "≥" if band.inclusive else ">"
            cases.append(
                CaseSpec(
                    f"boundary:{band.label}:{size:.0f}",
                    "boundary",
                    f"{basis} {size:,.0f} against {band.label} {op} {m:,.0f}: {segment}",
                    base,
                    expect_segment=segment,
                    expect_territory=rule.key if rule and rule.key in standard else "",
                )
            )

    # 3. Sub-state geography of every split state.
    for state, granularity in sorted(config.granularity_by_state.items()):
        if granularity == "state":
            continue
        holders = [r for r in rules if state in r.unit_states and r.key in standard]
        for rule in holders:
            units = sorted(
                u for u in rule.units if u.startswith(f"{state}:") and _location(config, u)
            )
            if not units:
                continue
            unit = units[-1]
            record = standard_record(config, rule, unit=unit)
            if record is None:
                continue
            record["external_id"] = next_id("GEO")
            cases.append(
                CaseSpec(
                    f"geography:{rule.key}:{unit}",
                    "geography",
                    f"{geo.unit_label(unit)} ({granularity} of split {state}) → {rule.key}",
                    record,
                    expect_territory=rule.key,
                    expect_unit=unit,
                )
            )
        if not holders:
            # No territory holds a unit here (no accounts there when the run was balanced): the
            # case still checks that a ZIP code of the state lands in its sub-state unit.
            unit = next(
                (u for u in geo.state_units(state, granularity) if _location(config, u)), None
            )
            if unit is None:
                continue
            record = {"external_id": next_id("GEO"), "industry": "Other", **_location(config, unit)}
            cases.append(
                CaseSpec(
                    f"geography:{state}:{unit}",
                    "geography",
                    f"{geo.unit_label(unit)} ({granularity} of split {state})",
                    record,
                    expect_unit=unit,
                )
            )

    # 4. Named accounts bypass everything.
    decoy = next(iter(standard.values()), {})
    for i, override in enumerate(config.overrides):
        target = index.by_key.get(override.territory) if override.territory else None
        owner = override.owner or (target.team.ae if target else "")
        base = {k: v for k, v in decoy.items() if k not in ("external_id", "name", "domain")}
        probes = []
        if override.external_id:
            probes.append(("external id", {"external_id": override.external_id}))
        if override.domain:
            probes.append(
                (
                    "domain",
                    {"domain": f"https://www.{override.domain}/", "external_id": next_id("NAM")},
                )
            )
        for how, ids in probes:
            cases.append(
                CaseSpec(
                    f"named:{i}:{override.external_id}:{override.domain}:{how}",
                    "named",
                    f"{override.label()} by {how} → {owner or override.territory}",
                    {**base, **ids, "name": f"QA named {i + 1}"},
                    expect_territory=target.key if target else "",
                    expect_owner=owner,
                    expect_fallback="none" if owner else "",
                )
            )

    # 5. Missing data for every field the hierarchy uses.
    uses_segment = bool(config.bands) and (
        any(p.segments for p in config.pods) or any(r.segments for r in rules)
    )
    uses_industry = any(p.industries for p in config.pods) or any(r.industries for r in rules)
    uses_geography = any(p.regions or p.states for p in config.pods) or any(
        r.regions or r.has_geography for r in rules
    )
    if uses_segment:
        rule = next(
            (
                r
                for r in rules
                if r.key in standard
                and (r.segments or (_pod(config, r.pod) and _pod(config, r.pod).segments))
            ),
            None,
        )
        base = dict(standard[rule.key]) if rule else {"industry": "Other"}
        for label, value in (("blank", ""), ("unparseable", "n/a")):
            cases.append(
                CaseSpec(
                    f"missing:segment:{label}",
                    "missing",
                    f"{basis} {label} → segment fallback",
                    {**base, config.segment_basis: value, "external_id": next_id("MIS")},
                    expect_fallback="segment",
                )
            )
    if uses_geography:
        rule = next(
            (r for r in rules if r.key in standard and (r.has_geography or r.regions)), None
        )
        if rule is not None:
            base = {
                k: v
                for k, v in standard[rule.key].items()
                if k not in ("state", "postal_code", "city")
            }
            cases.append(
                CaseSpec(
                    "missing:geography",
                    "missing",
                    "No state, ZIP code or city → geography fallback",
                    {**base, "external_id": next_id("MIS")},
                    expect_fallback="geography",
                )
            )
            cases.append(
                CaseSpec(
                    "missing:geography:unparseable",
                    "missing",
                    "Unknown state and ZIP code (“ZZ”, “ABCDE”) → geography fallback",
                    {**base, "state": "ZZ", "postal_code": "ABCDE", "external_id": next_id("MIS")},
                    expect_fallback="geography",
                )
            )
    for state, granularity in sorted(config.granularity_by_state.items()):
        if granularity == "state":
            continue
        rule = next((r for r in rules if state in r.unit_states and r.key in standard), None)
        if rule is None:
            continue
        base = {k: v for k, v in standard[rule.key].items() if k not in ("postal_code", "city")}
        cases.append(
            CaseSpec(
                f"missing:sub_state:{state}",
                "missing",
                f"{state} without a ZIP code ({state} is split by {granularity}) → sub-state fallback",
                {**base, "state": state, "external_id": next_id("MIS")},
                expect_fallback="sub_state",
            )
        )
    if uses_industry:
        rule = next((r for r in rules if r.industries and r.key in standard), None)
        if rule is None:
            rule = next(
                (
                    r
                    for r in rules
                    if r.key in standard and _pod(config, r.pod) and _pod(config, r.pod).industries
                ),
                None,
            )
        if rule is not None:
            cases.append(
                CaseSpec(
                    "missing:industry",
                    "missing",
                    "Blank industry → industry fallback",
                    {**standard[rule.key], "industry": "", "external_id": next_id("MIS")},
                    expect_fallback="industry",
                )
            )

    # 6. A team-member change reaches the next record.
    rule = next((r for r in rules if r.key in standard), None)
    if rule is not None:
        cases.append(
            CaseSpec(
                f"team_update:{rule.key}",
                "team_update",
                f"Change the AE of {rule.key} to “{TEMP_AE}”: the next account goes to the new AE",
                {**standard[rule.key], "external_id": next_id("TEAM")},
                expect_territory=rule.key,
                expect_owner=TEMP_AE,
                setup={"territory": rule.key, "role": "ae", "name": TEMP_AE},
            )
        )
    return cases


def cases_frame(cases: list[CaseSpec]) -> pd.DataFrame:
    """The cases' records as a frame (for routing them in bulk)."""
    return engine.records_frame([c.record for c in cases])
