"""What the routing app adds to other apps' pages (registered in RoutingConfig.ready)."""

from __future__ import annotations

from django.urls import reverse

from engagements.access import engagements_for
from engagements.dashboard import Download
from engagements.models import Engagement, User
from routing.models import TerritoryRecord


def routing_downloads(engagement: Engagement, user: User) -> list[Download]:
    """The territory object's Salesforce files, once it exists.

    The portal asks once per engagement; the first call finds, in one query, every engagement of
    the user's that has a territory object and keeps the answer on the request's user, so the
    page's query count does not grow with the number of engagements.
    """
    having = getattr(user, "_routing_engagements_with_object", None)
    if having is None:
        having = set(
            TerritoryRecord.objects.filter(engagement__in=engagements_for(user).values("pk"))
            .values_list("engagement_id", flat=True)
            .distinct()
        )
        user._routing_engagements_with_object = having
    if engagement.pk not in having:
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
