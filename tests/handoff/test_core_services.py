"""Handoff services against the database: hypercare window and its gate extension, the
schedule's regeneration, the calendar, triggers on live data, sensitive territories."""

from __future__ import annotations

from datetime import date, timedelta

import icalendar
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from engagements import services as engagement_services
from engagements.models import Engagement, GateDecision
from handoff import services
from handoff.models import (
    AccuracyCheck,
    HypercareExtension,
    MaintenanceOccurrence,
    TrainingSession,
    TriggerEvaluation,
)
from routing.services import routing_settings_get
from tests.factories import make_approved_run, make_universe


@pytest.fixture
def rolled_out(world):
    services.hypercare_rollout_set(
        engagement=world.engagement, rollout=date(2026, 1, 15), actor=world.architect
    )
    return world


def test_rollout_date_prefers_the_hypercare_date_then_the_routing_settings(world):
    engagement = world.engagement
    assert services.rollout_date(engagement=engagement) is None
    row = routing_settings_get(engagement=engagement)
    row.rollout_date = date(2026, 3, 1)
    row.save(update_fields=["rollout_date"])
    assert services.rollout_date(engagement=engagement) == date(2026, 3, 1)
    services.hypercare_rollout_set(engagement=engagement, rollout=date(2026, 3, 5), actor=None)
    assert services.rollout_date(engagement=engagement) == date(2026, 3, 5)


def test_hypercare_window_is_thirty_days_from_rollout(rolled_out):
    engagement = rolled_out.engagement
    first = services.hypercare_status(engagement=engagement, today=date(2026, 1, 15))
    assert (first.state, first.day, first.end) == ("active", 1, date(2026, 2, 13))
    last = services.hypercare_status(engagement=engagement, today=date(2026, 2, 13))
    assert (last.state, last.day) == ("active", 30)
    after = services.hypercare_status(engagement=engagement, today=date(2026, 2, 14))
    assert after.state == "complete"
    before = services.hypercare_status(engagement=engagement, today=date(2026, 1, 14))
    assert before.state == "upcoming"


def test_extend_hypercare_at_the_enablement_gate_extends_the_window(rolled_out):
    engagement = rolled_out.engagement
    phase = engagement.phases.get(number=3)
    decision = engagement_services.gate_decide(
        phase=phase,
        decision=GateDecision.Decision.EXTEND_HYPERCARE,
        actor=rolled_out.architect,
        note="Two misrouted Texas accounts still open.",
    )
    status = services.hypercare_status(engagement=engagement, today=date(2026, 2, 20))
    assert status.end == date(2026, 2, 27) and status.state == "active"
    assert status.extension_days == 14 and status.total_days == 44
    # A replayed signal does not extend twice.
    services.hypercare_extend(decision=decision)
    assert HypercareExtension.objects.filter(engagement=engagement).count() == 1
    assert engagement.activity.filter(verb="handoff.hypercare_extended").count() == 1


def test_a_hold_decision_does_not_extend_hypercare(rolled_out):
    engagement = rolled_out.engagement
    engagement_services.gate_decide(
        phase=engagement.phases.get(number=3),
        decision=GateDecision.Decision.HOLD,
        actor=rolled_out.architect,
        note="Waiting on the CRO.",
    )
    assert not HypercareExtension.objects.filter(engagement=engagement).exists()


def test_trainings_generate_is_idempotent_and_follows_the_playbook(world):
    engagement = world.engagement
    assert services.trainings_generate(engagement=engagement, actor=world.architect) == 5
    assert services.trainings_generate(engagement=engagement, actor=world.architect) == 0
    minutes = dict(engagement.training_sessions.values_list("audience_slug", "minutes"))
    assert minutes == {
        "leadership": 45,
        "operations": 60,
        "sales_management": 30,
        "reps": 30,
        "sales_directors": None,
    }


def test_training_delivered_needs_date_and_attendees(world):
    services.trainings_generate(engagement=world.engagement, actor=None)
    session = world.engagement.training_sessions.get(audience_slug="reps")
    with pytest.raises(ValidationError) as exc:
        services.training_update(
            session=session, values={"state": "delivered", "day": None}, actor=None
        )
    assert "day" in exc.value.error_dict
    session.refresh_from_db()
    assert session.state == TrainingSession.State.PLANNED


def _done(engagement, *keys):
    return dict(engagement.checklist_items.filter(key__in=keys).values_list("key", "done"))


def test_delivering_a_training_ticks_its_audiences_item_on_the_phase_board(world):
    engagement = world.engagement
    services.trainings_generate(engagement=engagement, actor=world.architect)
    directors = engagement.training_sessions.get(audience_slug="sales_directors")
    services.training_update(
        session=directors,
        values={"state": "scheduled", "day": date(2026, 1, 10)},
        actor=world.architect,
    )
    assert not engagement.checklist_items.get(key="3b.directors").done  # scheduled only
    services.training_update(
        session=engagement.training_sessions.get(pk=directors.pk),
        values={"state": "delivered", "day": date(2026, 1, 10), "attendees": "Both directors"},
        actor=world.architect,
    )
    item = engagement.checklist_items.get(key="3b.directors")
    assert item.done and item.done_by == world.architect
    assert item.note == "Sales Directors training delivered 10 Jan 2026"
    # The other audiences' items wait for their own sessions.
    assert _done(engagement, "3b.leadership", "3b.revops", "3b.managers", "3b.reps") == {
        "3b.leadership": False,
        "3b.revops": False,
        "3b.managers": False,
        "3b.reps": False,
    }
    (logged,) = engagement.activity.filter(verb="checklist.done")
    assert logged.data == {"item": "3b.directors", "event": "training_delivered:sales_directors"}


def test_an_accuracy_check_of_fifty_accounts_ticks_the_monitoring_item(world):
    engagement = world.engagement
    services.accuracy_check_add(
        engagement=engagement,
        values={"day": date(2026, 2, 1), "sampled": 20, "correct": 20},
        actor=world.architect,
    )
    assert not engagement.checklist_items.get(key="3c.accuracy").done  # seed: 50+ accounts
    services.accuracy_check_add(
        engagement=engagement,
        values={"day": date(2026, 2, 8), "sampled": 50, "correct": 47},
        actor=world.architect,
    )
    item = engagement.checklist_items.get(key="3c.accuracy")
    assert item.done and item.done_by == world.architect
    assert item.note == "Accuracy check of 08 Feb 2026: 47 of 50 correct"


def test_generating_the_schedule_ticks_the_schedule_items_not_the_triggers_one(rolled_out):
    engagement = rolled_out.engagement
    services.maintenance_generate(engagement=engagement, actor=rolled_out.architect)
    keys = ("4a.monthly", "4a.quarterly", "4a.first_cycle", "4a.annual", "4a.owner")
    assert _done(engagement, *keys, "4a.triggers") == {
        **dict.fromkeys(keys, True),
        "4a.triggers": False,
    }
    owner = engagement.checklist_items.get(key="4a.owner")
    assert owner.done_by == rolled_out.architect and "owner customer" in owner.note


def test_accuracy_check_refuses_more_correct_than_sampled(world):
    with pytest.raises(ValidationError) as exc:
        services.accuracy_check_add(
            engagement=world.engagement,
            values={"day": date(2026, 2, 1), "sampled": 10, "correct": 11},
            actor=None,
        )
    assert "correct" in exc.value.error_dict
    assert not AccuracyCheck.objects.exists()


def test_misrouted_issue_needs_the_account_id(world):
    with pytest.raises(ValidationError) as exc:
        services.issue_report(
            engagement=world.engagement,
            values={"kind": "misrouted", "severity": "high", "summary": "Wrong rep"},
            actor=None,
        )
    assert "account_id" in exc.value.error_dict


def test_schedule_needs_a_rollout_date(world):
    with pytest.raises(ValidationError, match="rollout date"):
        services.maintenance_generate(engagement=world.engagement, actor=None)


def test_schedule_regeneration_keeps_done_occurrences_and_is_idempotent(rolled_out):
    engagement = rolled_out.engagement
    first = services.maintenance_generate(engagement=engagement, actor=None)
    # 12 monthly x3, 4 quarterly x3, first cycle x3, 1 annual x3.
    assert first.total == first.created == 36 + 12 + 3 + 3
    assert services.maintenance_generate(engagement=engagement, actor=None).created == 0
    owners = set(engagement.maintenance_occurrences.values_list("owner", flat=True))
    assert owners == {"customer"}  # single project: the customer owns maintenance
    done = engagement.maintenance_occurrences.get(
        task_slug="account-loading-review", due=date(2026, 2, 15)
    )
    services.maintenance_done(
        occurrence=done, findings="3 of 120 new accounts misrouted.", red_flag_hit=False, actor=None
    )
    # The rollout moves a week: open occurrences move, the done one stays with its findings.
    services.hypercare_rollout_set(engagement=engagement, rollout=date(2026, 1, 22), actor=None)
    Engagement.objects.filter(pk=engagement.pk).update(type=Engagement.Type.DEDICATED)
    engagement.refresh_from_db()
    again = services.maintenance_generate(engagement=engagement, actor=None)
    assert again.kept_done == 1 and again.removed == 53 and again.total == 55
    done.refresh_from_db()
    assert done.done and done.findings.startswith("3 of 120")
    assert set(
        engagement.maintenance_occurrences.filter(done=False).values_list("owner", flat=True)
    ) == {"architect"}


def test_maintenance_done_needs_findings(rolled_out):
    services.maintenance_generate(engagement=rolled_out.engagement, actor=None)
    occurrence = MaintenanceOccurrence.objects.first()
    with pytest.raises(ValidationError):
        services.maintenance_done(
            occurrence=occurrence, findings="  ", red_flag_hit=False, actor=None
        )


def test_retention_of_a_dedicated_engagement_has_the_checkin_and_reminder(rolled_out):
    engagement = rolled_out.engagement
    assert services.retention(engagement=engagement).checkin is None  # single project
    assert services.retention(engagement=engagement).steps[0].startswith("Upsell")
    Engagement.objects.filter(pk=engagement.pk).update(type=Engagement.Type.DEDICATED)
    engagement.refresh_from_db()
    path = services.retention(engagement=engagement)
    assert path.checkin == date(2026, 4, 15) and path.reminder == date(2026, 4, 1)


def test_calendar_ics_parses_and_holds_every_event(rolled_out):
    engagement = rolled_out.engagement
    Engagement.objects.filter(pk=engagement.pk).update(type=Engagement.Type.DEDICATED)
    engagement.refresh_from_db()
    services.maintenance_generate(engagement=engagement, actor=None)
    text = services.calendar_ics(engagement=engagement)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    calendar = icalendar.Calendar.from_ical(text)
    assert calendar["VERSION"] == "2.0" and "Territory Design Portal" in str(calendar["PRODID"])
    events = calendar.walk("VEVENT")
    assert len(events) == 54 + 2
    uids = {str(e["UID"]) for e in events}
    assert len(uids) == len(events)
    first = min(events, key=lambda e: e.decoded("DTSTART"))
    assert first.decoded("DTSTART") == date(2026, 2, 15)  # all-day: a date, not a datetime
    assert "DTSTAMP" in first
    balance = next(e for e in events if "Territory balance review" in str(e["SUMMARY"]))
    assert ">20% variance" in str(balance["DESCRIPTION"])
    summaries = [str(e["SUMMARY"]) for e in events]
    assert any("refinement check-in in 2 weeks" in s for s in summaries)
    checkin = next(e for e in events if str(e["SUMMARY"]).endswith("refinement check-in"))
    assert checkin.decoded("DTSTART") == date(2026, 4, 15)


def test_feed_token_lookup_and_regeneration(world):
    feed = services.calendar_feed_get(engagement=world.engagement)
    assert services.engagement_for_feed_token(feed.token) == world.engagement
    old = feed.token
    services.calendar_feed_regenerate(engagement=world.engagement, actor=world.architect)
    assert services.engagement_for_feed_token(old) is None
    assert services.engagement_for_feed_token("") is None


def test_triggers_check_on_accuracy_and_roster_stores_the_latest(world):
    from territories.models import Rep

    engagement = world.engagement
    today = timezone.localdate()
    for name in ("Ann Hire", "Bob Hire", "Cy Hire"):
        Rep.objects.create(engagement=engagement, name=name, start_date=today)
    AccuracyCheck.objects.create(engagement=engagement, day=today, sampled=50, correct=40)
    rows = services.triggers_check(engagement=engagement)
    fired = {r.slug for r in rows if r.fired}
    assert fired == {"team-change", "routing-accuracy"}
    # Fixed: a better check and the latest evaluation replaces the previous one.
    AccuracyCheck.objects.create(
        engagement=engagement, day=today + timedelta(days=1), sampled=50, correct=50
    )
    services.triggers_check(engagement=engagement)
    assert TriggerEvaluation.objects.filter(engagement=engagement).count() == 4
    assert not TriggerEvaluation.objects.get(engagement=engagement, slug="routing-accuracy").fired
    assert engagement.activity.filter(verb="handoff.trigger_fired").count() == 2


@pytest.mark.slow
def test_triggers_and_sensitivity_on_an_approved_map(world):
    engagement = world.engagement
    make_universe(engagement, n=300)
    run = make_approved_run(engagement)
    rows = {r.slug: r for r in services.triggers_check(engagement=engagement)}
    # A freshly approved, balanced map: measured, and nothing has drifted yet (the test below
    # changes the data and sees both territory triggers fire).
    assert rows["value-drift"].value is not None and not rows["value-drift"].fired
    assert "approved run" in rows["balance-variance"].source
    sensitive = services.sensitive_territories(engagement=engagement)
    assert sensitive.run_number == run.number
    assert sensitive.basis_label
    for c in sensitive.concentration:
        assert c.share_pct >= 25.0
    for b in sensitive.borderline:
        assert abs(b.distance_pct) <= 10.0


@pytest.mark.slow
def test_sensitive_territories_are_cached_under_the_run_and_the_data_version(world):
    """The handoff page asks for them on every view; routing the universe again each time made
    it the slowest page under load. A change of the accounts makes a new answer."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from territories.models import Account

    cache.clear()
    engagement = world.engagement
    make_universe(engagement, n=300)
    make_approved_run(engagement)

    def call():
        with CaptureQueriesContext(connection) as ctx:
            result = services.sensitive_territories(engagement=engagement)
        return result, len(ctx.captured_queries)

    first, computed = call()
    again, cached = call()
    assert again == first
    # The approved run and the data version (accounts, valuation, roster) only.
    assert cached == 4 < computed
    biggest = Account.objects.filter(engagement=engagement).order_by("-value").first()
    Account.objects.filter(pk=biggest.pk).update(
        annual_revenue=10**12, value=10**9, updated_at=timezone.now()
    )
    changed, recomputed = call()
    assert recomputed == computed
    assert changed != first  # a trillion-dollar company moves the figures


def test_data_changed_after_approval_fires_the_drift_triggers_with_the_drift_checks_figures(
    world,
):
    from django.db.models import F

    from engagements.models import ActivityEvent
    from territories import design
    from territories.hierarchy import HierarchySpec
    from territories.models import Account, RunAtom, RunTerritory

    engagement = world.engagement
    make_universe(engagement, n=300)
    run = make_approved_run(engagement)

    def checked():
        drift = design.drift_check(engagement=engagement)
        rows = {r.slug: r for r in services.triggers_check(engagement=engagement)}
        # The triggers read the drift check's figures: the worst max/min ratio and the
        # largest deviation of value or account count from a pod's mean over pods of two or
        # more territories.
        pods = [
            p for p in drift["pods"] if sum(t["pod"] == p["pod"] for t in drift["territories"]) >= 2
        ]
        assert rows["balance-variance"].value == pytest.approx(
            max(max(p["max_deviation_pct"], p["max_count_deviation_pct"]) for p in pods), abs=0.06
        )
        assert rows["value-drift"].value == pytest.approx(
            max(p["max_min_ratio"] for p in pods), abs=1e-3
        )
        assert rows["value-drift"].source == f"approved run {run.pk} with today's accounts"
        return drift, rows

    calm, rows = checked()
    assert not rows["value-drift"].fired and not rows["balance-variance"].fired
    assert all(
        t["current_value"] == pytest.approx(t["approved_value"]) for t in calm["territories"]
    )

    # The accounts change after approval: every account of one SMB territory triples in value.
    territory = RunTerritory.objects.get(run=run, pod__key="smb", index=0)
    territories = list(RunTerritory.objects.filter(run=run).select_related("pod"))
    by_atom = {
        (pod, atom): key
        for pod, atom, key in RunAtom.objects.filter(run=run).values_list(
            "pod__key", "atom", "territory__key"
        )
    }
    frame, keys, _ = design.accounts_on_map(
        engagement=engagement,
        run=run,
        spec=HierarchySpec.from_json(run.hierarchy),
        territories=territories,
        by_atom=by_atom,
    )
    ids = frame["id"][keys == territory.key].tolist()
    assert ids
    Account.objects.filter(pk__in=ids).update(value=F("value") * 3)

    drift, rows = checked()
    row = next(t for t in drift["territories"] if t["key"] == territory.key)
    assert row["current_value"] == pytest.approx(3 * row["approved_value"])
    assert row["value_variance_pct"] == pytest.approx(200.0, abs=0.1)
    smb = next(p for p in drift["pods"] if p["pod"] == "smb")
    assert smb["two_x"] and smb["over_20"]
    for slug in ("value-drift", "balance-variance"):
        assert rows[slug].fired and territory.label in rows[slug].detail, rows[slug].detail
        stored = TriggerEvaluation.objects.get(engagement=engagement, slug=slug)
        assert stored.fired and stored.value == rows[slug].value
    fired = ActivityEvent.objects.filter(engagement=engagement, verb="handoff.trigger_fired")
    assert {e.summary.split(" — ")[0] for e in fired} >= {
        "Refinement trigger fired: Territory value drift",
        "Refinement trigger fired: Balance variance",
    }


def test_a_finished_audit_re_evaluates_the_accuracy_trigger(
    world, django_capture_on_commit_callbacks
):
    from routing.models import RoutingAudit

    with django_capture_on_commit_callbacks(execute=True):
        RoutingAudit.objects.create(
            engagement=world.engagement,
            file="audits/x.csv",
            original_name="x.csv",
            rollout_date=date(2026, 1, 1),
            compared=60,
            matches=50,
            accuracy=100 * 50 / 60,
            finished_at=timezone.now(),
        )
    row = TriggerEvaluation.objects.get(engagement=world.engagement, slug="routing-accuracy")
    assert row.fired and "50 of 60" in row.detail and "(audit)" in row.detail
    # An unfinished audit changes nothing.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        RoutingAudit.objects.create(
            engagement=world.other,
            file="audits/y.csv",
            original_name="y.csv",
            rollout_date=date(2026, 1, 1),
        )
    assert callbacks == []
