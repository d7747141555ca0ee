"""The account universe of an engagement, its imports, and what is computed from it: segments,
ICP tiers, values, the coverage model and the team that covers it."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models, transaction
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
        # The rows are stored (their transaction committed) but the re-valuation after it
        # failed, as did the job: the accounts keep their previous values until re-valued.
        NOT_VALUED = "not_valued", "Imported; valuing failed"
        REJECTED = "rejected", "Rejected; nothing imported"
        FAILED = "failed", "Failed; nothing imported"

    FINISHED = (Status.IMPORTED, Status.PARTIAL, Status.NOT_VALUED, Status.REJECTED, Status.FAILED)
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
        return self.status in (
            self.Status.UPLOADED,
            self.Status.REJECTED,
            self.Status.FAILED,
            self.Status.NOT_VALUED,
        )

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


# --- Territory design: the hierarchy, balancing runs and their results ---------------------------


class Hierarchy(models.Model):
    """The engagement's current segmentation hierarchy (one row; runs keep a snapshot).

    ``spec`` is a :class:`territories.hierarchy.HierarchySpec` as JSON, always checked by the
    service that saves it. ``named_accounts`` adds named accounts beyond the accounts'
    ``named_account_owner`` field: ``[{"match": external id or domain, "owner": rep name}]``.
    """

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="hierarchy"
    )
    spec = models.JSONField(default=dict)
    named_accounts = models.JSONField(default=list, blank=True)
    split_share = models.FloatField(
        default=0.5,
        help_text="A unit above this share of its pod's per-territory target is proposed a split.",
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Hierarchy of {self.engagement_id}"

    def spec_obj(self):
        from territories.hierarchy import HierarchySpec

        return HierarchySpec.from_json(self.spec)


class PlanSettings(models.Model):
    """Parameters of the growth plan and the quota suggestion (one row; all are assumptions).

    ``conversion_rates``: segment -> historical conversion rate (fraction) — seed 003's
    "realistic potential" is value × that rate. ``quota_share``: the quota suggested as a share
    of the realistic potential (seed 003: 70–80 %). ``account_growth``: yearly growth of the
    accounts needing coverage, used by the runway. ``ramp_months``: months a hire spends as a
    new hire, then ramping, before counting as ramped.
    """

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="plan_settings"
    )
    conversion_rates = models.JSONField(default=dict, blank=True)
    quota_share = models.FloatField(default=0.75)
    account_growth = models.FloatField(default=0.15)
    new_hire_months = models.PositiveSmallIntegerField(default=3)
    ramping_months = models.PositiveSmallIntegerField(default=6)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Plan settings of {self.engagement_id}"


class BalancingRun(models.Model):
    """One balancing of the current hierarchy, valuation and roster; its status mirrors its job.

    The inputs are snapshotted (``hierarchy``, ``named_accounts``, ``params``, ``data_version``)
    so a run can be explained after the data moved on. The results live in ``RunPod``,
    ``RunTerritory``, ``RunAtom`` and ``RunMap``; what the results page shows is precomputed when
    the run finishes (and after each manual edit), never aggregated per request.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="balancing_runs"
    )
    number = models.PositiveIntegerField(help_text="Run 1, 2, … within the engagement.")
    name = models.CharField(max_length=120, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    message = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict, help_text="tolerance, max_share, seed, continuity…")
    hierarchy = models.JSONField(default=dict, help_text="The hierarchy spec the run used.")
    named_accounts = models.JSONField(default=list, blank=True)
    data_version = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Overall balance figures.")
    summary = models.JSONField(default=dict, blank=True, help_text="Totals, notes, timings.")
    seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Balancing reviews show runs (seed 000); the link lives here so engagements never depends
    # on territories.
    shown_in = models.ManyToManyField(
        "engagements.Meeting", blank=True, related_name="balancing_runs"
    )

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "number"], name="run_unique_number"),
            models.UniqueConstraint(
                fields=["engagement"],
                condition=models.Q(approved_at__isnull=False),
                name="run_one_approved",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return f"Run {self.number}" + (f" · {self.name}" if self.name else "")

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None

    def delete_results(self) -> None:
        """Remove everything a run of this row wrote (maps, atoms, territories, pods, edits)."""
        RunEdit.objects.filter(run=self).delete()
        RunAtom.objects.filter(run=self).delete()
        RunTerritory.objects.filter(run=self).delete()
        RunMap.objects.filter(run=self).delete()
        RunPod.objects.filter(run=self).delete()

    def fail(self, message: str) -> bool:
        """Mark the run failed and remove whatever results it had written, in one transaction.

        A run dies between writing its results and drawing its maps only rarely, but then the
        results are half a run: nothing of a failed run may be shown, compared or started from.
        Returns False (and changes nothing) when the run had already finished.
        """
        with transaction.atomic():
            locked = (
                BalancingRun.objects.select_for_update()
                .filter(pk=self.pk, status__in=(self.Status.QUEUED, self.Status.RUNNING))
                .first()
            )
            if locked is None:
                return False
            self.delete_results()
            self.status = self.Status.FAILED
            self.message = message[:500]
            self.finished_at = timezone.now()
            self.save(update_fields=["status", "message", "finished_at"])
        return True

    def mirror_job(self) -> None:
        """Take the job's state when the job ended without the run noticing (worker killed)."""
        if self.job is None or self.is_finished:
            return
        if self.job.status == Job.Status.FAILED:
            if not self.fail(self.job.error or "The balancing job failed."):
                self.refresh_from_db()
        elif self.job.status == Job.Status.RUNNING and self.status == self.Status.QUEUED:
            self.status = self.Status.RUNNING
            self.save(update_fields=["status"])


class RunPod(models.Model):
    """One pod of a run: its balance figures, lower bounds and the arrays manual edits need.

    ``data`` is an ``.npz`` (numpy, no pickle) with the pod's atoms in ``RunAtom.index`` order:
    ``measures`` (n, 2) count and value, ``owner`` and ``assignment`` (territory index within the
    pod, -1 none), ``locked``, ``top`` (largest account value per atom), ``extras`` (tier
    counts and value per segment, named in ``extra_names``) and ``edges`` for unit pods. It is
    never loaded by the results page (``defer("data")``).
    """

    run = models.ForeignKey(BalancingRun, on_delete=models.CASCADE, related_name="pods")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=60)
    label = models.CharField(max_length=120)
    atom = models.CharField(max_length=8)
    seats = models.PositiveIntegerField()
    atoms = models.PositiveIntegerField(default=0)
    accounts = models.PositiveIntegerField(default=0)
    value = models.FloatField(default=0)
    metrics = models.JSONField(default=dict)
    bounds = models.JSONField(default=dict)
    extra_names = models.JSONField(default=list)
    data = models.BinaryField(default=b"")

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "key"], name="runpod_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.run_id})"


class RunTerritory(models.Model):
    """One territory of a run (the figures of the per-territory table, kept current)."""

    run = models.ForeignKey(BalancingRun, on_delete=models.CASCADE, related_name="territories")
    pod = models.ForeignKey(RunPod, on_delete=models.CASCADE, related_name="territories")
    index = models.PositiveIntegerField(help_text="Territory index within its pod.")
    key = models.CharField(max_length=80)
    label = models.CharField(max_length=150)
    rep = models.CharField(max_length=150, blank=True)
    color = models.CharField(max_length=7, default="#999999")
    atoms = models.PositiveIntegerField(default=0)
    count = models.PositiveIntegerField(default=0, help_text="Accounts.")
    value = models.FloatField(default=0)
    metrics = models.JSONField(default=dict)

    class Meta:
        ordering = ["run", "pod__position", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "key"], name="runterritory_unique_key"),
        ]

    def __str__(self) -> str:
        return self.label


class RunAtom(models.Model):
    """One atom of a run: a geographic unit with its accounts, or one account.

    Written with one bulk step per run (COPY on PostgreSQL, one executemany elsewhere).
    ``owner`` is the territory of the atom's current CRM owner (continuity); ``moved_from`` the
    territory the engine gave it, set when an architect moved it by hand.
    """

    class Kind(models.TextChoices):
        UNIT = "unit", "Geographic unit"
        ACCOUNT = "account", "Account"
        NAMED = "named", "Named account"

    run = models.ForeignKey(BalancingRun, on_delete=models.CASCADE, related_name="atoms")
    pod = models.ForeignKey(RunPod, on_delete=models.CASCADE, related_name="+")
    territory = models.ForeignKey(RunTerritory, on_delete=models.CASCADE, related_name="members")
    index = models.PositiveIntegerField(help_text="Position in the pod's arrays.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    atom = models.CharField(max_length=120, help_text="Unit id, or the account's external id.")
    label = models.CharField(max_length=300)
    count = models.PositiveIntegerField(default=1)
    value = models.FloatField(default=0)
    owner = models.ForeignKey(
        RunTerritory, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moved_from = models.ForeignKey(
        RunTerritory, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # A territory's atoms, largest first (the atom list under the results table).
            models.Index(fields=["territory", "-value"], name="runatom_territory_value"),
            models.Index(fields=["run", "atom"], name="runatom_run_atom"),
        ]

    def __str__(self) -> str:
        return self.label


class RunMap(models.Model):
    """A precomputed territory map of a run: the unit-level pods whose geography does not
    overlap share one map; redrawn after a manual edit of one of its pods."""

    run = models.ForeignKey(BalancingRun, on_delete=models.CASCADE, related_name="maps")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=300)
    pods = models.JSONField(default=list, help_text="Pod keys drawn on this map.")
    svg = models.TextField()

    class Meta:
        ordering = ["run", "position"]

    def __str__(self) -> str:
        return self.title


class RunEdit(models.Model):
    """The audit trail of manual changes to a run: who moved or locked which atom, when."""

    class Action(models.TextChoices):
        MOVE = "move", "Moved"
        LOCK = "lock", "Locked"
        UNLOCK = "unlock", "Unlocked"

    run = models.ForeignKey(BalancingRun, on_delete=models.CASCADE, related_name="edits")
    atom = models.ForeignKey(RunAtom, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices)
    from_label = models.CharField(max_length=150, blank=True)
    to_label = models.CharField(max_length=150, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.atom_id}"


class GrowthPlan(models.Model):
    """The growth-ready plan of a run: the pre-planned cut for each planned hire, in order
    (computed by a job; replaced when recomputed)."""

    run = models.OneToOneField(BalancingRun, on_delete=models.CASCADE, related_name="growth_plan")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    steps = models.JSONField(default=list)
    unplaced = models.JSONField(default=list, help_text="Hires no pod takes, with the reason.")
    inputs = models.JSONField(default=dict, help_text="The hires and run state it was planned on.")
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Growth plan of run {self.run_id}"


class RebalancingPlan(models.Model):
    """The equity report's suggested moves for a run: per pod that needs rebalancing (seed
    003's >20 % rule), the fewest moves that bring its territories back into the run's band.
    The engine computes them in a job (when a run is approved, or on demand from the equity
    page); the page only reads this row. Replaced when recomputed."""

    run = models.OneToOneField(
        BalancingRun, on_delete=models.CASCADE, related_name="rebalancing_plan"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pods = models.JSONField(
        default=dict,
        help_text="Pod key -> moves, total, within_tolerance, value_max_dev_pct (flagged pods).",
    )
    inputs = models.JSONField(
        default=dict, help_text="The run state and data version the moves were computed on."
    )
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Rebalancing moves of run {self.run_id}"
