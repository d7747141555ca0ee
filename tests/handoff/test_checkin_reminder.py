"""The refinement check-in reminder of a dedicated engagement (SPEC §6, seed 000 "Get pinged:
System reminder: refinement check-in in 2 weeks"): on the reminder date the daily job records an
activity line, once, and the architect's "What is due" lists the check-in until its day.

The calendar is frozen by replacing ``django.utils.timezone.localdate`` (what every service and
the job read as "today").
"""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as dj_timezone

from engagements.models import ActivityEvent, Engagement, Role
from handoff import jobs, services
from tests.factories import make_engagement, make_membership

ROLLOUT = date(2026, 1, 15)
CHECKIN = date(2026, 4, 15)  # a quarter after rollout
REMINDER = date(2026, 4, 1)  # two weeks before


@pytest.fixture
def frozen(monkeypatch):
    """``frozen(day)`` makes ``timezone.localdate()`` answer ``day``."""
    real = dj_timezone.localdate
    state = {}

    def localdate(value=None, timezone=None):
        return state["day"] if value is None else real(value, timezone)

    monkeypatch.setattr(dj_timezone, "localdate", localdate)

    def freeze(day: date) -> None:
        state["day"] = day

    return freeze


@pytest.fixture
def dedicated(world, monkeypatch):
    Engagement.objects.filter(pk=world.engagement.pk).update(type=Engagement.Type.DEDICATED)
    world.engagement.refresh_from_db()
    services.hypercare_rollout_set(engagement=world.engagement, rollout=ROLLOUT, actor=None)
    # The daily job reschedules itself on Redis; these tests look at what it records.
    monkeypatch.setattr(jobs, "schedule_daily_check", lambda **kwargs: None)
    return world.engagement


def _reminders(engagement):
    return list(
        ActivityEvent.objects.filter(
            engagement=engagement, verb=services.CHECKIN_REMINDER_VERB
        ).values_list("summary", "data")
    )


@pytest.mark.django_db
def test_the_daily_job_pings_once_on_the_reminder_date_and_not_before(dedicated, world, frozen):
    assert services.retention(engagement=dedicated).reminder == REMINDER
    frozen(date(2026, 3, 31))
    assert jobs.check_triggers_daily()["checkin_reminders"] == []
    assert _reminders(dedicated) == []

    frozen(REMINDER)
    assert jobs.check_triggers_daily()["checkin_reminders"] == [dedicated.pk]
    [(summary, data)] = _reminders(dedicated)
    assert summary.startswith("Reminder: Refinement check-in on Wed 15 Apr 2026 (in 14 days)")
    assert "routing accuracy and rep feedback" in summary
    assert data == {"checkin": "2026-04-15", "reminder": "2026-04-01"}

    frozen(date(2026, 4, 2))  # the next days: no second ping for the same check-in
    assert jobs.check_triggers_daily()["checkin_reminders"] == []
    assert len(_reminders(dedicated)) == 1
    # A single-project engagement rolled out the same day gets no reminder.
    services.hypercare_rollout_set(engagement=world.other, rollout=ROLLOUT, actor=None)
    frozen(REMINDER)
    jobs.check_triggers_daily()
    assert _reminders(world.other) == []


@pytest.mark.django_db
def test_a_day_the_job_did_not_run_is_caught_up_the_next_day(dedicated, frozen):
    frozen(date(2026, 4, 3))  # the worker was down on 1 and 2 April
    assert [d.engagement_id for d in services.checkin_reminders_record()] == [dedicated.pk]
    assert "(in 12 days)" in _reminders(dedicated)[0][0]
    frozen(date(2026, 4, 16))  # after the check-in: nothing more
    assert services.checkin_reminders_record() == []


@pytest.mark.django_db
def test_the_architect_sees_the_checkin_to_prepare_and_the_customer_does_not(
    dedicated, world, client, frozen
):
    client.force_login(world.architect)
    frozen(date(2026, 3, 31))
    assert "Refinement check-in" not in client.get("/").content.decode()
    frozen(REMINDER)
    jobs.check_triggers_daily()
    html = client.get("/").content.decode()
    assert "What is due" in html
    assert "Refinement check-in on Wed 15 Apr 2026 (in 14 days): pull the territory" in html
    # The activity line is on the engagement page for the consultancy ...
    page = f"/engagements/{dedicated.pk}/"
    assert "Reminder: Refinement check-in" in client.get(page).content.decode()
    frozen(CHECKIN)
    assert "Refinement check-in today" in client.get("/").content.decode()
    frozen(date(2026, 4, 16))
    assert "Refinement check-in" not in client.get("/").content.decode()
    # ... and internal prep is not shown to the customer.
    client.force_login(world.customer)
    for url in (page, f"{page}activity/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "Refinement check-in" not in response.content.decode()
    # The engineer on the engagement is not the one pinged.
    frozen(REMINDER)
    client.force_login(world.engineer)
    assert "Refinement check-in" not in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_due_list_reads_every_checkin_in_one_query(dedicated, world, client, frozen):
    frozen(REMINDER)
    client.force_login(world.architect)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            html = client.get("/").content.decode()
        return len(ctx.captured_queries), html.count("Refinement check-in on")

    before = count()
    for i in range(4):
        extra = make_engagement(world.org_a, name=f"Dedicated {i}", type="dedicated")
        make_membership(extra, world.architect, Role.ARCHITECT)
        services.hypercare_rollout_set(engagement=extra, rollout=ROLLOUT, actor=None)
    after = count()
    # The architect's page pinned at 16 in tests/engagements/test_dashboards.py, plus the one
    # query of checkins_due (every dedicated engagement's rollout date, with subqueries).
    assert (before, after) == ((17, 1), (17, 5))
