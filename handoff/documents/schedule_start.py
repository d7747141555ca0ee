"""The one place the documentation package gets the maintenance schedule's start date."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from engagements.models import Engagement


def maintenance_start(engagement: Engagement) -> tuple[date, str]:
    """(start date, how it was chosen) for the Maintenance Schedule's dated occurrences.

    The rollout date when the handoff app knows it (``handoff.services.rollout_date``);
    otherwise the rollout date of the routing settings; otherwise the day the Enablement phase
    opened; otherwise today. The second element says
    which, in a sentence the document prints under the schedule.
    """
    try:
        from handoff.services import rollout_date
    except ImportError:
        rollout_date = None
    if rollout_date is not None:
        day = rollout_date(engagement=engagement)
        if day is not None:
            return day, f"Dates count from the rollout on {day:%d %B %Y}."
    from routing.models import RoutingSettings

    planned = (
        RoutingSettings.objects.filter(engagement=engagement)
        .values_list("rollout_date", flat=True)
        .first()
    )
    if planned is not None:
        return planned, (
            f"Dates count from {planned:%d %B %Y}, the rollout date set in the routing settings."
        )
    phase = engagement.phases.filter(number=3).values_list("opened_at", flat=True).first()
    if phase is not None:
        day = timezone.localdate(phase)
        return day, (
            f"No rollout date is recorded yet; dates count from {day:%d %B %Y}, the day the "
            f"Enablement phase opened."
        )
    day = timezone.localdate()
    return day, (
        f"No rollout date is recorded and Enablement has not opened yet; dates count from "
        f"{day:%d %B %Y}, the day this package was built."
    )
