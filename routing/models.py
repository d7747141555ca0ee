"""The territory object (routing's own records), named-account overrides, API tokens, bulk
routing files, the QA suite and routing-accuracy audits.

The territory object is generated from the approved balancing run and edited here without code;
``RoutingSettings.version`` is bumped in the same transaction as every change, which is what
keeps the routing configuration cache honest (``routing.services.routing_config``).
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils import timezone

from engagements.models import Engagement, Job
from routing import engine


class RoutingSettings(models.Model):
    """One row per engagement: the hierarchy snapshot the engine evaluates, the fallbacks, the
    rollout date, and the version counter of the territory object."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="routing_settings"
    )
    version = models.PositiveIntegerField(
        default=0, help_text="Bumped by every change of the territory object."
    )
    changed_at = models.DateTimeField(default=timezone.now)
    default_queue = models.CharField(
        max_length=120,
        default="RevOps routing queue",
        help_text="Where a record goes when a level has no fallback of its own.",
    )
    fallbacks = models.JSONField(
        default=dict, blank=True, help_text='{level: {"territory": key} or {"queue": name}}'
    )
    hierarchy = models.JSONField(
        default=dict,
        blank=True,
        help_text="Cuts, segment basis and bands, pods and sub-state granularity, as approved.",
    )
    source_run_id = models.PositiveIntegerField(null=True, blank=True)
    source_approved_at = models.DateTimeField(null=True, blank=True)
    source_approved_by = models.CharField(max_length=200, blank=True)
    generation = models.PositiveIntegerField(default=0)
    generated_at = models.DateTimeField(null=True, blank=True)
    rollout_date = models.DateField(
        null=True, blank=True, help_text="The day routing went live; audits sample accounts since."
    )

    class Meta:
        verbose_name_plural = "routing settings"

    def __str__(self) -> str:
        return f"Routing settings of {self.engagement}"

    def fallback_for(self, level: str) -> engine.Fallback:
        value = self.fallbacks.get(level) or {}
        return engine.Fallback(
            territory=str(value.get("territory", "")), queue=str(value.get("queue", ""))
        )

    @property
    def granularity_by_state(self) -> dict[str, str]:
        return dict(self.hierarchy.get("granularity_by_state", {}))

    @property
    def cache_key(self) -> tuple:
        return (self.engagement_id, self.version, self.changed_at.isoformat())


class TerritoryRecord(models.Model):
    """One territory of the territory object (Territory__c in the Salesforce export)."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="territory_records"
    )
    key = models.CharField(max_length=60, help_text="Stable id, e.g. commercial-west-03.")
    name = models.CharField(max_length=200)
    pod = models.CharField(max_length=80, blank=True, help_text="The hierarchy's pod key.")
    segments = models.JSONField(default=list, blank=True)
    regions = models.JSONField(default=list, blank=True)
    industries = models.JSONField(default=list, blank=True)
    states = models.JSONField(default=list, blank=True, help_text="Whole states, e.g. ['TX'].")
    units = models.JSONField(
        default=list, blank=True, help_text="Sub-state units: counties, ZIP prefixes, cities."
    )
    ae = models.CharField("AE", max_length=150, blank=True)
    sdr = models.CharField("SDR", max_length=150, blank=True)
    se = models.CharField("SE", max_length=150, blank=True)
    csm = models.CharField("CSM", max_length=150, blank=True)
    priority = models.PositiveIntegerField(default=100, help_text="Lower numbers are tried first.")
    active = models.BooleanField(default=True)
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True, help_text="Last day (inclusive).")
    generation = models.PositiveIntegerField(
        default=0, help_text="The generation that created it; 0 for a territory added by hand."
    )
    source_run_id = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pod", "priority", "key", "-generation"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "generation", "key"], name="territory_record_unique_key"
            )
        ]
        indexes = [models.Index(fields=["engagement", "effective_to"])]

    def __str__(self) -> str:
        return f"{self.key} {self.name}"

    def team(self) -> engine.Team:
        return engine.Team(self.ae, self.sdr, self.se, self.csm)

    def is_live(self, on) -> bool:
        return self.rule(accounts=()).live(on)

    def rule(self, *, accounts) -> engine.TerritoryRule:
        return engine.TerritoryRule(
            key=self.key,
            name=self.name,
            pod=self.pod,
            team=self.team(),
            priority=self.priority,
            active=self.active,
            effective_from=self.effective_from,
            effective_to=self.effective_to,
            segments=frozenset(self.segments),
            regions=frozenset(self.regions),
            industries=frozenset(engine.industry_key(i) for i in self.industries),
            states=frozenset(self.states),
            units=frozenset(self.units),
            accounts=frozenset(accounts),
        )


class TerritoryAccount(models.Model):
    """An account on an account-level territory's list (by CRM external id)."""

    territory = models.ForeignKey(
        TerritoryRecord, on_delete=models.CASCADE, related_name="account_list"
    )
    external_id = models.CharField(max_length=100)

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["territory", "external_id"], name="territory_account_unique"
            )
        ]

    def __str__(self) -> str:
        return self.external_id


class NamedAccountOverride(models.Model):
    """A named account: by external id or domain, to a territory and/or an owner, first."""

    class Source(models.TextChoices):
        APPROVED_MAP = "approved_map", "Approved map"
        MANUAL = "manual", "Added by hand"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="named_overrides"
    )
    external_id = models.CharField(max_length=100, blank=True)
    domain = models.CharField(max_length=200, blank=True)
    territory_key = models.CharField(max_length=60, blank=True)
    owner = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["external_id", "domain", "pk"]
        indexes = [models.Index(fields=["engagement", "active"])]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return " / ".join(p for p in (self.external_id, self.domain) if p) or f"override {self.pk}"


class TerritoryChange(models.Model):
    """The change log of the territory object: who changed what, field by field."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="territory_changes"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    subject = models.CharField(max_length=200, help_text="Territory key, override or settings.")
    territory = models.ForeignKey(
        TerritoryRecord,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="changes",
    )
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    summary = models.CharField(max_length=500)
    version = models.PositiveIntegerField(default=0, help_text="Territory-object version after.")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.summary


class RoutingToken(models.Model):
    """An API token of one engagement. Only the SHA-256 of the secret is kept; the prefix
    finds the row, the hash is compared in constant time."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="routing_tokens"
    )
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def _batch_path(instance: RoutingBatch, filename: str) -> str:
    return f"routing/{instance.engagement_id}/batches/{uuid.uuid4().hex}{PurePosixPath(filename).suffix.lower()}"


def _audit_path(instance: RoutingAudit, filename: str) -> str:
    return f"routing/{instance.engagement_id}/audits/{uuid.uuid4().hex}{PurePosixPath(filename).suffix.lower()}"


class RoutingBatch(models.Model):
    """An uploaded CSV/XLSX routed in bulk as a job; the result file is downloadable."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="routing_batches"
    )
    file = models.FileField(upload_to=_batch_path, max_length=300)
    original_name = models.CharField(max_length=255)
    layout = models.JSONField(default=dict)
    mapping = models.JSONField(default=dict, help_text="File column -> record field.")
    result_file = models.FileField(upload_to="routing/results/", max_length=300, blank=True)
    rows = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    config_version = models.PositiveIntegerField(null=True, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name


class QACase(models.Model):
    """A routing test case in one of the seeds' six categories: a record and what must happen."""

    class Category(models.TextChoices):
        STANDARD = "standard", "Standard routing"
        BOUNDARY = "boundary", "Boundary cases"
        GEOGRAPHY = "geography", "Geographic edge cases"
        NAMED = "named", "Named accounts"
        MISSING = "missing", "Missing data"
        TEAM_UPDATE = "team_update", "Team member update"

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="qa_cases")
    category = models.CharField(max_length=20, choices=Category.choices)
    name = models.CharField(max_length=200)
    record = models.JSONField(default=dict)
    expect_territory = models.CharField(max_length=60, blank=True)
    expect_owner = models.CharField(max_length=150, blank=True)
    expect_segment = models.CharField(max_length=60, blank=True)
    expect_unit = models.CharField(max_length=80, blank=True)
    expect_fallback = models.CharField(
        max_length=20, blank=True, help_text='A fallback level, "none" for no fallback, or blank.'
    )
    setup = models.JSONField(
        default=dict,
        blank=True,
        help_text='Team-member update: {"territory": key, "role": "ae", "name": new name}.',
    )
    generated_key = models.CharField(max_length=200, blank=True)
    edited = models.BooleanField(default=False, help_text="Edited by hand: kept on regeneration.")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_generated(self) -> bool:
        return bool(self.generated_key)


class QARun(models.Model):
    """One run of the QA suite against the territory object as it stood."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="qa_runs")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    config_version = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"QA run {self.pk}: {self.passed}/{self.total}"

    @property
    def failed(self) -> int:
        return self.total - self.passed

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total


class RoutingAudit(models.Model):
    """A routing-accuracy audit: a CRM export's owners compared with the engine's answers."""

    THRESHOLD = 90.0  # below this accuracy, the refinement trigger fires (seed 000)
    MIN_SAMPLE = 50

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="routing_audits"
    )
    file = models.FileField(upload_to=_audit_path, max_length=300)
    original_name = models.CharField(max_length=255)
    layout = models.JSONField(default=dict)
    mapping = models.JSONField(default=dict)
    created_column = models.CharField(max_length=255, blank=True)
    rollout_date = models.DateField()
    sample_size = models.PositiveIntegerField(default=50)
    seed = models.PositiveIntegerField(default=0)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rows = models.PositiveIntegerField(default=0)
    eligible = models.PositiveIntegerField(default=0)
    compared = models.PositiveIntegerField(default=0)
    matches = models.PositiveIntegerField(default=0)
    accuracy = models.FloatField(null=True, blank=True)
    mismatches = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True)
    config_version = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Audit {self.pk} of {self.original_name}"

    @property
    def below_threshold(self) -> bool:
        return self.accuracy is not None and self.accuracy < self.THRESHOLD

    @property
    def conclusive(self) -> bool:
        return self.compared >= self.MIN_SAMPLE
