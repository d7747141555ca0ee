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
