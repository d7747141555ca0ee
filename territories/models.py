"""The account universe of an engagement, its imports, and what is computed from it: segments,
ICP tiers, values, the coverage model and the team that covers it."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils import timezone

from engagements.models import Engagement, Job
from territories import coverage, segments, tiers, valuation


class Account(models.Model):
    """One CRM account. Standard fields of SPEC §4; any other imported column goes to ``custom``."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="accounts")
    external_id = models.CharField(max_length=100, help_text="The CRM's id; imports upsert on it.")
    name = models.CharField(max_length=300)
    domain = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=120, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.FloatField(null=True, blank=True, help_text="USD per year.")
    country = models.CharField(max_length=60, blank=True)
    state = models.CharField(max_length=60, blank=True, help_text="Two-letter code in the US.")
    city = models.CharField(max_length=120, blank=True)
    # Text, never a number: "02134" must keep its leading zero.
    postal_code = models.CharField(max_length=20, blank=True)
    current_owner = models.CharField(max_length=150, blank=True)
    is_customer = models.BooleanField(default=False)
    contract_value = models.FloatField(
        null=True, blank=True, help_text="Current annual contract value (ACV), USD."
    )
    named_account_owner = models.CharField(max_length=150, blank=True)
    custom = models.JSONField(default=dict, blank=True, help_text="Imported non-standard columns.")
    updated_at = models.DateTimeField(default=timezone.now)

    # Computed by the re-valuation job (services.accounts_revalue); later steps read them.
    class Tier(models.TextChoices):
        T1 = "T1", "T1 · best fit"
        T2 = "T2", "T2"
        T3 = "T3", "T3"
        UNQUALIFIED = "unqualified", "Unqualified"

    tier = models.CharField(max_length=12, choices=Tier.choices, blank=True)
    segment = models.CharField(max_length=60, blank=True)
    value = models.FloatField(null=True, blank=True, help_text="Estimated potential, USD.")
    value_explanation = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "external_id"], name="account_unique_external_id"
            )
        ]
        indexes = [
            # The valued account list sorts by value; filters by segment and tier.
            models.Index(fields=["engagement", "-value"], name="account_value_idx"),
            models.Index(fields=["engagement", "segment", "tier"], name="account_segment_tier_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class DataQualitySummary(models.Model):
    """The latest data-quality report of an engagement's accounts (one row, replaced on rerun)."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="data_quality"
    )
    report = models.JSONField(default=dict)
    account_count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"Data quality of {self.engagement_id} at {self.computed_at:%Y-%m-%d %H:%M}"


def _import_path(instance: AccountImport, filename: str) -> str:
    # A random name: the user's file name is kept in original_name, never used as a path.
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"imports/{instance.engagement_id}/{uuid.uuid4().hex}{suffix}"


class AccountImport(models.Model):
    """One uploaded account file and what became of it."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for the column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        IMPORTED = "imported", "Imported"
        PARTIAL = "partial", "Imported; some rows rejected"
        REJECTED = "rejected", "Rejected; nothing imported"
        FAILED = "failed", "Failed; nothing imported"

    FINISHED = (Status.IMPORTED, Status.PARTIAL, Status.REJECTED, Status.FAILED)
    ERRORS_SHOWN = 200  # errors kept on the row for the page; all of them are in errors_file

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to=_import_path, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    layout = models.JSONField(default=dict, help_text="Format, encoding, separator, headers.")
    preview = models.JSONField(default=list, help_text="The first rows, as text.")
    mapping = models.JSONField(default=dict, help_text="File column -> standard field.")
    strict = models.BooleanField(
        default=False, help_text="Any bad row rejects the whole file when set."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADED)
    message = models.TextField(blank=True)
    notes = models.JSONField(default=list, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    errors_file = models.FileField(upload_to="imports/errors/", max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["engagement", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def can_run(self) -> bool:
        return self.status in (self.Status.UPLOADED, self.Status.REJECTED, self.Status.FAILED)

    def table(self):
        from territories.ingest import TableFile

        return TableFile.from_dict(self.layout)

    def mark_failed(self, message: str) -> None:
        """Fail an import whose job died; nothing was written (the write is one transaction)."""
        self.status = self.Status.FAILED
        self.message = message[:2000]
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "message", "finished_at"])

    def reconcile(self) -> None:
        """An import whose job failed or vanished (worker killed) is failed, never left running."""
        active = self.status in (self.Status.QUEUED, self.Status.RUNNING)
        if active and self.job is not None and self.job.status == Job.Status.FAILED:
            self.mark_failed(self.job.error or "The import job failed.")


class SegmentDefinition(models.Model):
    """The engagement's size segments (one row); see ``territories.segments``."""

    class Basis(models.TextChoices):
        ANNUAL_REVENUE = "annual_revenue", "Annual revenue"
        EMPLOYEES = "employees", "Employees"

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="segment_definition"
    )
    basis = models.CharField(max_length=20, choices=Basis.choices, default=Basis.ANNUAL_REVENUE)
    bands = models.JSONField(default=list, help_text="Largest first: label, minimum, inclusive.")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Segments of {self.engagement_id}"

    def scheme(self) -> segments.SegmentScheme:
        return segments.SegmentScheme.from_dict({"basis": self.basis, "bands": self.bands})


class TierRule(models.Model):
    """One rule of the ICP tier matrix: all its conditions must hold; first match wins."""

    class Tier(models.TextChoices):
        T1 = "T1", "T1 · best fit"
        T2 = "T2", "T2"
        T3 = "T3", "T3"

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="tier_rules")
    tier = models.CharField(max_length=2, choices=Tier.choices)
    position = models.PositiveIntegerField(default=0, help_text="Order within the tier.")
    name = models.CharField(max_length=120, blank=True)
    conditions = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tier", "position", "id"]

    def __str__(self) -> str:
        return f"{self.tier}: {self.rule().describe()}"

    def rule(self) -> tiers.Rule:
        return tiers.Rule(
            tier=self.tier,
            conditions=tuple(tiers.Condition.from_dict(c) for c in self.conditions),
            name=self.name,
        )


class ValuationSettings(models.Model):
    """The engagement's valuation parameters (one row); see ``territories.valuation``."""

    class Method(models.TextChoices):
        BENCHMARK = "benchmark", "Benchmark (segment × tier statistic of customer ACV)"
        SCALED = "scaled", "Scaled (value per employee or revenue dollar)"

    class Statistic(models.TextChoices):
        MEDIAN = "median", "Median"
        MEAN = "mean", "Average"
        P25 = "p25", "25th percentile"
        P75 = "p75", "75th percentile"

    class ScaleBasis(models.TextChoices):
        EMPLOYEES = "employees", "Per employee"
        ANNUAL_REVENUE = "annual_revenue", "Per revenue dollar"

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="valuation_settings"
    )
    method = models.CharField(max_length=12, choices=Method.choices, default=Method.BENCHMARK)
    statistic = models.CharField(max_length=8, choices=Statistic.choices, default=Statistic.MEDIAN)
    hedge_factor = models.FloatField(default=0.6)
    expansion_factor = models.FloatField(default=0.2)
    min_customers = models.PositiveSmallIntegerField(default=3)
    scale_basis = models.CharField(
        max_length=16, choices=ScaleBasis.choices, default=ScaleBasis.EMPLOYEES
    )
    caps = models.JSONField(default=dict, blank=True, help_text="Segment -> prospect value cap.")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Valuation settings of {self.engagement_id}"

    def params(self) -> valuation.ValuationParams:
        return valuation.ValuationParams(
            method=self.method,
            statistic=self.statistic,
            hedge_factor=self.hedge_factor,
            expansion_factor=self.expansion_factor,
            min_customers=self.min_customers,
            scale_basis=self.scale_basis,
            caps={k: float(v) for k, v in (self.caps or {}).items()},
        )


class ValuationSummary(models.Model):
    """The latest valuation of the universe (one row, replaced by every re-valuation)."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="valuation_summary"
    )
    inputs = models.JSONField(default=dict, help_text="Parameters, segments and rules used.")
    summary = models.JSONField(default=dict)
    benchmarks = models.JSONField(default=list)
    ratios = models.JSONField(default=list)
    market = models.JSONField(default=list)
    sensitivity = models.JSONField(default=list)
    tier_distribution = models.JSONField(default=list)
    account_count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"Valuation of {self.engagement_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class CoverageRule(models.Model):
    """How one segment × tier is covered (seed 003, principle 2)."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="coverage_rules"
    )
    segment = models.CharField(max_length=60)
    tier = models.CharField(max_length=12, choices=Account.Tier.choices)
    touches_per_year = models.FloatField(default=0)
    channel = models.CharField(max_length=60, blank=True)
    accounts_per_rep = models.FloatField(
        null=True, blank=True, help_text="Blank: no rep carries these accounts (digital)."
    )

    class Meta:
        ordering = ["segment", "tier"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "segment", "tier"], name="coverage_rule_unique_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.segment} {self.tier}: {self.touches_per_year:g} touches/year"

    def rule(self) -> coverage.CoverageRule:
        return coverage.CoverageRule(
            self.segment, self.tier, self.touches_per_year, self.channel, self.accounts_per_rep
        )


class CapacitySettings(models.Model):
    """Accounts one rep can carry by ramp state (seed 003, principle 4); editable."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="capacity_settings"
    )
    new_hire = models.PositiveSmallIntegerField(default=coverage.DEFAULT_CAPACITY["new_hire"])
    ramping = models.PositiveSmallIntegerField(default=coverage.DEFAULT_CAPACITY["ramping"])
    ramped = models.PositiveSmallIntegerField(default=coverage.DEFAULT_CAPACITY["ramped"])
    senior = models.PositiveSmallIntegerField(default=coverage.DEFAULT_CAPACITY["senior"])

    def __str__(self) -> str:
        return f"Capacity of {self.engagement_id}"

    def by_state(self) -> dict[str, int]:
        return {
            "new_hire": self.new_hire,
            "ramping": self.ramping,
            "ramped": self.ramped,
            "senior": self.senior,
        }


class SalesRole(models.TextChoices):
    AE = "AE", "Account executive"
    SDR = "SDR", "Sales development rep"
    SE = "SE", "Sales engineer"
    CSM = "CSM", "Customer success manager"
    AM = "AM", "Account manager"


# Roles that own accounts (and so territories); the others support them.
ACCOUNT_CARRYING_ROLES = frozenset({SalesRole.AE, SalesRole.AM})


class Rep(models.Model):
    """A member of the customer's sales team (the roster balancing draws seats from)."""

    class RampState(models.TextChoices):
        NEW_HIRE = "new_hire", "New hire"
        RAMPING = "ramping", "Ramping"
        RAMPED = "ramped", "Ramped"
        SENIOR = "senior", "Senior / manager"

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="reps")
    name = models.CharField(max_length=150, help_text="As in the CRM's account owner field.")
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=4, choices=SalesRole.choices, default=SalesRole.AE)
    segment = models.CharField(max_length=60, blank=True)
    ramp_state = models.CharField(
        max_length=10, choices=RampState.choices, default=RampState.RAMPED
    )
    capacity = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Accounts; blank uses the ramp state's default."
    )
    home_region = models.CharField(max_length=60, blank=True, help_text="E.g. West, or Texas.")
    home_state = models.CharField(max_length=2, blank=True)
    home_postal_code = models.CharField(max_length=10, blank=True, help_text="Anchoring point.")
    start_date = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["segment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "name"], name="rep_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"

    @property
    def carries_accounts(self) -> bool:
        return self.role in ACCOUNT_CARRYING_ROLES

    def effective_capacity(self, by_state: dict[str, int]) -> int:
        return self.capacity if self.capacity is not None else by_state[self.ramp_state]


class PlannedHire(models.Model):
    """A seat the customer plans to fill; growth-ready cuts are planned for each, in order."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="planned_hires"
    )
    title = models.CharField(max_length=120, help_text="E.g. AE West #2.")
    role = models.CharField(max_length=4, choices=SalesRole.choices, default=SalesRole.AE)
    segment = models.CharField(max_length=60, blank=True)
    home_region = models.CharField(max_length=60, blank=True)
    home_state = models.CharField(max_length=2, blank=True)
    home_postal_code = models.CharField(max_length=10, blank=True)
    start_date = models.DateField()
    notes = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start_date", "id"]

    def __str__(self) -> str:
        return f"{self.title} from {self.start_date:%Y-%m-%d}"

    @property
    def carries_accounts(self) -> bool:
        return self.role in ACCOUNT_CARRYING_ROLES
