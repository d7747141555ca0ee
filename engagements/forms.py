"""Forms of the engagements app."""

from __future__ import annotations

from django import forms

from engagements.models import SignoffRecord, SignoffVersion, User


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
