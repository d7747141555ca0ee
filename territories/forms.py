"""Forms of the territories pages. They validate input; services do the work."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from engagements.units import megabytes
from territories import coverage, ingest, segments, tiers, valuation
from territories.models import CapacitySettings, PlannedHire, Rep, ValuationSettings

ACCEPTED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")


def parse_amount(text: str, *, label: str) -> float:
    try:
        return tiers.parse_number(text)
    except ValueError as exc:
        raise ValidationError(f"{label}: {exc}") from None


class AccountUploadForm(forms.Form):
    file = forms.FileField(
        label="Account file (CSV or XLSX)",
        help_text="CSV (UTF-8 or Windows-1252; comma, semicolon or tab separated) or Excel .xlsx.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise ValidationError(
                f"The file is {megabytes(upload.size)} MB, over the {megabytes(limit)} MB "
                "upload limit."
            )
        suffix = PurePosixPath(upload.name.lower()).suffix
        if suffix not in ACCEPTED_SUFFIXES:
            raise ValidationError(
                f"“{upload.name}” is not a CSV or XLSX file (accepted: "
                f"{', '.join(ACCEPTED_SUFFIXES)})."
            )
        return upload


def mapping_choices() -> list[tuple[str, str]]:
    return [
        (ingest.CUSTOM, "Keep as a custom attribute"),
        (ingest.IGNORE, "Ignore this column"),
        *((f, ingest.FIELD_LABELS[f]) for f in ingest.FIELD_LABELS),
    ]


class ImportMappingForm(forms.Form):
    """One select per column of the file; plus strict mode."""

    strict = forms.BooleanField(
        required=False,
        label="Strict: import nothing unless every row is valid",
    )

    def __init__(self, *args, headers: Sequence[str], mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = list(headers)
        for index, header in enumerate(self.headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header,
                choices=mapping_choices(),
                initial=mapping.get(header, ingest.CUSTOM),
            )

    def column_fields(self):
        return [self[f"col_{i}"] for i in range(len(self.headers))]

    def mapping(self) -> dict[str, str]:
        return {h: self.cleaned_data[f"col_{i}"] for i, h in enumerate(self.headers)}

    def clean(self):
        cleaned = super().clean()
        if all(f"col_{i}" in cleaned for i in range(len(self.headers))):
            problems = ingest.mapping_problems(self.mapping(), self.headers)
            if problems:
                raise ValidationError(problems)
        return cleaned


class BandForm(forms.Form):
    label = forms.CharField(max_length=60, required=False)
    operator = forms.ChoiceField(
        choices=[("gte", "≥ (includes the threshold)"), ("gt", "> (above the threshold)")],
        required=False,
        initial="gte",
    )
    minimum = forms.CharField(
        required=False,
        max_length=30,
        help_text="Blank for the last segment.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "e.g. 1,000,000,000"}),
    )


BandFormSet = forms.formset_factory(BandForm, extra=1, max_num=8, absolute_max=8)


class SegmentsForm(forms.Form):
    basis = forms.ChoiceField(choices=list(segments.BASES.items()), label="Cut on")

    def scheme(self, band_forms) -> segments.SegmentScheme:
        bands = []
        for number, form in enumerate(band_forms, start=1):
            data = form.cleaned_data
            label = (data.get("label") or "").strip()
            minimum_text = (data.get("minimum") or "").strip()
            if not label and not minimum_text:
                continue  # an empty row of the formset
            minimum = (
                parse_amount(minimum_text, label=f"Segment {number} threshold")
                if minimum_text
                else None
            )
            bands.append(segments.Band(label, minimum, data.get("operator", "gte") != "gt"))
        return segments.SegmentScheme(self.cleaned_data["basis"], tuple(bands))


class TierRuleForm(forms.Form):
    tier = forms.ChoiceField(choices=[(t, tiers.TIER_LABELS[t]) for t in tiers.TIERS])
    name = forms.CharField(
        max_length=120, required=False, help_text="Optional, e.g. “Core verticals, mid-size”."
    )


class ConditionForm(forms.Form):
    field = forms.ChoiceField(choices=[])
    op = forms.ChoiceField(choices=list(tiers.OPERATORS.items()), label="Operator")
    value = forms.CharField(
        max_length=2000,
        required=False,
        help_text="Lists separated by commas; “100 - 500” for between.",
    )

    def __init__(self, *args, field_choices: Sequence[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", "—"), *field_choices]
        self.fields["field"].required = False

    def clean(self):
        cleaned = super().clean()
        field = cleaned.get("field")
        if not field:
            cleaned["condition"] = None
            return cleaned
        try:
            cleaned["condition"] = tiers.parse_condition(
                field, cleaned.get("op", ""), cleaned.get("value", "")
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return cleaned


def condition_formset(data=None, *, initial=None, field_choices, extra: int = 2):
    formset_class = forms.formset_factory(ConditionForm, extra=extra, max_num=12, absolute_max=12)
    return formset_class(
        data, initial=initial, prefix="cond", form_kwargs={"field_choices": field_choices}
    )


class ValuationSettingsForm(forms.ModelForm):
    class Meta:
        model = ValuationSettings
        fields = [
            "method",
            "statistic",
            "hedge_factor",
            "expansion_factor",
            "min_customers",
            "scale_basis",
        ]
        labels = {
            "hedge_factor": "Hedge factor (prospects)",
            "expansion_factor": "Expansion factor (customers)",
            "min_customers": "Minimum customers per benchmark",
            "scale_basis": "Scaled method: value",
        }
        help_texts = {
            "hedge_factor": "Above 0, below 1: a prospect is worth this share of the benchmark.",
            "expansion_factor": "0.2 = customers are worth their ACV plus 20 %.",
            "min_customers": "Fewer customers in a segment × tier: the segment's figure is used.",
        }
        widgets = {
            "hedge_factor": forms.NumberInput(attrs={"step": "0.05", "min": "0.05", "max": "0.95"}),
            "expansion_factor": forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "10"}),
        }

    def __init__(self, *args, segment_labels: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.segment_labels = list(segment_labels)
        caps = (self.instance.caps or {}) if self.instance else {}
        for index, label in enumerate(self.segment_labels):
            cap = caps.get(label)
            self.fields[f"cap_{index}"] = forms.CharField(
                label=f"Cap for {label}",
                required=False,
                initial="" if cap is None else f"{cap:,.0f}",
                help_text="Scaled method: highest value of one prospect. Blank: no cap.",
                widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            )

    def cap_fields(self):
        return [self[f"cap_{i}"] for i in range(len(self.segment_labels))]

    def params(self) -> valuation.ValuationParams:
        data = self.cleaned_data
        caps = {}
        for index, label in enumerate(self.segment_labels):
            text = (data.get(f"cap_{index}") or "").strip()
            if text:
                caps[label] = parse_amount(text, label=f"Cap for {label}")
        return valuation.ValuationParams(
            method=data["method"],
            statistic=data["statistic"],
            hedge_factor=float(data["hedge_factor"]),
            expansion_factor=float(data["expansion_factor"]),
            min_customers=int(data["min_customers"]),
            scale_basis=data["scale_basis"],
            caps=caps,
        )

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            problems = self.params().problems()
            if problems:
                raise ValidationError(problems)
        return cleaned


class CoverageForm(forms.Form):
    """Touches, channel and accounts per rep for every segment × tier."""

    def __init__(self, *args, rules: Sequence[coverage.CoverageRule], **kwargs):
        super().__init__(*args, **kwargs)
        self.rules = list(rules)
        for index, rule in enumerate(self.rules):
            name = f"{rule.segment} {rule.tier}"
            self.fields[f"touches_{index}"] = forms.FloatField(
                min_value=0, max_value=365, initial=rule.touches_per_year, label=f"{name} touches"
            )
            self.fields[f"channel_{index}"] = forms.CharField(
                max_length=60, required=False, initial=rule.channel, label=f"{name} channel"
            )
            self.fields[f"ratio_{index}"] = forms.FloatField(
                min_value=0.1,
                max_value=100000,
                required=False,
                initial=rule.accounts_per_rep,
                label=f"{name} accounts per rep",
            )

    def rows(self):
        return [
            (rule, self[f"touches_{i}"], self[f"channel_{i}"], self[f"ratio_{i}"])
            for i, rule in enumerate(self.rules)
        ]

    def coverage_rules(self) -> list[coverage.CoverageRule]:
        data = self.cleaned_data
        return [
            coverage.CoverageRule(
                rule.segment,
                rule.tier,
                float(data[f"touches_{i}"]),
                data[f"channel_{i}"].strip(),
                data[f"ratio_{i}"],
            )
            for i, rule in enumerate(self.rules)
        ]


class CapacityForm(forms.ModelForm):
    class Meta:
        model = CapacitySettings
        fields = ["new_hire", "ramping", "ramped", "senior"]
        labels = dict(coverage.RAMP_STATES)
        help_texts = {k: f"Seed 003: {v}." for k, v in coverage.CAPACITY_RANGES.items()}

    def clean(self):
        cleaned = super().clean()
        for state in coverage.RAMP_STATES:
            value = cleaned.get(state)
            if value is not None and not 0 < value <= 500:
                self.add_error(state, "Between 1 and 500 accounts.")
        return cleaned


def _segment_choices(labels: Sequence[str], current: str = "") -> list[tuple[str, str]]:
    choices = [("", "—"), *((label, label) for label in labels)]
    if current and current not in labels:
        choices.append((current, f"{current} (no longer a segment)"))
    return choices


class _RosterForm(forms.ModelForm):
    """A roster row: the segment is chosen among the engagement's segments."""

    def __init__(self, *args, segment_labels: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"] = forms.ChoiceField(
            choices=_segment_choices(segment_labels, self.instance.segment),
            required=False,
        )

    def clean_home_state(self):
        return self.cleaned_data["home_state"].strip().upper()


class RepForm(_RosterForm):
    class Meta:
        model = Rep
        fields = [
            "name",
            "email",
            "role",
            "segment",
            "ramp_state",
            "capacity",
            "home_region",
            "home_state",
            "home_postal_code",
            "start_date",
            "active",
        ]
        widgets = {"start_date": forms.DateInput(attrs={"type": "date"})}


class PlannedHireForm(_RosterForm):
    class Meta:
        model = PlannedHire
        fields = [
            "title",
            "role",
            "segment",
            "home_region",
            "home_state",
            "home_postal_code",
            "start_date",
            "notes",
        ]
        widgets = {"start_date": forms.DateInput(attrs={"type": "date"})}
