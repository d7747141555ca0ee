"""Forms of the engagements app."""

from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms

from engagements.models import (
    MEMBERSHIP_ROLES,
    Assumption,
    CustomerOrganization,
    Engagement,
    GateDecision,
    IntakeForm,
    Meeting,
    Role,
    SignoffRecord,
    SignoffVersion,
    Stakeholder,
    User,
)
from engagements.playbook import weights_problem
from engagements.units import megabytes


def _normal_name(name: str) -> str:
    return " ".join(name.split()).casefold()


class SignoffForm(forms.Form):
    """The approver's decision on one version, with the explicit act of intent.

    Approving needs the ticked statement that names the version and its SHA-256, and the
    signer's full name typed out; declining needs a comment saying why.
    """

    decision = forms.ChoiceField(choices=SignoffRecord.Decision.choices)
    text_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
    intent = forms.BooleanField(required=False)
    signer_name = forms.CharField(
        max_length=200, required=False, label="Type your full name to sign"
    )
    comment = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Comment",
        help_text="Required when you decline; optional when you approve.",
    )

    def __init__(self, *args, version: SignoffVersion, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        self.user = user
        self.fields["text_sha256"].initial = version.text_sha256
        self.fields["intent"].label = (
            f"I approve this exact text: “{version.title}”, version {version.version}, "
            f"SHA-256 {version.text_sha256[:16]}…"
        )

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision == SignoffRecord.Decision.APPROVED:
            if not data.get("intent"):
                self.add_error("intent", "Tick the box to confirm you approve this exact text.")
            typed = data.get("signer_name", "")
            if not typed.strip():
                self.add_error("signer_name", "Type your full name to sign.")
            elif self.user.get_full_name() and _normal_name(typed) != _normal_name(
                self.user.get_full_name()
            ):
                self.add_error(
                    "signer_name",
                    f"Type your name as it is on your account: {self.user.get_full_name()}.",
                )
        elif decision == SignoffRecord.Decision.DECLINED and not data.get("comment", "").strip():
            self.add_error("comment", "Say why you decline: a comment is required.")
        return data


# --- Engagement ------------------------------------------------------------------------------


class EngagementForm(forms.ModelForm):
    """Create or edit an engagement. A new customer organization can be named on the fly."""

    new_organization = forms.CharField(
        max_length=200,
        required=False,
        label="…or a new customer organization",
        help_text="Leave empty to use the organization chosen above.",
    )
    weight_strategy = forms.IntegerField(min_value=0, max_value=100, label="Strategy %")
    weight_engineering = forms.IntegerField(min_value=0, max_value=100, label="Engineering %")
    weight_enablement = forms.IntegerField(min_value=0, max_value=100, label="Enablement %")
    weight_handoff = forms.IntegerField(min_value=0, max_value=100, label="Handoff %")

    WEIGHT_FIELDS = ("strategy", "engineering", "enablement", "handoff")

    class Meta:
        model = Engagement
        fields = [
            "organization",
            "name",
            "type",
            "start_date",
            "fiscal_year_start",
            "hour_budget",
            "icp_depth",
            "hierarchy_complexity",
            "territory_object",
            "partner_complexity",
            "weight_profile",
        ]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "fiscal_year_start": forms.DateInput(attrs={"type": "date"}),
        }
        labels = {
            "icp_depth": "ICP/TAM approach",
            "hierarchy_complexity": "Hierarchy",
            "territory_object": "System implementation",
            "weight_profile": "Phase-weight profile",
        }

    def __init__(self, *args, profiles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].required = False
        self.fields["weight_profile"] = forms.ChoiceField(
            choices=[(p.slug, f"{p.name} — {p.seed_ranges}") for p in profiles]
            + [("custom", "Custom split")],
            label="Phase-weight profile",
            help_text="Fills the split below; choose Custom to type your own.",
        )
        self.profiles = {p.slug: p for p in profiles}
        weights = (self.instance.phase_weights if self.instance.pk else None) or (
            profiles[0].weights if profiles else {}
        )
        for phase in self.WEIGHT_FIELDS:
            self.fields[f"weight_{phase}"].initial = weights.get(phase, 25)
        if self.instance.pk:
            # The organization of a running engagement does not change (its customers' access).
            del self.fields["organization"]
            del self.fields["new_organization"]

    def clean_hour_budget(self):
        budget = self.cleaned_data["hour_budget"]
        if budget is None or budget < 1 or budget > 5000:
            raise forms.ValidationError("Give the hour budget in hours (typically 100–200).")
        return budget

    def clean(self):
        data = super().clean()
        if not self.instance.pk:
            new_name = (data.get("new_organization") or "").strip()
            if new_name:
                if CustomerOrganization.objects.filter(name__iexact=new_name).exists():
                    self.add_error(
                        "new_organization", f"“{new_name}” exists already; choose it above."
                    )
            elif not data.get("organization"):
                self.add_error(
                    "organization", "Choose the customer organization or name a new one."
                )
        profile = data.get("weight_profile")
        if profile in self.profiles:
            weights = dict(self.profiles[profile].weights)
        else:
            weights = {p: data.get(f"weight_{p}") for p in self.WEIGHT_FIELDS}
            if None not in weights.values():
                problem = weights_problem(weights, list(self.WEIGHT_FIELDS))
                if problem:
                    self.add_error("weight_handoff", f"Phase weights: {problem}.")
        data["phase_weights"] = weights
        start, fy = data.get("start_date"), data.get("fiscal_year_start")
        if start and fy and fy <= start:
            self.add_error(
                "fiscal_year_start", "The fiscal year must start after the engagement starts."
            )
        return data


class MemberForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Person")
    role = forms.ChoiceField(choices=())

    def __init__(self, *args, engagement, **kwargs):
        super().__init__(*args, **kwargs)
        # Consultants, and the users of this engagement's own customer organization.
        self.fields["user"].queryset = (
            User.objects.filter(is_active=True)
            .filter(models_q_consultant_or_org(engagement.organization_id))
            .select_related("organization")  # each option's label names it
            .order_by("organization__name", "last_name", "username")
        )
        self.fields["user"].label_from_instance = lambda u: (
            f"{u.display_name()} ({u.organization.name if u.organization_id else 'consultancy'})"
        )
        self.fields["role"].choices = [(r.value, r.label) for r in MEMBERSHIP_ROLES]


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, which also reaches invited people who never chose a password (an
    unusable password and no login yet), so "Ask for a new link" works when an invitation
    link expired."""

    def get_users(self, email):
        yield from super().get_users(email)
        invited = User.objects.filter(
            email__iexact=email, is_active=True, last_login__isnull=True
        ).order_by("pk")
        for user in invited:
            if not user.has_usable_password():
                yield user


class InviteForm(forms.Form):
    """Invite a person of the engagement's customer organization who has no login yet."""

    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(
        max_length=150, help_text="The invitation goes here; it is also the username."
    )
    role = forms.ChoiceField(
        choices=[(r.value, r.label) for r in (Role.CUSTOMER_APPROVER, Role.CUSTOMER_VIEWER)]
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "invite")
        super().__init__(*args, **kwargs)

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


def models_q_consultant_or_org(organization_id: int):
    from django.db.models import Q

    return Q(organization__isnull=True, staff_role="") | Q(organization_id=organization_id)


class HoursForm(forms.Form):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.DecimalField(min_value=0.25, max_value=24, decimal_places=2, max_digits=5)
    phase_number = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Phase"
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args, phases=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phase_number"].choices = [("", "—")] + [
            (p.number, f"{p.number}. {p.name}") for p in phases
        ]


class StakeholderForm(forms.ModelForm):
    class Meta:
        model = Stakeholder
        fields = ["name", "title", "email", "decision_maker", "day_to_day", "influence", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


# --- Phases ----------------------------------------------------------------------------------


class ItemNoteForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, label="Note")
    evidence_url = forms.URLField(
        max_length=500, required=False, label="Evidence link", assume_scheme="https"
    )


class GateDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=())
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Reason / note"
    )

    def __init__(self, *args, decisions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = [(d, GateDecision.Decision(d).label) for d in decisions]


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


# --- Assumptions -----------------------------------------------------------------------------


MAX_VALUE_CHARS = 20_000  # an assumption value is a number, a phrase or a small JSON document


def parse_value_input(raw: str, *, like=None):
    """The value an architect typed: JSON when it parses (numbers, lists, objects), else text.

    When the original value is a number the correction must be a number too, so a typo like
    "0,55" is refused instead of silently becoming text.
    """
    import json

    text = raw.strip()
    if not text:
        raise forms.ValidationError("Give the corrected value.")
    if len(text) > MAX_VALUE_CHARS:
        raise forms.ValidationError(
            f"The value is {len(text):,} characters long; the limit is {MAX_VALUE_CHARS:,}."
        )
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    except RecursionError:
        raise forms.ValidationError("The JSON is nested too deeply.") from None
    try:
        # NaN, Infinity and numbers past the float range (1e309) are not JSON: refused here,
        # not by the database.
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise forms.ValidationError(
            f"“{text[:60]}” is not a finite number (NaN, Infinity and 1e309 cannot be stored)."
        ) from None
    like_number = isinstance(like, int | float) and not isinstance(like, bool)
    value_number = isinstance(value, int | float) and not isinstance(value, bool)
    if like_number and not value_number:
        raise forms.ValidationError(f"The value is a number (it was {like}); “{text}” is not.")
    if isinstance(like, list | dict) and not isinstance(value, type(like)):
        raise forms.ValidationError(
            f"The value is a {'list' if isinstance(like, list) else 'JSON object'}; give valid JSON."
        )
    return value


class AssumptionDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=())
    meeting = forms.ModelChoiceField(queryset=None, required=False, label="In which meeting")
    value = forms.CharField(
        required=False, label="Corrected value", widget=forms.Textarea(attrs={"rows": 2})
    )
    note = forms.CharField(required=False, max_length=500, label="Note")

    def __init__(self, *args, assumption, **kwargs):
        super().__init__(*args, **kwargs)
        self.assumption = assumption
        self.fields["decision"].choices = [
            (d, d.capitalize()) for d in sorted(assumption.allowed_decisions())
        ]
        self.fields["meeting"].queryset = assumption.engagement.meetings.order_by("-scheduled_at")

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision and decision != "reopen" and not data.get("meeting"):
            self.add_error("meeting", "Choose the meeting in which this was decided.")
        if decision == "correct":
            try:
                data["parsed_value"] = parse_value_input(
                    data.get("value", ""), like=self.assumption.value
                )
            except forms.ValidationError as exc:
                self.add_error("value", exc)
        return data


class AssumptionCreateForm(forms.Form):
    category = forms.ChoiceField(choices=Assumption.Category.choices)
    statement = forms.CharField(max_length=500, label="Assumption")
    value = forms.CharField(required=False, label="Value", help_text="A number, text, or JSON.")
    key = forms.SlugField(
        max_length=150,
        required=False,
        label="Key",
        help_text="Optional; made from the category and statement when empty.",
        allow_unicode=False,
    )
    blocking = forms.BooleanField(required=False, label="Blocks the Strategy gate while ASSUMED")

    def clean_key(self):
        return self.cleaned_data["key"].strip()

    def clean_value(self):
        raw = self.cleaned_data.get("value", "")
        if not raw.strip():
            return None
        return parse_value_input(raw)


# --- Meetings --------------------------------------------------------------------------------


class MeetingCreateForm(forms.Form):
    kind = forms.ChoiceField(choices=(), label="Meeting type")
    scheduled_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Date and time"
    )
    title = forms.CharField(
        max_length=200, required=False, help_text="Defaults to the type's name."
    )

    def __init__(self, *args, playbook, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            (m.slug, f"{m.subphase} · {m.name}" if m.subphase else m.name)
            for m in playbook.meeting_types
        ]


class MeetingForm(forms.Form):
    title = forms.CharField(max_length=200)
    scheduled_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Date and time",
    )
    status = forms.ChoiceField(choices=Meeting.Status.choices)
    attendees = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Attendees with a portal login",
    )
    other_attendees = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Other attendees",
        help_text="One per line: name, role.",
    )
    agenda = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 12}))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args, engagement, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = User.objects.filter(
            memberships__engagement=engagement
        ).order_by("last_name", "username")
        self.fields["attendees"].label_from_instance = lambda u: u.display_name()


class FeedbackForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Feedback")
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    assumption = forms.ModelChoiceField(
        queryset=None, required=False, label="Assumption it touches"
    )
    document = forms.ChoiceField(choices=(), required=False, label="Document it touches")

    def __init__(self, *args, engagement, playbook, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(
            memberships__engagement=engagement
        ).order_by("last_name", "username")
        self.fields["owner"].label_from_instance = lambda u: u.display_name()
        self.fields["assumption"].queryset = engagement.assumptions.order_by("category", "key")
        self.fields["assumption"].label_from_instance = lambda a: (
            f"[{a.get_state_display()}] {a.statement[:90]}"
        )
        self.fields["document"].choices = [("", "—")] + [
            (d.slug, d.name) for d in playbook.documents
        ]


# --- Intake ----------------------------------------------------------------------------------


class IntakeFormForm(forms.ModelForm):
    class Meta:
        model = IntakeForm
        fields = [
            "current_definitions",
            "assignment_logic",
            "assignment_details",
            "org_ae",
            "org_sdr",
            "org_se",
            "org_csm",
            "org_am",
            "org_notes",
            "headcount_trajectory",
            "planned_hires_12m",
            "fiscal_year_start",
            "has_partners",
            "partner_details",
            "pain_points",
        ]
        widgets = {
            "fiscal_year_start": forms.DateInput(attrs={"type": "date"}),
            "current_definitions": forms.Textarea(attrs={"rows": 3}),
            "assignment_details": forms.Textarea(attrs={"rows": 3}),
            "org_notes": forms.Textarea(attrs={"rows": 3}),
            "headcount_trajectory": forms.Textarea(attrs={"rows": 3}),
            "partner_details": forms.Textarea(attrs={"rows": 3}),
            "pain_points": forms.Textarea(attrs={"rows": 4}),
            "has_partners": forms.RadioSelect,
            "assignment_logic": forms.Select,
        }


class CustomerListUploadForm(forms.Form):
    file = forms.FileField(label="Customer list (.csv or .xlsx)")

    def clean_file(self):
        from django.conf import settings

        upload = self.cleaned_data["file"]
        limit = min(settings.MAX_UPLOAD_BYTES, 20 * 1024 * 1024)
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {megabytes(upload.size)} MB; the limit is {megabytes(limit)} MB."
            )
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload


# --- Definitions -----------------------------------------------------------------------------


class DefinitionTermForm(forms.Form):
    term = forms.CharField(max_length=120)
    definition = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
