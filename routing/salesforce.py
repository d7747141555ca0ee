"""The territory object as Salesforce sees it: the ``Territory__c`` custom object's fields, Data
Loader rows, and the tech spec (object schema, evaluation order, edge-case rules, build
sequence). Pure: no Django import.

Team members are exported as names (Text fields): Salesforce user ids differ per org, so the
build step maps names to users (the field list says so) rather than this file guessing ids.
Multi-value criteria are ";"-separated, the form a multi-select picklist and a flow's
``CONTAINS`` check both read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from routing import engine
from territories import geo

# engagements.exports.safe_cell puts an apostrophe before every text cell that starts with one
# of these, so a spreadsheet program never runs it as a formula (a test keeps the two equal).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD_NOTE = (
    "A value starting with =, +, -, @, a tab or a carriage return is exported with a leading "
    "apostrophe (') so that spreadsheet programs do not run it as a formula. Data Loader "
    "imports the apostrophe literally: remove it before loading (or correct those records "
    "after loading)."
)
# Territory sources that are free text (names, keys, labels typed by people or taken from the
# CRM), so their cells can start with a formula character and carry the apostrophe. The others
# are codes, numbers, dates or true/false.
FREE_TEXT_SOURCES = frozenset(
    ("name", "key", "pod", "segments", "cities", "industries", "ae", "sdr", "se", "csm")
)


@dataclass(frozen=True)
class SfField:
    label: str
    api_name: str
    type: str
    length: str
    description: str
    source: str  # attribute of a territory row (dict) that fills it

    @property
    def guarded(self) -> bool:
        """Whether its CSV cells can carry the formula guard's leading apostrophe."""
        return self.source in FREE_TEXT_SOURCES


TERRITORY_OBJECT = "Territory__c"
TERRITORY_FIELDS: tuple[SfField, ...] = (
    SfField("Territory Name", "Name", "Text", "80", "Territory name shown to users.", "name"),
    SfField(
        "Territory Key",
        "Territory_Key__c",
        "Text (External ID, unique)",
        "60",
        "Stable key from the approved map; the upsert key for Data Loader.",
        "key",
    ),
    SfField("Pod", "Pod__c", "Text", "80", "Branch of the segmentation hierarchy.", "pod"),
    SfField(
        "Size Segment",
        "Size_Segment__c",
        "Picklist (multi-select)",
        "",
        "Segments the territory takes (blank: any).",
        "segments",
    ),
    SfField(
        "Region", "Region__c", "Picklist (multi-select)", "", "Regions (blank: any).", "regions"
    ),
    SfField(
        "States",
        "States__c",
        "Long Text Area",
        "32768",
        "Whole states, two-letter codes.",
        "states",
    ),
    SfField(
        "Counties",
        "Counties__c",
        "Long Text Area",
        "32768",
        "Sub-region: county FIPS codes (5 digits).",
        "counties",
    ),
    SfField(
        "ZIP Prefixes",
        "Zip_Prefixes__c",
        "Long Text Area",
        "32768",
        "Sub-region: 3-digit ZIP prefixes.",
        "zip3s",
    ),
    SfField(
        "Cities",
        "Cities__c",
        "Long Text Area",
        "32768",
        "Sub-region: cities as “City, ST”.",
        "cities",
    ),
    SfField(
        "Industry",
        "Industry__c",
        "Long Text Area",
        "32768",
        "Industries (blank: any).",
        "industries",
    ),
    SfField(
        "AE",
        "AE__c",
        "Text",
        "150",
        "Account executive: the owner of routed records. Map to a User lookup at build time.",
        "ae",
    ),
    SfField("SDR", "SDR__c", "Text", "150", "Sales development rep.", "sdr"),
    SfField("SE", "SE__c", "Text", "150", "Sales engineer.", "se"),
    SfField("CSM", "CSM__c", "Text", "150", "Customer success manager.", "csm"),
    SfField(
        "Priority",
        "Priority__c",
        "Number(4, 0)",
        "",
        "Lower numbers are evaluated first when territories overlap.",
        "priority",
    ),
    SfField("Active", "Active__c", "Checkbox", "", "Inactive territories never route.", "active"),
    SfField(
        "Effective From", "Effective_From__c", "Date", "", "First day it routes.", "effective_from"
    ),
    SfField(
        "Effective To",
        "Effective_To__c",
        "Date",
        "",
        "Last day it routes (blank: open).",
        "effective_to",
    ),
    SfField(
        "Account List",
        "Account_List__c",
        "Checkbox",
        "",
        "Account-level territory: takes only the accounts assigned to it by external id.",
        "has_accounts",
    ),
)
OVERRIDE_HEADER = (
    "Account_External_Id__c",
    "Domain__c",
    "Territory_Key__c",
    "Owner__c",
    "Note__c",
    "Active__c",
)
ACCOUNT_LIST_HEADER = ("Account_External_Id__c", "Territory_Key__c")
# The columns of those two files that can carry the guard's apostrophe (external ids such as
# "-0042", names, notes; Active__c is true/false).
OVERRIDE_GUARDED = (
    "Account_External_Id__c",
    "Domain__c",
    "Territory_Key__c",
    "Owner__c",
    "Note__c",
)
ACCOUNT_LIST_GUARDED = ACCOUNT_LIST_HEADER


def _joined(values: Iterable[str]) -> str:
    return ";".join(values)


def split_units(units: Iterable[str]) -> dict[str, list[str]]:
    """Sub-state unit ids by kind: county FIPS, ZIP prefixes, "City, ST"."""
    out: dict[str, list[str]] = {"counties": [], "zip3s": [], "cities": []}
    for uid in sorted(units):
        kind = geo.unit_kind(uid)
        if kind == "county":
            out["counties"].append(uid.split(":C", 1)[1])
        elif kind == "zip3":
            out["zip3s"].append(uid[-3:])
        elif kind == "city":
            out["cities"].append(f"{uid.split(':', 2)[2]}, {uid[:2]}")
    return out


def territory_row(territory: Mapping[str, Any]) -> list[Any]:
    """One Data Loader row from a territory as a dict (TerritoryRecord fields + has_accounts)."""
    values = dict(territory)
    values.update(split_units(territory.get("units", [])))
    row = []
    for f in TERRITORY_FIELDS:
        value = values.get(f.source)
        if isinstance(value, (list, tuple)):
            value = _joined(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, date):
            value = value.isoformat()
        row.append("" if value is None else value)
    return row


def territory_header() -> list[str]:
    return [f.api_name for f in TERRITORY_FIELDS]


def field_list_rows() -> list[list[str]]:
    return [
        [
            f.label,
            f.api_name,
            f.type,
            f.length,
            f.description,
            f"May start with an apostrophe added by the export. {GUARD_NOTE}" if f.guarded else "",
        ]
        for f in TERRITORY_FIELDS
    ]


FIELD_LIST_HEADER = ("Field Label", "API Name", "Type", "Length", "Description", "Formula Guard")


def guarded_fields() -> dict[str, list[str]]:
    """Per exported file, the columns whose cells can carry the guard's leading apostrophe."""
    return {
        "Territory__c records": [f.api_name for f in TERRITORY_FIELDS if f.guarded],
        "named-account overrides": list(OVERRIDE_GUARDED),
        "account lists": list(ACCOUNT_LIST_GUARDED),
    }


def evaluation_order(config: engine.RoutingConfig, cuts: Iterable[str]) -> list[dict[str, str]]:
    """The assignment flow, step by step, as this engagement's territory object defines it."""
    basis = engine.BASES.get(config.segment_basis, config.segment_basis)
    bands = "; ".join(
        f"{b.label} {'≥' if b.inclusive else '>'} {b.minimum:,.0f}"
        if b.minimum is not None
        else f"{b.label}: the rest"
        for b in config.bands
    )
    split = ", ".join(
        f"{s} by {g}" for s, g in sorted(config.granularity_by_state.items()) if g != "state"
    )
    pods = " → ".join(p.label or p.key for p in config.pods)
    steps = [
        (
            "Named-account override",
            "Match Account_External_Id__c or Domain__c of an active override; if found, assign its owner (or its territory's team) and stop.",
        ),
        (
            "Account lists",
            "If a territory lists the account's external id, assign that territory's team and stop.",
        ),
        (
            "Segment",
            f"Read {basis}; bands as approved: {bands or 'none'}. Blank or unparseable: segment fallback when a candidate needs it.",
        ),
        (
            "Geography",
            "State from the State field, else from the ZIP code; region from the state"
            + (f"; sub-state unit from the ZIP code for split states ({split})" if split else "")
            + ". Unknown: region/state/sub-state fallback when a candidate needs it.",
        ),
        (
            "Industry",
            "Industry compared case-insensitively. Blank: industry fallback when a candidate needs it.",
        ),
        (
            "Pod",
            f"The first pod in hierarchy order whose criteria match: {pods or '(no pods: all territories are candidates)'}.",
        ),
        (
            "Territory lookup",
            "Among the pod's active territories effective today, ordered by Priority__c, then the most specific geography (sub-state units, then states, then none), then key, the first whose criteria all hold.",
        ),
        (
            "Owner and team",
            "Owner = AE__c; SDR__c, SE__c and CSM__c travel with the record. A territory without an AE uses the owner fallback.",
        ),
    ]
    return [{"step": str(i + 1), "name": n, "rule": r} for i, (n, r) in enumerate(steps)] + (
        [{"step": "", "name": "Hierarchy cuts", "rule": " → ".join(cuts)}] if cuts else []
    )


def edge_case_rules(config: engine.RoutingConfig) -> list[dict[str, str]]:
    fallbacks = []
    for level in engine.FALLBACK_LEVELS:
        target = config.fallbacks.get(level)
        where = target.describe() if target else f"queue “{config.default_queue}” (default)"
        fallbacks.append({"case": engine.FALLBACK_LABELS[level], "rule": where})
    guard = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in guarded_fields().items())
    return [
        {
            "case": "Formula guard in the CSV files",
            "rule": f"{GUARD_NOTE} Columns that can carry it — {guard}.",
        },
        {
            "case": "Named accounts",
            "rule": "Bypass all other logic, matched by external id first, then domain (normalised: no scheme, www., path or port; e-mail addresses give their domain).",
        },
        {
            "case": "Boundary accounts",
            "rule": "A size exactly on a threshold belongs to the band whose boundary is inclusive (≥); with an exclusive boundary (>) it belongs to the band below.",
        },
        {
            "case": "Missing data",
            "rule": "Evaluated lazily: a blank field matters only when the first candidate not ruled out by known data needs it; then that level's fallback applies.",
        },
        {
            "case": "Sub-state geography",
            "rule": "A split state's record whose ZIP code is missing, unknown or in another state cannot be placed below the state: sub-state fallback.",
        },
        {
            "case": "Outside the US",
            "rule": "A country other than the US (or blank) makes the geography unknown: region/state fallback.",
        },
        {
            "case": "Overlapping territories",
            "rule": "Priority__c first (lower wins), then the most specific geography, then the key.",
        },
        {
            "case": "Account-level territories",
            "rule": "Take only the accounts on their list; a new account in such a pod goes to the territory fallback until it is assigned.",
        },
        {
            "case": "Partner-sourced records",
            "rule": "Not routed by geography: add a named-account override or list the account on the partner territory.",
        },
        *fallbacks,
    ]


BUILD_SEQUENCE = (
    (
        "Territory object",
        "Create Territory__c with the fields of the field list; page layout for easy editing.",
    ),
    ("Territory records", "Load the territory CSV with Data Loader (upsert on Territory_Key__c)."),
    (
        "Assignment flow",
        "Record-triggered flow on Account/Lead: evaluate the steps of the evaluation order, look up Territory__c, assign owner and team.",
    ),
    (
        "Edge cases",
        "Named-account overrides (load the overrides CSV), account lists, missing-data fallbacks, sub-state routing for split states.",
    ),
    (
        "Testing",
        "Run the QA suite's cases through the flow; every case must pass before the engineering sign-off.",
    ),
)


def tech_spec(
    *,
    config: engine.RoutingConfig,
    cuts: Iterable[str],
    territories: int,
    overrides: int,
    listed_accounts: int,
) -> dict[str, Any]:
    """Plain data for the Tech Spec document (the handoff package renders it)."""
    return {
        "object": {
            "name": TERRITORY_OBJECT,
            "fields": [{**f.__dict__, "guarded": f.guarded} for f in TERRITORY_FIELDS],
            "relationships": [
                "AE__c, SDR__c, SE__c, CSM__c: names to map to User lookups at build time.",
                "Named_Account_Override__c: Territory_Key__c refers to Territory__c.Territory_Key__c.",
                "Territory_Account__c: Account_External_Id__c → Territory_Key__c (account lists).",
            ],
            "record_types": ["One record type: Territory."],
        },
        "evaluation_order": evaluation_order(config, cuts),
        "edge_cases": edge_case_rules(config),
        "build_sequence": [
            {"step": str(i + 1), "name": n, "detail": d} for i, (n, d) in enumerate(BUILD_SEQUENCE)
        ],
        "granularity_by_state": dict(sorted(config.granularity_by_state.items())),
        "counts": {
            "territories": territories,
            "named_accounts": overrides,
            "listed_accounts": listed_accounts,
            "pods": len(config.pods),
        },
        "version": config.version,
    }
