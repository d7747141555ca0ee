"""Forms of the handoff pages. Each names the field a bad value belongs to."""

from __future__ import annotations

from django import forms

from handoff.models import HypercareIssue, TrainingSession


def _date(**kwargs) -> forms.DateField:
    return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **kwargs)


class _OwnIds:
    """The hypercare page shows four of these forms at once, and two have a "day" field: with
    Django's default ids both would be ``id_day`` and the second form's "Date" label would point
    at the first form's field. Each form's ids carry its ``id_prefix`` (``id_hours_day``)."""

    id_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class RolloutForm(_OwnIds, forms.Form):
    id_prefix = "rollout"
    rollout_date = _date(
        required=False,
        label="Rollout date",
        help_text="The day territories went live; hypercare runs 30 days from it.",
    )


class TrainingForm(forms.ModelForm):
    day = _date(required=False, label="Date")
    recording_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Recording link",
        help_text="A link to the recording (https://…).",
    )

    class Meta:
        model = TrainingSession
        fields = ["day", "state", "minutes", "recording_url", "attendees", "notes"]
        widgets = {
            "attendees": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"minutes": "Duration (minutes)"}


class OfficeHoursForm(_OwnIds, forms.Form):
    id_prefix = "hours"
    day = _date(label="Date")
    attendees = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    topics = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    notes = forms.CharField(
        max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class IssueForm(_OwnIds, forms.Form):
    id_prefix = "issue"
    kind = forms.ChoiceField(choices=HypercareIssue.Kind.choices)
    severity = forms.ChoiceField(
        choices=HypercareIssue.Severity.choices, initial=HypercareIssue.Severity.MEDIUM
    )
    summary = forms.CharField(max_length=300)
    account_id = forms.CharField(
        max_length=100,
        required=False,
        label="Account id",
        help_text="The CRM id, for misrouted accounts.",
    )
    reported_on = _date(required=False, label="Reported on")


class ResolveForm(forms.Form):
    resolution = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


class AccuracyCheckForm(_OwnIds, forms.Form):
    id_prefix = "check"
    day = _date(label="Date")
    sampled = forms.IntegerField(min_value=1, max_value=1_000_000, label="Accounts sampled")
    correct = forms.IntegerField(min_value=0, max_value=1_000_000, label="Routed correctly")
    note = forms.CharField(max_length=300, required=False)

    def clean(self):
        data = super().clean()
        sampled, correct = data.get("sampled"), data.get("correct")
        if sampled is not None and correct is not None and correct > sampled:
            self.add_error(
                "correct",
                f"Routed correctly ({correct}) cannot exceed accounts sampled ({sampled}).",
            )
        return data


class MaintenanceDoneForm(forms.Form):
    findings = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    red_flag_hit = forms.BooleanField(required=False, label="The red flag was hit")


class NotesForm(forms.Form):
    text = forms.CharField(
        label="Internal notes",
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
    )


class DebriefForm(forms.Form):
    went_well = forms.CharField(
        label="What went well?",
        max_length=8000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    improve = forms.CharField(
        label="What would we do differently? (balancing iterations, timeline estimates, "
        "stakeholder alignment)",
        max_length=8000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    lessons = forms.CharField(
        label="Learnings to feed back into SOPs or methodology",
        max_length=8000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
