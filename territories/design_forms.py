"""Forms of the territory design pages (hierarchy, runs, plan settings). They validate input;
the services in ``territories.design`` do the work."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.core.exceptions import ValidationError

from territories import geo
from territories.hierarchy import ATOMS, CUTS, REGIONS, PodSpec, slugify

OPTIONAL_CUTS = [c for c in CUTS if c != "named_accounts"]


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip())
    )


class HierarchyForm(forms.Form):
    """The cut order (named accounts always first), the named-accounts list, the split share."""

    named_accounts = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="More named accounts",
        help_text="One per line: external id or domain, owner. Accounts whose CRM record has a "
        "named-account owner are named already; a line with no owner un-names one.",
    )
    split_share = forms.FloatField(
        min_value=5,
        max_value=500,
        label="Propose a split above (% of a territory's target)",
        help_text="A state (or county) holding more than this share of its pod's per-territory "
        "value target is proposed for a finer cut.",
    )

    def __init__(self, *args, cuts: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        for cut in OPTIONAL_CUTS:
            self.fields[f"cut_{cut}"] = forms.IntegerField(
                required=False,
                min_value=2,
                max_value=9,
                label=CUTS[cut],
                initial=(list(cuts).index(cut) + 1) if cut in cuts else None,
            )

    def cut_fields(self):
        return [self[f"cut_{c}"] for c in OPTIONAL_CUTS]

    def cuts(self) -> tuple[str, ...]:
        chosen = [
            (self.cleaned_data[f"cut_{c}"], i, c)
            for i, c in enumerate(OPTIONAL_CUTS)
            if self.cleaned_data.get(f"cut_{c}") is not None
        ]
        return ("named_accounts", *(c for _, _, c in sorted(chosen)))


class PodForm(forms.Form):
    """One pod of the hierarchy (a row of the pods formset)."""

    position = forms.IntegerField(
        required=False, min_value=1, widget=forms.NumberInput(attrs={"size": 3})
    )
    label = forms.CharField(max_length=120, required=False)
    key = forms.CharField(
        max_length=60, required=False, help_text="Stable id; from the name when blank."
    )
    segments = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    regions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=[(r, r) for r in REGIONS]
    )
    states = forms.CharField(required=False, max_length=300, help_text="E.g. CA, OR (blank: any).")
    industries = forms.CharField(
        required=False, max_length=500, help_text="Comma separated (blank: any)."
    )
    atom = forms.ChoiceField(choices=[(k, v.split(" (")[0]) for k, v in ATOMS.items()])
    seats = forms.IntegerField(min_value=1, max_value=500, required=False)
    reps = forms.MultipleChoiceField(required=False, widget=forms.SelectMultiple(attrs={"size": 5}))
    granularity = forms.CharField(
        required=False,
        max_length=600,
        label="Split states",
        help_text="E.g. CA=county, NY=zip3 (state, county, zip3 or city).",
    )

    def __init__(self, *args, segments: Sequence[str] = (), reps: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segments"].choices = [(s, s) for s in segments]
        self.fields["reps"].choices = [(r, r) for r in reps]

    def clean_states(self):
        states = []
        for part in _split_list(self.cleaned_data["states"]):
            code = geo.normalize_state(part)
            if code is None:
                raise ValidationError(f"“{part}” is not a US state.")
            states.append(code)
        return tuple(states)

    def clean_granularity(self):
        out = {}
        for part in _split_list(self.cleaned_data["granularity"]):
            state, sep, level = part.partition("=")
            code = geo.normalize_state(state.strip())
            level = level.strip().lower()
            if not sep or code is None or level not in geo.GRANULARITIES:
                raise ValidationError(
                    f"“{part}”: write STATE=granularity with one of {', '.join(geo.GRANULARITIES)}."
                )
            if level != "state":
                out[code] = level
        return out

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not data.get("label") and not data.get("key")

    def pod(self) -> PodSpec:
        data = self.cleaned_data
        reps = tuple(data["reps"])
        return PodSpec(
            key=(data["key"] or slugify(data["label"])).strip(),
            label=data["label"].strip(),
            segments=tuple(data["segments"]),
            regions=tuple(data["regions"]),
            states=data["states"],
            industries=_split_list(data["industries"]),
            seats=data["seats"] or max(len(reps), 1),
            atom=data["atom"],
            granularity_by_state=data["granularity"],
            reps=reps,
        )

    @staticmethod
    def initial_for(pod: PodSpec, position: int) -> dict:
        return {
            "position": position,
            "label": pod.label,
            "key": pod.key,
            "segments": list(pod.segments),
            "regions": list(pod.regions),
            "states": ", ".join(pod.states),
            "industries": ", ".join(pod.industries),
            "atom": pod.atom,
            "seats": pod.seats,
            "reps": list(pod.reps),
            "granularity": ", ".join(f"{s}={g}" for s, g in pod.split_states.items()),
        }


PodFormSet = forms.formset_factory(PodForm, extra=1, can_delete=True, max_num=60, validate_max=True)


class RunForm(forms.Form):
    name = forms.CharField(
        max_length=120, required=False, help_text="Optional, e.g. “CA by county”."
    )
    tolerance = forms.FloatField(
        min_value=1, max_value=50, initial=10, label="Tolerance (± % of the pod mean)"
    )
    max_share = forms.FloatField(
        required=False,
        min_value=5,
        max_value=100,
        initial=25,
        label="Concentration limit (% of a territory's value in one atom)",
        help_text="Blank: no limit. Territories with an account above it are flagged.",
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    continuity = forms.BooleanField(
        required=False,
        initial=True,
        label="Keep accounts with their current owners where the tolerance allows",
    )
    contiguous = forms.BooleanField(
        required=False, initial=True, label="Contiguous territories (geographic pods)"
    )
    time_limit = forms.FloatField(
        min_value=5, max_value=600, initial=60, label="Time limit per pod (s)"
    )
    base_run = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def params(self):
        from territories.design import RunParams

        data = self.cleaned_data
        return RunParams(
            tolerance=data["tolerance"] / 100,
            max_share=None if data["max_share"] is None else data["max_share"] / 100,
            seed=data["seed"],
            continuity=data["continuity"],
            contiguous=data["contiguous"],
            time_limit=data["time_limit"],
            base_run=data.get("base_run"),
        )


class PlanSettingsForm(forms.Form):
    quota_share = forms.FloatField(
        min_value=50, max_value=100, label="Quota (% of realistic potential)"
    )
    account_growth = forms.FloatField(
        min_value=-50, max_value=500, label="Account growth (% a year)"
    )
    new_hire_months = forms.IntegerField(min_value=0, max_value=24, label="Months as a new hire")
    ramping_months = forms.IntegerField(min_value=0, max_value=36, label="Then months ramping")

    def __init__(self, *args, segments: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.segments = list(segments)
        for index, segment in enumerate(self.segments):
            self.fields[f"rate_{index}"] = forms.FloatField(
                min_value=0, max_value=100, label=f"{segment}: conversion rate (%)"
            )

    def rate_fields(self):
        return [self[f"rate_{i}"] for i in range(len(self.segments))]

    def rates(self) -> dict[str, float]:
        return {s: self.cleaned_data[f"rate_{i}"] / 100 for i, s in enumerate(self.segments)}
