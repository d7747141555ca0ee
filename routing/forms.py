"""Forms of the routing pages. Geography is typed the way people write it ("CA, NY",
"06037", "940", "San Jose, CA") and stored as ``territories.geo`` unit ids."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings

from engagements.units import megabytes
from routing import engine
from routing.models import QACase, TerritoryRecord
from territories import geo

_SPLIT = re.compile(r"[,;\n]+")


def _items(text: str) -> list[str]:
    return [item.strip() for item in _SPLIT.split(text or "") if item.strip()]


def parse_states(text: str) -> list[str]:
    states, bad = [], []
    for item in _items(text):
        state = geo.normalize_state(item)
        (states.append(state) if state else bad.append(item))
    if bad:
        raise forms.ValidationError(f"Not a US state: {', '.join(bad)}.")
    return sorted(set(states))


def parse_counties(text: str) -> list[str]:
    units, bad = [], []
    for item in _items(text):
        fips = item.zfill(5) if item.isdigit() else item
        state = geo.FIPS_STATE.get(fips[:2]) if re.fullmatch(r"\d{5}", fips) else None
        uid = f"{state}:C{fips}" if state else ""
        if uid and _known(uid):
            units.append(uid)
        else:
            bad.append(item)
    if bad:
        raise forms.ValidationError(f"Not a county FIPS code (5 digits): {', '.join(bad)}.")
    return units


def parse_zip3s(text: str) -> list[str]:
    units, bad = [], []
    for item in _items(text):
        found = (
            [f"{s}:Z{item}" for s in geo.STATES if _known(f"{s}:Z{item}")]
            if re.fullmatch(r"\d{3}", item)
            else []
        )
        (units.extend(found) if found else bad.append(item))
    if bad:
        raise forms.ValidationError(f"Not a 3-digit ZIP prefix in use: {', '.join(bad)}.")
    return units


def parse_cities(text: str) -> list[str]:
    units, bad = [], []
    for item in [i.strip() for i in re.split(r"[;\n]+", text or "") if i.strip()]:
        name, _, state_text = item.rpartition(",")
        state = geo.normalize_state(state_text.strip())
        uid = None
        if name.strip() and state:
            unit = geo.resolve_unit(
                state, None, name.strip(), granularity_by_state={state: "city"}
            ).unit
            uid = unit if ":CITY:" in unit else None
        (units.append(uid) if uid else bad.append(item))
    if bad:
        raise forms.ValidationError(
            f"Not a city as “City, ST” (one per line or separated by ;): {'; '.join(bad)}."
        )
    return units


def _known(uid: str) -> bool:
    try:
        return geo.is_known_unit(uid)
    except ValueError:
        return False


def units_text(units: list[str]) -> dict[str, str]:
    """The form's initial geography fields for stored unit ids."""
    counties, zips, cities = [], [], []
    for uid in units:
        kind = geo.unit_kind(uid)
        if kind == "county":
            counties.append(uid.split(":C", 1)[1])
        elif kind == "zip3":
            zips.append(uid[-3:])
        elif kind == "city":
            cities.append(f"{uid.split(':', 2)[2]}, {uid[:2]}")
    return {
        "counties": ", ".join(counties),
        "zip3s": ", ".join(sorted(set(zips))),
        "cities": "; ".join(cities),
    }


class TerritoryForm(forms.Form):
    key = forms.CharField(max_length=60, help_text="Stable id; the Salesforce upsert key.")
    name = forms.CharField(max_length=200)
    pod = forms.ChoiceField(required=False, help_text="The hierarchy branch it belongs to.")
    segments = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: any size."
    )
    regions = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(r, r) for r in sorted(set(geo.STATE_REGION.values()))],
        help_text="None ticked: any region.",
    )
    industries = forms.CharField(required=False, help_text="Comma-separated; blank: any industry.")
    states = forms.CharField(required=False, help_text="Whole states, e.g. “TX, OK”.")
    counties = forms.CharField(
        required=False, help_text="County FIPS codes for states split by county, e.g. “06037”."
    )
    zip3s = forms.CharField(
        label="ZIP prefixes", required=False, help_text="3-digit prefixes, e.g. “940, 941”."
    )
    cities = forms.CharField(
        required=False, help_text="“San Jose, CA; Oakland, CA” for states split by city."
    )
    ae = forms.CharField(label="AE", max_length=150, required=False)
    sdr = forms.CharField(label="SDR", max_length=150, required=False)
    se = forms.CharField(label="SE", max_length=150, required=False)
    csm = forms.CharField(label="CSM", max_length=150, required=False)
    priority = forms.IntegerField(min_value=0, max_value=9999, initial=100)
    active = forms.BooleanField(required=False, initial=True)
    effective_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Last day (inclusive); blank: open.",
    )
    accounts = forms.CharField(
        label="Account list",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="External ids, one per line or comma-separated. A territory with a list "
        "takes only those accounts.",
    )

    def __init__(self, *args, pods=(), bands=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pod"].choices = [("", "— no pod: a candidate in every pod —")] + [
            (p["key"], p.get("label") or p["key"]) for p in pods
        ]
        self.fields["segments"].choices = [(b, b) for b in bands]

    @classmethod
    def initial_for(cls, territory: TerritoryRecord, accounts: list[str]) -> dict:
        return {
            **{
                name: getattr(territory, name)
                for name in (
                    "key",
                    "name",
                    "pod",
                    "segments",
                    "regions",
                    "ae",
                    "sdr",
                    "se",
                    "csm",
                    "priority",
                    "active",
                    "effective_from",
                    "effective_to",
                )
            },  # fmt: skip
            "industries": ", ".join(territory.industries),
            "states": ", ".join(territory.states),
            **units_text(territory.units),
            "accounts": "\n".join(accounts),
        }

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", key):
            raise forms.ValidationError("Letters, digits, “-”, “_” and “.” only.")
        return key

    def clean_states(self) -> list[str]:
        return parse_states(self.cleaned_data["states"])

    def clean_counties(self) -> list[str]:
        return parse_counties(self.cleaned_data["counties"])

    def clean_zip3s(self) -> list[str]:
        return parse_zip3s(self.cleaned_data["zip3s"])

    def clean_cities(self) -> list[str]:
        return parse_cities(self.cleaned_data["cities"])

    def clean_industries(self) -> list[str]:
        return _items(self.cleaned_data["industries"])

    def values(self) -> dict:
        data = self.cleaned_data
        units = sorted({*data["counties"], *data["zip3s"], *data["cities"]})
        return {
            "key": data["key"],
            "name": data["name"].strip(),
            "pod": data["pod"],
            "segments": list(data["segments"]),
            "regions": list(data["regions"]),
            "industries": data["industries"],
            "states": data["states"],
            "units": units,
            "ae": data["ae"].strip(),
            "sdr": data["sdr"].strip(),
            "se": data["se"].strip(),
            "csm": data["csm"].strip(),
            "priority": data["priority"],
            "active": data["active"],
            "effective_from": data["effective_from"],
            "effective_to": data["effective_to"],
        }

    def account_ids(self) -> list[str]:
        return _items(self.cleaned_data["accounts"])


class OverrideForm(forms.Form):
    external_id = forms.CharField(max_length=100, required=False, label="External id")
    domain = forms.CharField(max_length=200, required=False)
    territory_key = forms.ChoiceField(required=False, label="Territory")
    owner = forms.CharField(
        max_length=150, required=False, help_text="Blank: the territory's AE owns it."
    )
    note = forms.CharField(max_length=300, required=False)
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, territory_keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["territory_key"].choices = [("", "— none —")] + [(k, k) for k in territory_keys]


class SettingsForm(forms.Form):
    default_queue = forms.CharField(
        max_length=120, help_text="Takes every record whose level has no fallback of its own."
    )
    rollout_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day routing went live; accuracy audits sample accounts created since.",
    )

    def __init__(self, *args, territory_keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— a queue —")] + [(k, k) for k in territory_keys]
        for level in engine.FALLBACK_LEVELS:
            self.fields[f"{level}_territory"] = forms.ChoiceField(
                required=False, choices=choices, label=engine.FALLBACK_LABELS[level]
            )
            self.fields[f"{level}_queue"] = forms.CharField(
                required=False, max_length=120, label="Queue"
            )

    def level_fields(self):
        return [
            (engine.FALLBACK_LABELS[level], self[f"{level}_territory"], self[f"{level}_queue"])
            for level in engine.FALLBACK_LEVELS
        ]

    def fallbacks(self) -> dict[str, engine.Fallback]:
        return {
            level: engine.Fallback(
                territory=self.cleaned_data[f"{level}_territory"],
                queue=self.cleaned_data[f"{level}_queue"].strip(),
            )
            for level in engine.FALLBACK_LEVELS
        }


class RecordForm(forms.Form):
    """An account record: the fields the engine reads, typed as text (as a CRM sends them)."""

    external_id = forms.CharField(max_length=100, required=False, label="External id")
    name = forms.CharField(max_length=300, required=False)
    domain = forms.CharField(max_length=200, required=False)
    annual_revenue = forms.CharField(max_length=40, required=False, label="Annual revenue (USD)")
    employees = forms.CharField(max_length=20, required=False)
    industry = forms.CharField(max_length=120, required=False)
    country = forms.CharField(max_length=60, required=False)
    state = forms.CharField(max_length=60, required=False)
    city = forms.CharField(max_length=120, required=False)
    postal_code = forms.CharField(max_length=20, required=False, label="Postal code")

    def record(self) -> dict[str, str]:
        return {k: v for k, v in self.cleaned_data.items() if k in engine.RECORD_FIELDS and v}


class QACaseForm(RecordForm):
    category = forms.ChoiceField(choices=QACase.Category.choices)
    case_name = forms.CharField(max_length=200, label="Case name")
    expect_territory = forms.CharField(max_length=60, required=False, label="Expected territory")
    expect_owner = forms.CharField(max_length=150, required=False, label="Expected owner")
    expect_segment = forms.CharField(max_length=60, required=False, label="Expected segment")
    expect_unit = forms.CharField(max_length=80, required=False, label="Expected geo unit")
    expect_fallback = forms.ChoiceField(
        required=False,
        label="Expected fallback",
        choices=[
            ("", "— not checked —"),
            ("none", "none (no fallback)"),
            ("geography", "any geography level"),
        ]
        + [(level, level) for level in engine.FALLBACK_LEVELS],
    )
    setup_territory = forms.CharField(
        max_length=60, required=False, label="Team update: territory key"
    )
    setup_role = forms.ChoiceField(
        required=False,
        choices=[("", "—")] + [(r, engine.TEAM_LABELS[r]) for r in engine.TEAM_ROLES],
    )
    setup_name = forms.CharField(max_length=150, required=False, label="Team update: new name")

    field_order = ["category", "case_name"]

    @classmethod
    def initial_for(cls, case: QACase) -> dict:
        return {
            **{k: v for k, v in case.record.items() if k in engine.RECORD_FIELDS},
            "category": case.category,
            "case_name": case.name,
            "expect_territory": case.expect_territory,
            "expect_owner": case.expect_owner,
            "expect_segment": case.expect_segment,
            "expect_unit": case.expect_unit,
            "expect_fallback": case.expect_fallback,
            "setup_territory": case.setup.get("territory", ""),
            "setup_role": case.setup.get("role", ""),
            "setup_name": case.setup.get("name", ""),
        }

    def clean(self):
        data = super().clean()
        if data.get("category") == QACase.Category.TEAM_UPDATE:
            for name in ("setup_territory", "setup_role", "setup_name"):
                if not data.get(name):
                    self.add_error(name, "A team-member update case needs this.")
        expectations = (
            "expect_territory",
            "expect_owner",
            "expect_segment",
            "expect_unit",
            "expect_fallback",
        )
        if not any(data.get(n) for n in expectations):
            raise forms.ValidationError(
                "Give at least one expectation, or the case checks nothing."
            )
        return data

    def values(self) -> dict:
        data = self.cleaned_data
        setup = (
            {
                "territory": data["setup_territory"],
                "role": data["setup_role"],
                "name": data["setup_name"],
            }
            if data["category"] == QACase.Category.TEAM_UPDATE
            else {}
        )
        return {
            "category": data["category"],
            "name": data["case_name"],
            "record": self.record(),
            "expect_territory": data["expect_territory"].strip(),
            "expect_owner": data["expect_owner"].strip(),
            "expect_segment": data["expect_segment"].strip(),
            "expect_unit": data["expect_unit"].strip(),
            "expect_fallback": data["expect_fallback"],
            "setup": setup,
        }


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV or XLSX with a header row.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {megabytes(upload.size)} MB, over the "
                f"{megabytes(settings.MAX_UPLOAD_BYTES)} MB limit."
            )
        return upload


class AuditForm(UploadForm):
    rollout_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Accounts created on or after this day are sampled.",
    )
    sample_size = forms.IntegerField(min_value=50, max_value=100_000, initial=50)


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=120, help_text="Who uses it, e.g. “Salesforce lead flow (production)”."
    )
