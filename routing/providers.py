"""What the routing app adds to other apps' pages (registered in RoutingConfig.ready)."""

from __future__ import annotations

from django.urls import reverse

from engagements.dashboard import Download
from engagements.models import Engagement, User


def routing_downloads(engagement: Engagement, user: User) -> list[Download]:
    """The territory object's Salesforce files, once it exists (one query)."""
    if not engagement.territory_records.exists():
        return []
    return [
        Download(
            "Territory__c records (Salesforce Data Loader CSV)",
            reverse("routing:export_territories", args=[engagement.pk]),
            "One row per territory with its criteria and team.",
        ),
        Download(
            "Territory__c field list (CSV)",
            reverse("routing:export_fields", args=[engagement.pk]),
            "The custom object's fields: label, API name, type, length.",
        ),
        Download(
            "Named-account overrides (CSV)",
            reverse("routing:export_overrides", args=[engagement.pk]),
            "Accounts routed by external id or domain before any rule.",
        ),
    ]
