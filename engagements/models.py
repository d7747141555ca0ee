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


def _today():
    return timezone.localdate()


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


class PlaybookTemplate(models.Model):
    """One version of the playbook template (``engagements.playbook`` validates its data).

    New engagements start from the active version and copy its data (``EngagementPlaybook``),
    so later edits never change an engagement already running. A version some engagement
    started from is frozen: staff copy it to a new version, edit that, and activate it.
    """

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(unique=True)
    data = models.JSONField(help_text="The template document; validated on save.")
    is_active = models.BooleanField(
        default=False, help_text="New engagements start from the active version (only one)."
    )
    notes = models.TextField(blank=True, help_text="What changed in this version.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}{' (active)' if self.is_active else ''}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from engagements.playbook import PlaybookError, parse_playbook

        try:
            parse_playbook(self.data)
        except PlaybookError as exc:
            raise ValidationError({"data": exc.problems}) from exc
        if self.pk and self.in_use():
            stored = (
                PlaybookTemplate.objects.filter(pk=self.pk).values_list("data", flat=True).first()
            )
            if stored != self.data:
                raise ValidationError(
                    {
                        "data": "Engagements started from this version; copy it to a new version to edit."
                    }
                )

    def in_use(self) -> bool:
        return self.engagements.exists()


class Engagement(models.Model):
    class Type(models.TextChoices):
        SINGLE_PROJECT = "single_project", "Single project (customer owns maintenance)"
        DEDICATED = "dedicated", "Dedicated (architect keeps ownership)"

    class IcpDepth(models.TextChoices):
        LIGHT = "light", "Light ICP/TAM — valuation focus (wide TAM)"
        DEEP = "deep", "Deep ICP/TAM — criteria research (narrow TAM)"

    class HierarchyComplexity(models.TextChoices):
        SIMPLE = "simple", "Simple hierarchy (2–3 cuts; 5–15 reps)"
        COMPLEX = "complex", "Complex hierarchy (4+ cuts; 15+ reps, named accounts)"

    class TerritoryObject(models.TextChoices):
        CUSTOM = "custom", "Custom territory object (standard)"
        ETM = "etm", "Salesforce Enterprise Territory Management"

    organization = models.ForeignKey(
        CustomerOrganization, on_delete=models.PROTECT, related_name="engagements"
    )
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.SINGLE_PROJECT)
    fiscal_year_start = models.DateField(
        null=True, blank=True, help_text="Territories must be live before this date."
    )
    hour_budget = models.PositiveIntegerField(default=150, help_text="Typically 100–200 hours.")
    start_date = models.DateField(
        default=_today, help_text="When work started (the calendar projection counts from here)."
    )
    icp_depth = models.CharField(max_length=10, choices=IcpDepth.choices, default=IcpDepth.LIGHT)
    hierarchy_complexity = models.CharField(
        max_length=10, choices=HierarchyComplexity.choices, default=HierarchyComplexity.SIMPLE
    )
    territory_object = models.CharField(
        max_length=10, choices=TerritoryObject.choices, default=TerritoryObject.CUSTOM
    )
    partner_complexity = models.BooleanField(
        default=False, help_text="Partner ecosystem adds cannibalization complexity (5+ hours)."
    )
    weight_profile = models.CharField(max_length=40, default="balanced")
    phase_weights = models.JSONField(
        default=dict, blank=True, help_text="Share of the effort per phase slug, adding up to 100."
    )
    playbook_template = models.ForeignKey(
        PlaybookTemplate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="engagements",
        help_text="The template version this engagement started from.",
    )
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

    @property
    def options(self) -> frozenset[str]:
        """The condition names of the playbook that hold for this engagement."""
        options = {
            f"icp_{self.icp_depth}",
            f"hierarchy_{self.hierarchy_complexity}",
            f"object_{self.territory_object}",
            self.type,
        }
        if self.partner_complexity:
            options.add("partner_complexity")
        return frozenset(options)


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


class SignoffRecordQuerySet(models.QuerySet):
    def delete(self):
        # Bulk deletes bypass SignoffRecord.delete; they are refused the same. (Deleting the
        # whole engagement still removes its records: the cascade does not use this method.)
        raise ImmutableRecordError("Sign-off records are evidence and cannot be deleted.")

    delete.alters_data = True
    delete.queryset_only = True


class SignoffRecord(models.Model):
    """Evidence of one approval or decline: a link in the engagement's hash chain.

    Every field that the record asserts is copied here (not only referenced) and hashed with the
    previous record's hash (``engagements.chain``); ``manage.py verify_signoffs`` re-checks it.
    The chain's last link is also kept in ``SignoffChainHead``, so records removed from the end
    are found too.
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

    objects = SignoffRecordQuerySet.as_manager()

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


class SignoffChainHead(models.Model):
    """The last link of an engagement's sign-off chain: its sequence number and hash.

    A chain can prove that nothing inside it changed, but not that nothing was cut from its
    end: with the last records deleted it still verifies. This row is written by
    ``services.signoff_decide`` in the same transaction and under the same engagement-row lock
    as the record it names, and the next record links to it; ``services.signoff_verify``
    reports every record between the last one stored and this head as missing.
    """

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, primary_key=True, related_name="signoff_head"
    )
    sequence = models.PositiveIntegerField(help_text="Sequence of the chain's last record.")
    record_hash = models.CharField(max_length=64, help_text="Hash of the chain's last record.")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Sign-off chain head of {self.engagement_id}: #{self.sequence}"


# --- Phases, checklists, gates -----------------------------------------------------------------


class EngagementPlaybook(models.Model):
    """The copy of the playbook template an engagement started from.

    Meeting types, definition terms, maintenance tasks and the document list are read from
    here (``services.playbook_for``), so template edits never change a running engagement. Its
    own table keeps the ~60 KB document out of every query that loads engagements.
    """

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="playbook_copy"
    )
    data = models.JSONField()
    copied_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Playbook of {self.engagement_id}"


class Phase(models.Model):
    """One of the engagement's four phases, instantiated from its playbook."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="phases")
    number = models.PositiveSmallIntegerField()
    slug = models.SlugField(max_length=40)
    name = models.CharField(max_length=80)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(
        null=True, blank=True, help_text="When work on it began (the previous gate proceeded)."
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # The gate as the playbook defined it when the engagement started (seed 000, "What each
    # phase produces"); copied here so gate checks need no template parsing.
    gate_produces = models.CharField(max_length=300, blank=True)
    gate_criteria = models.CharField(max_length=300, blank=True)
    gate_signoffs = models.JSONField(default=list, blank=True)
    gate_checks_assumptions = models.BooleanField(default=False)
    gate_decisions = models.JSONField(default=list, blank=True)
    proceed_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["engagement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "number"], name="phase_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.number}. {self.name}"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class SubPhase(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="subphases")
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="subphases")
    code = models.CharField(max_length=4)
    name = models.CharField(max_length=120)
    purpose = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["engagement", "position"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "code"], name="subphase_unique_code")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ChecklistItem(models.Model):
    """A checklist item copied from the playbook when the engagement was created."""

    class Owner(models.TextChoices):
        CONSULTANCY = "consultancy", "Consultancy"
        CUSTOMER = "customer", "Customer"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="checklist_items"
    )
    subphase = models.ForeignKey(SubPhase, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=80)
    group = models.CharField(max_length=160, blank=True)
    text = models.CharField(max_length=500)
    owner = models.CharField(max_length=20, choices=Owner.choices, default=Owner.CONSULTANCY)
    required = models.BooleanField(default=True)
    condition = models.CharField(
        max_length=40, blank=True, help_text="Applies only when the engagement has this option."
    )
    signoff_subject = models.CharField(
        max_length=120, blank=True, help_text="Done exactly when this sign-off is approved."
    )
    event = models.CharField(
        max_length=80, blank=True, help_text="Marked done by the portal when this happens."
    )
    position = models.PositiveSmallIntegerField(default=0)
    done = models.BooleanField(default=False)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    evidence_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["engagement", "subphase__position", "position"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "key"], name="checklist_item_unique_key")
        ]
        indexes = [models.Index(fields=["engagement", "done"])]

    def __str__(self) -> str:
        return f"{self.key}: {self.text[:60]}"

    def applies_to(self, engagement: Engagement) -> bool:
        return not self.condition or self.condition in engagement.options

    def set_done(
        self,
        *,
        done: bool,
        by: User | None,
        note: str | None = None,
        evidence_url: str | None = None,
    ) -> ChecklistToggle:
        """Tick or untick, logging who and when; note and link are kept unless given."""
        self.done = done
        self.done_by = by if done else None
        self.done_at = timezone.now() if done else None
        if note is not None:
            self.note = note[:500]
        if evidence_url is not None:
            self.evidence_url = evidence_url
        self.save(update_fields=["done", "done_by", "done_at", "note", "evidence_url"])
        return self.toggles.create(
            actor=by,
            done=done,
            note=self.note,
            evidence_url=self.evidence_url,
            created_at=self.done_at or timezone.now(),
        )


class ChecklistToggle(models.Model):
    """Every tick and untick of a checklist item, with who and when."""

    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="toggles")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done = models.BooleanField()
    note = models.CharField(max_length=500, blank=True)
    evidence_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.item_id} {'done' if self.done else 'undone'}"


class GateDecision(models.Model):
    """A decision at a phase's gate (or the reopening of a closed phase), with actor and time."""

    class Decision(models.TextChoices):
        PROCEED = "proceed", "Proceed"
        EXTEND_HYPERCARE = "extend_hypercare", "Extend hypercare"
        HOLD = "hold", "Hold"
        REOPEN = "reopen", "Reopen"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="gate_decisions"
    )
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    note = models.TextField(blank=True)
    # What the gate panel showed when the decision was taken (hold/extend), for the record.
    blockers = models.JSONField(default=list, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.phase}: {self.get_decision_display()}"


# --- Meeting feedback ------------------------------------------------------------------------


class FeedbackItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPLIED = "applied", "Applied"
        WONT_DO = "wont_do", "Won't do"

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="feedback")
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="feedback")
    text = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assumption = models.ForeignKey(
        Assumption, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    document = models.CharField(
        max_length=60, blank=True, help_text="Slug of a document of the playbook's document list."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "created_at", "id"]
        indexes = [models.Index(fields=["engagement", "status"])]

    def __str__(self) -> str:
        return self.text[:80]

    def set_status(self, *, status: str, by: User | None) -> None:
        self.status = status
        resolved = status != self.Status.OPEN
        self.resolved_by = by if resolved else None
        self.resolved_at = timezone.now() if resolved else None
        self.save(update_fields=["status", "resolved_by", "resolved_at"])


# --- Intake ----------------------------------------------------------------------------------


class IntakeForm(models.Model):
    """The customer's intake form (SPEC §3, seed 000 "Intake form specifics")."""

    class AssignmentLogic(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin"
        MANUAL = "manual", "Manual"
        GEOGRAPHIC = "geographic", "Geographic"
        NAMED = "named", "Named accounts"
        MIXED = "mixed", "A mix of these"
        OTHER = "other", "Other"

    class YesNo(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"

    engagement = models.OneToOneField(Engagement, on_delete=models.CASCADE, related_name="intake")
    current_definitions = models.TextField(
        blank=True,
        verbose_name="Current territory definitions",
        help_text='e.g. "Enterprise is $1B+ annual revenue, Commercial is below $1B".',
    )
    assignment_logic = models.CharField(
        max_length=20,
        choices=AssignmentLogic.choices,
        blank=True,
        verbose_name="Current assignment logic",
    )
    assignment_details = models.TextField(
        blank=True,
        verbose_name="How assignment works today",
        help_text="Who assigns new accounts and leads, and by which rules.",
    )
    org_ae = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name="Account executives (AEs)"
    )
    org_sdr = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name="Sales development reps (SDRs)"
    )
    org_se = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name="Sales engineers (SEs)"
    )
    org_csm = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name="Customer success managers (CSMs)"
    )
    org_am = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name="Account managers (AMs)"
    )
    org_notes = models.TextField(
        blank=True,
        verbose_name="Org chart notes",
        help_text="Leaders, teams and who reports to whom.",
    )
    headcount_trajectory = models.TextField(
        blank=True,
        verbose_name="Expected headcount trajectory",
        help_text="How fast is the team growing? Planned hires by quarter.",
    )
    planned_hires_12m = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name="Planned sales hires in the next 12 months"
    )
    fiscal_year_start = models.DateField(
        null=True,
        blank=True,
        verbose_name="Fiscal year start",
        help_text="Territories must be ready before the fiscal-year rollout.",
    )
    has_partners = models.CharField(
        max_length=3,
        choices=YesNo.choices,
        blank=True,
        verbose_name="Do partners source or resell?",
    )
    partner_details = models.TextField(
        blank=True,
        verbose_name="Partner ecosystem details",
        help_text="Hyperscalers, resellers, referral partners (adds cannibalization complexity).",
    )
    pain_points = models.TextField(
        blank=True, verbose_name="Pain points with the current territory structure"
    )
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Intake of {self.engagement_id}"

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


def _intake_upload_path(instance: IntakeUpload, filename: str) -> str:
    # The original name is kept in a field; the stored name is ours (no path tricks).
    import uuid
    from pathlib import PurePath

    suffix = PurePath(filename).suffix.lower()[:6]
    return f"engagements/{instance.engagement_id}/intake/{uuid.uuid4().hex}{suffix}"


class IntakeUpload(models.Model):
    """The customer list with contract values, kept as uploaded for the account import."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="intake_uploads"
    )
    file = models.FileField(upload_to=_intake_upload_path, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    columns = models.JSONField(default=list)
    name_column = models.CharField(max_length=200)
    value_column = models.CharField(max_length=200)
    total_value = models.FloatField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.original_name


# --- Definition Alignment Document -----------------------------------------------------------


class DefinitionTerm(models.Model):
    """A term of the Definition Alignment Document; each is signed off as "definitions:<slug>".

    ``definition`` may hold ``{placeholders}`` (e.g. the Enterprise threshold) filled from the
    assumptions register when the text is published, so the customer signs concrete numbers.
    """

    class Kind(models.TextChoices):
        ALIGNMENT = "alignment", "Alignment term"
        GLOSSARY = "glossary", "Glossary"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="definition_terms"
    )
    slug = models.SlugField(max_length=60)
    term = models.CharField(max_length=120)
    definition = models.TextField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ALIGNMENT)
    gates_design = models.BooleanField(
        default=False, help_text="Territory design cannot start until this term is approved."
    )
    position = models.PositiveSmallIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["engagement", "position"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "slug"], name="definition_term_unique")
        ]

    def __str__(self) -> str:
        return self.term

    @property
    def subject(self) -> str:
        return f"definitions:{self.slug}"


# --- Stakeholders and hours ------------------------------------------------------------------


class Stakeholder(models.Model):
    """A person on the customer side: decision maker, day-to-day contact, political influence."""

    class Influence(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="stakeholders"
    )
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    decision_maker = models.BooleanField(default=False)
    day_to_day = models.BooleanField(default=False, verbose_name="Day-to-day contact")
    influence = models.CharField(
        max_length=10,
        choices=Influence.choices,
        default=Influence.MEDIUM,
        verbose_name="Political influence",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement", "-decision_maker", "name"]

    def __str__(self) -> str:
        return self.name


class HoursEntry(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="hours")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    date = models.DateField(default=_today)
    hours = models.DecimalField(max_digits=5, decimal_places=2)
    phase_number = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["engagement", "date"])]

    def __str__(self) -> str:
        return f"{self.hours} h on {self.date}"
