"""Who works on what: customer organizations, users, engagements, memberships, jobs, activity."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class CustomerOrganization(models.Model):
    """A customer company. Its users see only engagements of this organization."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A portal user.

    Customer users belong to one organization. Consultancy staff have no organization; their
    global role (manager, ops) lets them read every engagement, while architect and engineer are
    roles per engagement (see ``Membership``).
    """

    class StaffRole(models.TextChoices):
        NONE = "", "—"
        MANAGER = "manager", "Manager"
        OPS = "ops", "Operations"

    organization = models.ForeignKey(
        CustomerOrganization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="Set for customer users only.",
    )
    staff_role = models.CharField(
        max_length=20,
        choices=StaffRole.choices,
        default=StaffRole.NONE,
        blank=True,
        help_text="Consultancy-wide role: managers and ops read every engagement.",
    )

    @property
    def is_customer(self) -> bool:
        return self.organization_id is not None

    def display_name(self) -> str:
        return self.get_full_name() or self.username


class Role(models.TextChoices):
    """The six roles of SPEC §1."""

    ARCHITECT = "architect", "Architect"
    ENGINEER = "engineer", "Engineer"
    MANAGER = "manager", "Manager"
    OPS = "ops", "Operations"
    CUSTOMER_APPROVER = "customer_approver", "Customer approver"
    CUSTOMER_VIEWER = "customer_viewer", "Customer viewer"


CONSULTANT_ROLES = frozenset({Role.ARCHITECT, Role.ENGINEER, Role.MANAGER, Role.OPS})
CUSTOMER_ROLES = frozenset({Role.CUSTOMER_APPROVER, Role.CUSTOMER_VIEWER})
# Roles granted per engagement; manager and ops come from User.staff_role instead.
MEMBERSHIP_ROLES = (Role.ARCHITECT, Role.ENGINEER, Role.CUSTOMER_APPROVER, Role.CUSTOMER_VIEWER)


class Engagement(models.Model):
    class Type(models.TextChoices):
        SINGLE_PROJECT = "single_project", "Single project (customer owns maintenance)"
        DEDICATED = "dedicated", "Dedicated (architect keeps ownership)"

    organization = models.ForeignKey(
        CustomerOrganization, on_delete=models.PROTECT, related_name="engagements"
    )
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.SINGLE_PROJECT)
    fiscal_year_start = models.DateField(
        null=True, blank=True, help_text="Territories must be live before this date."
    )
    hour_budget = models.PositiveIntegerField(default=150, help_text="Typically 100–200 hours.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="engagement_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.organization.name} · {self.name}"


class Membership(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        max_length=30,
        choices=[(r.value, r.label) for r in MEMBERSHIP_ROLES],
        default=Role.ARCHITECT,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement", "role", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()} on {self.engagement_id}"


class ActivityEvent(models.Model):
    """One line of an engagement's activity log: who changed what, and when."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=60, help_text="Machine-readable, e.g. job.succeeded.")
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["engagement", "-created_at"])]

    def __str__(self) -> str:
        return self.summary


class Job(models.Model):
    """The one record of a piece of background work (STYLE.md §9).

    The UI reads this row, never RQ. The worker updates ``progress`` and ``heartbeat_at`` as it
    goes; ``engagements.tracking`` owns every state change.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=80, help_text="Dotted path of the job function.")
    title = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    # Jobs with the same non-empty key never run twice at once (the second request joins the first).
    dedupe_key = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Where the work horse runs: lets the sweeper see a killed worker on the same host at once.
    worker_host = models.CharField(max_length=200, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["engagement", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def rq_id(self) -> str:
        return f"portal-job-{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    def mark_running(self) -> None:
        now = timezone.now()
        self.status = self.Status.RUNNING
        self.started_at = now
        self.heartbeat_at = now
        self.finished_at = None
        self.progress = 0
        self.error = ""
        self.worker_host = socket.gethostname()
        self.worker_pid = os.getpid()
        self.save(
            update_fields=[
                "status",
                "started_at",
                "heartbeat_at",
                "finished_at",
                "progress",
                "error",
                "worker_host",
                "worker_pid",
            ]
        )

    def report(self, progress: float, message: str = "") -> None:
        """Record progress (0–100) and a short message; called by services as they work.

        Written with a queryset update so a report never overwrites other fields. Call it outside
        transactions: inside one, nobody else sees it until the commit.
        """
        self.progress = max(0, min(100, int(progress)))
        self.message = message[:300]
        self.heartbeat_at = timezone.now()
        Job.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(
            progress=self.progress, message=self.message, heartbeat_at=self.heartbeat_at
        )

    def mark_succeeded(self, result: dict[str, Any] | None = None, message: str = "") -> None:
        self.status = self.Status.SUCCEEDED
        self.progress = 100
        self.result = result or {}
        self.message = (message or "Done")[:300]
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "progress", "result", "message", "finished_at"])

    def mark_failed(self, error: str, message: str = "Failed") -> None:
        self.status = self.Status.FAILED
        self.error = error
        self.message = message[:300]
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "error", "message", "finished_at"])


# --- Meetings --------------------------------------------------------------------------------


class Meeting(models.Model):
    """A meeting of the engagement, created from one of the playbook's meeting types.

    Assumptions change state *in* a meeting (``Assumption.meeting``, ``AssumptionChange.meeting``);
    feedback items hang off the meeting they were raised in.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        HELD = "held", "Held"
        CANCELLED = "cancelled", "Cancelled"

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="meetings")
    kind = models.SlugField(max_length=60, help_text="Meeting type slug from the playbook.")
    kind_name = models.CharField(max_length=120, help_text="The type's name when created.")
    title = models.CharField(max_length=200)
    subphase = models.CharField(max_length=4, blank=True, help_text="e.g. 1c")
    scheduled_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    agenda = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    other_attendees = models.TextField(
        blank=True, help_text="People without a portal login, one per line (name, role)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        indexes = [models.Index(fields=["engagement", "-scheduled_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.scheduled_at:%Y-%m-%d})"


# --- Assumptions register --------------------------------------------------------------------


class Assumption(models.Model):
    """A working assumption: starts ASSUMED, meetings move it to CONFIRMED, CORRECTED or REJECTED.

    Other apps register their parameters here through ``services.assumption_register`` and read
    them back with ``services.assumption_effective_value``; they never write these rows directly.
    """

    class State(models.TextChoices):
        ASSUMED = "assumed", "Assumed"
        CONFIRMED = "confirmed", "Confirmed"
        CORRECTED = "corrected", "Corrected"
        REJECTED = "rejected", "Rejected"

    class Category(models.TextChoices):
        ICP_TIERS = "icp_tiers", "ICP tiers"
        VALUATION = "valuation", "Valuation"
        SEGMENTS = "segments", "Segments"
        HIERARCHY = "hierarchy", "Hierarchy"
        GEOGRAPHY = "geography", "Geography"
        TAM = "tam", "TAM approach"
        COVERAGE = "coverage", "Coverage and capacity"
        DEFINITIONS = "definitions", "Definitions"
        OTHER = "other", "Other"

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="assumptions")
    key = models.CharField(
        max_length=150, help_text='Unique per engagement, e.g. "valuation.hedge_factor".'
    )
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.OTHER)
    statement = models.CharField(max_length=500, help_text="The assumption as a sentence.")
    value = models.JSONField(null=True, blank=True)
    corrected_value = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.ASSUMED)
    blocking = models.BooleanField(
        default=False, help_text="While ASSUMED, keeps the Strategy gate (1d) closed."
    )
    source = models.CharField(
        max_length=60, blank=True, help_text='App that owns it, e.g. "territories"; blank: manual.'
    )
    meeting = models.ForeignKey(
        Meeting,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assumptions_moved",
        help_text="The meeting in which the state last changed.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "key"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "key"], name="assumption_unique_key")
        ]
        indexes = [models.Index(fields=["engagement", "state"])]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_state_display()})"

    # Which decisions each state allows. Confirming a CORRECTED value is not offered: it would
    # be ambiguous whether the original or the corrected value is meant (correct it again instead).
    DECISIONS: dict[str, frozenset[str]] = {
        State.ASSUMED: frozenset({"confirm", "correct", "reject"}),
        State.CONFIRMED: frozenset({"correct", "reject", "reopen"}),
        State.CORRECTED: frozenset({"correct", "reject", "reopen"}),
        State.REJECTED: frozenset({"confirm", "correct", "reopen"}),
    }

    @property
    def effective_value(self) -> Any:
        return self.corrected_value if self.state == self.State.CORRECTED else self.value

    def allowed_decisions(self) -> frozenset[str]:
        return self.DECISIONS[self.State(self.state)]

    def _move(
        self,
        *,
        to_state: str,
        by: User | None,
        meeting: Meeting | None,
        note: str,
        event: str,
        value: Any = None,
        corrected_value: Any = None,
    ) -> AssumptionChange:
        from_state = self.state
        self.state = to_state
        self.meeting = meeting
        self.corrected_value = corrected_value
        self.changed_at = timezone.now()
        self.save(update_fields=["state", "meeting", "corrected_value", "changed_at"])
        return self.history.create(
            actor=by if by is not None and by.is_authenticated else None,
            event=event,
            from_state=from_state,
            to_state=to_state,
            value=value,
            meeting=meeting,
            note=note[:500],
            created_at=self.changed_at,
        )

    def confirm(
        self, *, by: User | None, meeting: Meeting | None, note: str = ""
    ) -> AssumptionChange:
        return self._move(
            to_state=self.State.CONFIRMED,
            by=by,
            meeting=meeting,
            note=note,
            event=AssumptionChange.Event.CONFIRMED,
            value=self.value,
        )

    def correct(
        self, *, by: User | None, meeting: Meeting | None, value: Any, note: str = ""
    ) -> AssumptionChange:
        return self._move(
            to_state=self.State.CORRECTED,
            by=by,
            meeting=meeting,
            note=note,
            event=AssumptionChange.Event.CORRECTED,
            value=value,
            corrected_value=value,
        )

    def reject(
        self, *, by: User | None, meeting: Meeting | None, note: str = ""
    ) -> AssumptionChange:
        return self._move(
            to_state=self.State.REJECTED,
            by=by,
            meeting=meeting,
            note=note,
            event=AssumptionChange.Event.REJECTED,
        )

    def reopen(
        self, *, by: User | None, meeting: Meeting | None, note: str = ""
    ) -> AssumptionChange:
        """Back to ASSUMED (a decision recorded by mistake, or the customer changed their mind)."""
        return self._move(
            to_state=self.State.ASSUMED,
            by=by,
            meeting=meeting,
            note=note,
            event=AssumptionChange.Event.REOPENED,
            value=self.value,
        )


class AssumptionChange(models.Model):
    """One line of an assumption's history: who, when, from which state to which, in which meeting."""

    class Event(models.TextChoices):
        REGISTERED = "registered", "Registered"
        VALUE_CHANGED = "value_changed", "Value changed"
        CONFIRMED = "confirmed", "Confirmed"
        CORRECTED = "corrected", "Corrected"
        REJECTED = "rejected", "Rejected"
        REOPENED = "reopened", "Reopened"
        BLOCKING = "blocking", "Blocking flag changed"

    assumption = models.ForeignKey(Assumption, on_delete=models.CASCADE, related_name="history")
    event = models.CharField(max_length=20, choices=Event.choices)
    from_state = models.CharField(max_length=20, choices=Assumption.State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=Assumption.State.choices)
    value = models.JSONField(null=True, blank=True, help_text="The value this change recorded.")
    meeting = models.ForeignKey(
        Meeting, null=True, blank=True, on_delete=models.SET_NULL, related_name="assumption_changes"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.assumption_id}: {self.from_state or '—'} → {self.to_state}"


# --- Sign-off --------------------------------------------------------------------------------


class ImmutableRecordError(Exception):
    """Raised on an attempt to change a published version or a sign-off record."""


class SignoffVersion(models.Model):
    """One published version of a text the customer approver is asked to approve.

    Immutable once created: a change to the text is a new version (``services.signoff_publish``)
    that needs a new sign-off. ``text_sha256`` is what the approver's record asserts.
    """

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="signoff_versions"
    )
    subject = models.CharField(
        max_length=120, help_text='e.g. "icp_matrix" or "definitions:enterprise".'
    )
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["subject", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "subject", "version"], name="signoff_version_unique"
            )
        ]
        indexes = [models.Index(fields=["engagement", "subject", "-version"])]

    def __str__(self) -> str:
        return f"{self.subject} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecordError(
                f"{self} is published and cannot be changed; publish a new version instead."
            )
        super().save(*args, **kwargs)


class SignoffRecord(models.Model):
    """Evidence of one approval or decline: a link in the engagement's hash chain.

    Every field that the record asserts is copied here (not only referenced) and hashed with the
    previous record's hash (``engagements.chain``); ``manage.py verify_signoffs`` re-checks it.
    """

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="signoff_records"
    )
    # RESTRICT: a signed version cannot be deleted, except with its whole engagement.
    version = models.ForeignKey(SignoffVersion, on_delete=models.RESTRICT, related_name="records")
    sequence = models.PositiveIntegerField(help_text="Position in the engagement's chain, from 1.")
    subject = models.CharField(max_length=120)
    version_number = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    text_sha256 = models.CharField(max_length=64)
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True)
    # PROTECT: a signer's account is deactivated, never deleted, so the evidence keeps its link.
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_username = models.CharField(max_length=150)
    signer_name = models.CharField(max_length=200, help_text="The name the signer typed.")
    signed_at = models.DateTimeField()
    ip_address = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=1000, blank=True)
    auth_method = models.CharField(max_length=300)
    previous_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["engagement", "sequence"]
        constraints = [
            # With the engagement-row lock this never fires; it is the last line against a fork.
            models.UniqueConstraint(
                fields=["engagement", "sequence"], name="signoff_record_unique_sequence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} v{self.version_number} {self.decision} by {self.signer_username}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecordError("Sign-off records are evidence and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        raise ImmutableRecordError("Sign-off records are evidence and cannot be deleted.")
