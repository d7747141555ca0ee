"""The account universe of an engagement and what is computed from it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from engagements.models import Engagement, Job


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

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "external_id"], name="account_unique_external_id"
            )
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
