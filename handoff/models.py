"""Handoff models: enablement, hypercare, maintenance, triggers, handoff and close (this file),
and the documentation package (``handoff.package_models``)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from engagements.models import Engagement, GateDecision

HYPERCARE_DAYS = 30  # seed 000: "Duration: 30 days post-rollout"
# An "extend hypercare" decision at the Enablement gate adds two weeks: two more weekly
# office hours and a fresh accuracy sample before the gate is asked again.
EXTENSION_DAYS = 14


# --- Enablement -------------------------------------------------------------------------------


class TrainingSession(models.Model):
    """A training session for one audience (seed 000, "Training Types")."""

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        SCHEDULED = "scheduled", "Scheduled"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="training_sessions"
    )
    audience_slug = models.SlugField(
        max_length=40, blank=True, help_text="The playbook's training type; blank for an extra."
    )
    audience = models.CharField(max_length=120)
    who = models.CharField(max_length=200, blank=True)
    focus = models.CharField(max_length=300, blank=True)
    minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    day = models.DateField("date", null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    recording_url = models.URLField("recording link", max_length=500, blank=True)
    attendees = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "audience_slug"],
                condition=~models.Q(audience_slug=""),
                name="training_unique_audience",
            )
        ]

    def __str__(self) -> str:
        return f"{self.audience} training"


# --- Hypercare --------------------------------------------------------------------------------


class Hypercare(models.Model):
    """The engagement's hypercare window: 30 days from rollout, plus extensions."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="hypercare"
    )
    rollout_date = models.DateField(
        null=True,
        blank=True,
        help_text="The day territories went live; blank uses the routing settings' rollout date.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Hypercare of {self.engagement}"


class HypercareExtension(models.Model):
    """Days added to the window by an "extend hypercare" gate decision (one row per decision,
    so re-delivering the signal never extends twice)."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="hypercare_extensions"
    )
    decision = models.OneToOneField(
        GateDecision, on_delete=models.CASCADE, related_name="hypercare_extension"
    )
    days = models.PositiveSmallIntegerField(default=EXTENSION_DAYS)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"+{self.days} days of hypercare"


class OfficeHours(models.Model):
    """One weekly office-hours session of hypercare."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="office_hours"
    )
    day = models.DateField("date")
    attendees = models.TextField()
    topics = models.TextField()
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "-id"]
        verbose_name_plural = "office hours"

    def __str__(self) -> str:
        return f"Office hours {self.day:%Y-%m-%d}"


class HypercareIssue(models.Model):
    class Kind(models.TextChoices):
        MISROUTED = "misrouted", "Misrouted account"
        QUESTION = "question", "Question"
        BUG = "bug", "Bug"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="hypercare_issues"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    summary = models.CharField(max_length=300)
    account_id = models.CharField(
        "account id", max_length=100, blank=True, help_text="The CRM id of the account concerned."
    )
    reported_on = models.DateField(default=timezone.localdate)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["state", "-reported_on", "-id"]
        indexes = [models.Index(fields=["engagement", "state"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary[:60]}"


class AccuracyCheck(models.Model):
    """A routing-accuracy check entered by hand (sampled in the CRM); finished routing audits
    count as checks too, read from the routing app."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="accuracy_checks"
    )
    day = models.DateField("date")
    sampled = models.PositiveIntegerField()
    correct = models.PositiveIntegerField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(correct__lte=models.F("sampled")),
                name="accuracy_check_correct_le_sampled",
            )
        ]

    def __str__(self) -> str:
        return f"Accuracy check {self.day:%Y-%m-%d}: {self.correct}/{self.sampled}"

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.sampled if self.sampled else 0.0


# --- Maintenance ------------------------------------------------------------------------------


class MaintenanceOccurrence(models.Model):
    """One dated maintenance task (seed 000's schedule template), done with findings."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="maintenance_occurrences"
    )
    cadence = models.CharField(max_length=40)
    cadence_name = models.CharField(max_length=120)
    task_slug = models.SlugField(max_length=60)
    task = models.CharField(max_length=200)
    check_text = models.TextField("check")
    red_flag = models.CharField(max_length=300)
    action = models.CharField(max_length=300, blank=True)
    owner = models.CharField(max_length=40)
    due = models.DateField()
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    findings = models.TextField(blank=True)
    red_flag_hit = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["engagement", "due", "cadence", "task_slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "task_slug", "due"], name="maintenance_unique_due"
            )
        ]
        indexes = [models.Index(fields=["engagement", "due"])]

    def __str__(self) -> str:
        return f"{self.task} due {self.due:%Y-%m-%d}"


def _feed_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(models.Model):
    """The secret URL of the engagement's maintenance calendar (.ics). Calendar clients cannot
    log in, so the token in the URL is the credential; it is shown to the engagement's members
    and regenerated by the architect when it leaked."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=_feed_token)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Maintenance calendar of {self.engagement}"

    def regenerate(self) -> None:
        self.token = _feed_token()
        self.created_at = timezone.now()
        self.save(update_fields=["token", "created_at"])


# --- Refinement triggers ----------------------------------------------------------------------


class TriggerEvaluation(models.Model):
    """The latest evaluation of one refinement trigger on one engagement."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="trigger_evaluations"
    )
    slug = models.SlugField(max_length=40)
    name = models.CharField(max_length=120)
    fired = models.BooleanField(default=False)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()
    unit = models.CharField(max_length=10)
    detail = models.TextField()
    source = models.CharField(max_length=300, blank=True, help_text="What data it read.")
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement", "id"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "slug"], name="trigger_unique_slug")
        ]
        indexes = [models.Index(fields=["engagement", "fired"])]

    def __str__(self) -> str:
        return f"{self.name}: {'fired' if self.fired else 'quiet'}"


# --- Handoff and close ------------------------------------------------------------------------


class HandoffNotes(models.Model):
    """The internal handoff notes (free text beside what the portal finds itself)."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="handoff_notes"
    )
    text = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "handoff notes"

    def __str__(self) -> str:
        return f"Handoff notes of {self.engagement}"


class Debrief(models.Model):
    """The internal debrief at project close (seed 000, 4d)."""

    engagement = models.OneToOneField(Engagement, on_delete=models.CASCADE, related_name="debrief")
    went_well = models.TextField("what went well", blank=True)
    improve = models.TextField("what we would do differently", blank=True)
    lessons = models.TextField("learnings for the SOPs and methodology", blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Debrief of {self.engagement}"


def hypercare_end(rollout: date | None, extension_days: int) -> date | None:
    """Last day of hypercare: 30 days from rollout (the rollout day is day 1), plus extensions."""
    if rollout is None:
        return None
    return rollout + timedelta(days=HYPERCARE_DAYS - 1 + extension_days)


from handoff.package_models import *  # noqa: E402,F401,F403  (one app, two files of models)
