"""The Maintenance Schedule's start date: one function, four sources in order."""

from __future__ import annotations

import datetime as dt
import sys
import types

from django.utils import timezone

from handoff.documents.schedule_start import maintenance_start
from routing import services as routing


def test_the_start_falls_back_from_rollout_to_routing_to_enablement_to_today(world, monkeypatch):
    engagement = world.engagement
    # Nothing recorded: the build day, and the document says so.
    monkeypatch.setitem(sys.modules, "handoff.services", types.ModuleType("handoff.services"))
    day, why = maintenance_start(engagement)
    assert day == timezone.localdate() and "the day this package was built" in why

    # Enablement opened (phase 3): that day.
    opened = timezone.now() - dt.timedelta(days=20)
    phase = engagement.phases.filter(number=3).first()
    if phase is None:
        from engagements.models import Phase

        phase = Phase.objects.create(engagement=engagement, number=3, slug="enablement", name="E")
    phase.opened_at = opened
    phase.save()
    day, why = maintenance_start(engagement)
    assert day == timezone.localdate(opened) and "Enablement phase opened" in why

    # The routing settings' rollout date wins over that.
    row = routing.routing_settings_get(engagement=engagement)
    row.rollout_date = dt.date(2027, 2, 1)
    row.save()
    day, why = maintenance_start(engagement)
    assert day == dt.date(2027, 2, 1) and "routing settings" in why

    # The handoff app's rollout date (handoff.services.rollout_date) wins over everything.
    fake = types.ModuleType("handoff.services")
    fake.rollout_date = lambda *, engagement: dt.date(2027, 3, 15)
    monkeypatch.setitem(sys.modules, "handoff.services", fake)
    day, why = maintenance_start(engagement)
    assert day == dt.date(2027, 3, 15) and "rollout on 15 March 2027" in why
