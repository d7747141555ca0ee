"""Handoff pages through the test client: who may see and change what, bad input, the
calendar feed at its secret URL, query counts, and the check_triggers command."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

import icalendar
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from handoff import services
from handoff.models import (
    AccuracyCheck,
    HypercareIssue,
    MaintenanceOccurrence,
    OfficeHours,
    TrainingSession,
    TriggerEvaluation,
)
from tests.factories import make_engagement, make_org

PAGES = ("enablement", "hypercare", "maintenance", "trigger_list")


def _url(name, engagement, *args):
    return reverse(f"handoff:{name}", args=[engagement.pk, *args])


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    "who,status",
    [
        ("architect", 200),
        ("engineer", 200),
        ("manager", 200),
        ("ops", 200),
        ("customer", 200),
        ("viewer", 200),
        ("customer2", 404),
        ("outsider", 404),
    ],
)
def test_pages_answer_by_role(world, login, page, who, status):
    response = login(getattr(world, who)).get(_url(page, world.engagement))
    assert response.status_code == status


@pytest.mark.parametrize(
    "who,status",
    [("architect", 200), ("manager", 200), ("ops", 200), ("customer", 403), ("viewer", 403)],
)
def test_handoff_notes_page_is_internal(world, login, who, status):
    assert login(getattr(world, who)).get(_url("handoff", world.engagement)).status_code == status


def test_customer_approver_sees_hypercare_but_cannot_edit_architect_things(world, login):
    client = login(world.customer)
    page = client.get(_url("hypercare", world.engagement))
    assert b'id="issue-form"' in page.content  # may report an issue
    assert (
        b'id="rollout-form"' not in page.content and b'id="office-hours-form"' not in page.content
    )
    assert client.post(_url("enablement", world.engagement)).status_code == 403
    assert client.post(_url("maintenance", world.engagement)).status_code == 403
    assert client.post(_url("calendar_regenerate", world.engagement)).status_code == 403
    assert (
        client.post(
            _url("hypercare_rollout", world.engagement), {"rollout_date": "2026-01-01"}
        ).status_code
        == 403
    )
    assert not TrainingSession.objects.exists()


def test_customer_reports_an_issue_and_the_architect_resolves_it(world, login):
    client = login(world.customer)
    response = client.post(
        _url("issue_add", world.engagement),
        {
            "kind": "misrouted",
            "severity": "high",
            "summary": "Acme went to West 2",
            "account_id": "NW-17",
        },
    )
    assert response.status_code == 302
    issue = HypercareIssue.objects.get(engagement=world.engagement)
    assert issue.reported_by == world.customer and issue.state == "open"
    assert (
        client.post(
            _url("issue_resolve", world.engagement, issue.pk), {"resolution": "x"}
        ).status_code
        == 403
    )
    login(world.architect).post(
        _url("issue_resolve", world.engagement, issue.pk),
        {"resolution": "Named-account override added."},
    )
    issue.refresh_from_db()
    assert issue.state == "resolved" and issue.resolved_by == world.architect


def test_viewer_and_engineer_cannot_report_issues(world, login):
    for who in (world.viewer, world.engineer):
        response = login(who).post(
            _url("issue_add", world.engagement),
            {"kind": "question", "severity": "low", "summary": "?"},
        )
        assert response.status_code == 403
    assert not HypercareIssue.objects.exists()


def _prefixed(session, **values):
    return {f"t{session.pk}-{k}": v for k, v in values.items()}


def test_architect_plans_trainings_and_records_delivery(world, login):
    client = login(world.architect)
    client.post(_url("enablement", world.engagement))
    client.post(_url("enablement", world.engagement))  # a second click changes nothing
    assert world.engagement.training_sessions.count() == 5
    session = world.engagement.training_sessions.get(audience_slug="leadership")
    response = client.post(
        _url("training_save", world.engagement, session.pk),
        _prefixed(
            session,
            day="2026-02-03",
            state="delivered",
            minutes="45",
            recording_url="https://videos.example.com/leadership",
            attendees="Carla (CRO), Dan (VP Sales)",
        ),
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.state == "delivered" and session.day == date(2026, 2, 3)
    page = client.get(_url("enablement", world.engagement))
    assert b"1 of 5 delivered" in page.content


def test_training_form_names_the_bad_field(world, login):
    services.trainings_generate(engagement=world.engagement, actor=None)
    session = world.engagement.training_sessions.get(audience_slug="reps")
    client = login(world.architect)
    response = client.post(
        _url("training_save", world.engagement, session.pk),
        _prefixed(session, state="delivered", recording_url="not a link"),
    )
    assert response.status_code == 400
    assert b"Enter a valid URL" in response.content
    assert f'id="training-form-{session.pk}"'.encode() in response.content
    response = client.post(
        _url("training_save", world.engagement, session.pk), _prefixed(session, state="scheduled")
    )
    assert response.status_code == 400 and b"needs its date" in response.content
    session.refresh_from_db()
    assert session.state == "planned"


def test_another_engagements_objects_are_404(world, login):
    services.trainings_generate(engagement=world.other, actor=None)
    foreign = world.other.training_sessions.first()
    issue = HypercareIssue.objects.create(engagement=world.other, kind="bug", summary="x")
    client = login(world.architect)
    assert (
        client.post(
            _url("training_save", world.engagement, foreign.pk), _prefixed(foreign, state="planned")
        ).status_code
        == 404
    )
    assert (
        client.post(
            _url("issue_resolve", world.engagement, issue.pk), {"resolution": "y"}
        ).status_code
        == 404
    )
    assert client.get(_url("hypercare", world.other)).status_code == 404


def test_office_hours_and_accuracy_forms_report_bad_input(world, login):
    client = login(world.architect)
    response = client.post(_url("office_hours_add", world.engagement), {"day": "31/02/2026"})
    assert response.status_code == 400 and b"Enter a valid date" in response.content
    response = client.post(
        _url("accuracy_add", world.engagement),
        {"day": "2026-02-01", "sampled": "50", "correct": "51"},
    )
    assert response.status_code == 400
    assert b"cannot exceed accounts sampled (50)" in response.content
    assert not OfficeHours.objects.exists() and not AccuracyCheck.objects.exists()
    response = client.post(
        _url("issue_add", world.engagement),
        {"kind": "misrouted", "severity": "low", "summary": "x"},
    )
    assert response.status_code == 400 and b"needs its CRM account id" in response.content


class _Labels(HTMLParser):
    """Element ids of a page, and each label's ``for`` with the id of the form it sits in."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.form_of: dict[str, str] = {}  # field id -> id of its form
        self.labels: list[tuple[str, str]] = []  # (for, id of the label's form)
        self._form = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = attrs.get("id") or attrs.get("action", "")
        if "id" in attrs:
            self.ids.append(attrs["id"])
            self.form_of.setdefault(attrs["id"], self._form)
        if tag == "label" and attrs.get("for"):
            self.labels.append((attrs["for"], self._form))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = ""


@pytest.mark.parametrize("name", ["hypercare", "enablement", "maintenance", "handoff"])
def test_every_label_on_a_handoff_page_points_at_a_field_of_its_own_form(world, login, name):
    # The hypercare page shows the rollout, office hours, issue and accuracy forms at once; two
    # have a "Date" field, which both had the id "id_day": the accuracy form's label pointed at
    # the office hours field (found by the browser journey).
    services.hypercare_rollout_set(
        engagement=world.engagement, rollout=date(2026, 1, 15), actor=world.architect
    )
    services.trainings_generate(engagement=world.engagement, actor=world.architect)
    services.maintenance_generate(engagement=world.engagement, actor=world.architect)
    response = login(world.architect).get(_url(name, world.engagement))
    assert response.status_code == 200
    parsed = _Labels()
    parsed.feed(response.content.decode())
    duplicates = sorted({i for i in parsed.ids if parsed.ids.count(i) > 1})
    assert duplicates == []
    assert parsed.labels, "the page has no labelled field"
    for target, form in parsed.labels:
        assert target in parsed.form_of, f"label for {target!r} points at nothing"
        assert parsed.form_of[target] == form, f"label for {target!r} is outside its field's form"


def test_ops_records_an_accuracy_check_customer_cannot(world, login):
    data = {"day": "2026-02-01", "sampled": "50", "correct": "44"}
    assert (
        login(world.customer).post(_url("accuracy_add", world.engagement), data).status_code == 403
    )
    assert login(world.ops).post(_url("accuracy_add", world.engagement), data).status_code == 302
    assert AccuracyCheck.objects.get().correct == 44


def test_maintenance_page_generates_and_marks_done(world, login):
    client = login(world.architect)
    client.post(_url("hypercare_rollout", world.engagement), {"rollout_date": "2026-01-15"})
    client.post(_url("maintenance", world.engagement))
    occurrence = MaintenanceOccurrence.objects.filter(engagement=world.engagement).first()
    response = client.post(
        _url("occurrence_done", world.engagement, occurrence.pk),
        {"findings": "Two departed reps still on territories.", "red_flag_hit": "on"},
    )
    assert response.status_code == 302
    occurrence.refresh_from_db()
    assert occurrence.done and occurrence.red_flag_hit and occurrence.done_by == world.architect
    other = MaintenanceOccurrence.objects.filter(engagement=world.engagement, done=False).first()
    client.post(_url("occurrence_done", world.engagement, other.pk), {"findings": " "})
    other.refresh_from_db()
    assert not other.done and not other.findings


@pytest.mark.parametrize("kind", ["single_project", "dedicated"])
def test_the_customer_marks_maintenance_done_when_they_own_it(world, login, kind):
    """Seed 000: a single project hands maintenance to the customer, a dedicated engagement
    keeps it with the architect — so the customer approver marks checks done only in the first;
    the viewer, engineer and ops never do."""
    world.engagement.type = kind
    world.engagement.save(update_fields=["type"])
    services.hypercare_rollout_set(
        engagement=world.engagement, rollout=date(2026, 1, 15), actor=None
    )
    services.maintenance_generate(engagement=world.engagement, actor=None)
    occurrence = MaintenanceOccurrence.objects.filter(engagement=world.engagement).first()
    done_url = _url("occurrence_done", world.engagement, occurrence.pk)
    data = {"findings": "Loading review: 12 new accounts, all routed."}
    for role in ("viewer", "engineer", "ops"):
        assert login(getattr(world, role)).post(done_url, data).status_code == 403
    customer = login(world.customer)
    page = customer.get(_url("maintenance", world.engagement)).content.decode()
    owns = kind == "single_project"
    assert (done_url in page) is owns
    assert customer.post(done_url, data).status_code == (302 if owns else 403)
    occurrence.refresh_from_db()
    assert occurrence.done is owns
    if owns:
        assert occurrence.done_by == world.customer and occurrence.findings == data["findings"]


def test_calendar_feed_needs_no_login_and_a_wrong_token_is_404(world, client):
    services.hypercare_rollout_set(
        engagement=world.engagement, rollout=date(2026, 1, 15), actor=None
    )
    services.maintenance_generate(engagement=world.engagement, actor=None)
    token = services.calendar_feed_get(engagement=world.engagement).token
    response = client.get(reverse("handoff_calendar_feed", args=[token]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    assert len(calendar.walk("VEVENT")) == 54
    # One character changed (never to itself: a token ending in "x" made this test pass a 200).
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")
    assert client.get(reverse("handoff_calendar_feed", args=[wrong])).status_code == 404
    assert client.get(reverse("handoff_calendar_feed", args=["nope"])).status_code == 404


def test_regenerating_the_feed_link_retires_the_old_one(world, login, client):
    old = services.calendar_feed_get(engagement=world.engagement).token
    login(world.architect).post(_url("calendar_regenerate", world.engagement))
    assert client.get(reverse("handoff_calendar_feed", args=[old])).status_code == 404


def _hypercare_data(engagement, n):
    today = timezone.localdate()
    for i in range(n):
        OfficeHours.objects.create(engagement=engagement, day=today, attendees="A", topics="T")
        HypercareIssue.objects.create(engagement=engagement, kind="bug", summary=f"Issue {i}")
        AccuracyCheck.objects.create(engagement=engagement, day=today, sampled=50, correct=48)


def test_hypercare_page_query_count_is_constant(world, login):
    client = login(world.architect)
    _hypercare_data(world.engagement, 1)
    client.get(_url("hypercare", world.engagement))  # the first visit creates the hypercare row
    with CaptureQueriesContext(connection) as small:
        assert client.get(_url("hypercare", world.engagement)).status_code == 200
    _hypercare_data(world.engagement, 20)
    with CaptureQueriesContext(connection) as large:
        assert client.get(_url("hypercare", world.engagement)).status_code == 200
    assert len(large) == len(small)


def test_maintenance_page_query_count_is_constant(world, login):
    client = login(world.architect)
    services.hypercare_rollout_set(
        engagement=world.engagement, rollout=date(2026, 1, 15), actor=None
    )
    services.maintenance_generate(engagement=world.engagement, actor=None, months=1)
    client.get(_url("maintenance", world.engagement))  # the first visit creates the feed token
    with CaptureQueriesContext(connection) as small:
        client.get(_url("maintenance", world.engagement))
    services.maintenance_generate(engagement=world.engagement, actor=None)
    with CaptureQueriesContext(connection) as large:
        client.get(_url("maintenance", world.engagement))
    assert len(large) == len(small)


def test_dashboard_providers_answer_in_one_query_whatever_the_count(
    world, django_assert_num_queries
):
    engagements = [world.engagement, world.other]
    org = make_org("Third Co")
    engagements += [make_engagement(org, name=f"E{i}") for i in range(4)]
    today = timezone.localdate()
    for e in engagements:
        services.hypercare_rollout_set(engagement=e, rollout=today - timedelta(days=3), actor=None)
        AccuracyCheck.objects.create(engagement=e, day=today, sampled=50, correct=40)
        services.triggers_check(engagement=e)
    ids = [e.pk for e in engagements]
    with django_assert_num_queries(1):
        cells = services.hypercare_cells(ids)
    assert cells[world.engagement.pk].text == "Day 4 of 30"
    with django_assert_num_queries(1):
        triggers = services.trigger_cells(ids)
    assert triggers[world.other.pk].text == "Routing accuracy degradation"
    assert triggers[world.other.pk].level == "bad"


def test_engagement_page_and_dashboard_show_fired_triggers(world, login):
    AccuracyCheck.objects.create(
        engagement=world.engagement, day=timezone.localdate(), sampled=50, correct=40
    )
    services.triggers_check(engagement=world.engagement)
    page = login(world.architect).get(
        reverse("engagements:engagement_detail", args=[world.engagement.pk])
    )
    assert b'id="fired-triggers"' in page.content
    assert b"40 of 50 accounts routed correctly" in page.content


def test_triggers_page_check_now_is_internal(world, login):
    assert login(world.customer).post(_url("trigger_list", world.engagement)).status_code == 403
    login(world.architect).post(_url("trigger_list", world.engagement))
    page = login(world.customer).get(_url("trigger_list", world.engagement))
    assert b"No accuracy check yet." in page.content


def test_handoff_page_saves_notes_and_debrief(world, login):
    client = login(world.architect)
    client.post(_url("notes_save", world.engagement), {"text": "Texas split is political."})
    client.post(
        _url("debrief_save", world.engagement),
        {"went_well": "Two balancing rounds only.", "improve": "", "lessons": ""},
    )
    page = client.get(_url("handoff", world.engagement))
    assert b"Texas split is political." in page.content
    assert b"Two balancing rounds only." in page.content
    assert b"4c" in page.content and b"4d" in page.content
    assert b"Architect" in page.content  # escalation guidelines from the playbook
    # An empty debrief is refused with a message.
    response = client.post(_url("debrief_save", world.engagement), {}, follow=True)
    assert b"Write at least one part of the debrief" in response.content
    assert (
        login(world.manager).post(_url("notes_save", world.engagement), {"text": "x"}).status_code
        == 403
    )


def test_check_triggers_exits_1_when_a_trigger_fired_0_when_none_and_2_on_bad_input(world, capsys):
    # Nothing to check yet: 0.
    call_command("check_triggers")
    assert "No engagement has an approved map" in capsys.readouterr().out
    # A healthy engagement: every trigger checked, none fired, 0.
    AccuracyCheck.objects.create(
        engagement=world.engagement,
        day=timezone.localdate() - timedelta(days=1),
        sampled=10,
        correct=10,
    )
    call_command("check_triggers", world.engagement.name)
    out = capsys.readouterr().out
    assert "No trigger fired across 1 engagement(s)." in out and "FIRED" not in out
    # Accuracy falls to 50 %: the trigger fires, is printed and stored, and the exit status is 1.
    AccuracyCheck.objects.create(
        engagement=world.engagement, day=timezone.localdate(), sampled=10, correct=5
    )
    with pytest.raises(SystemExit) as exit_:
        call_command("check_triggers", str(world.engagement.pk))
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "FIRED" in out and "Routing accuracy degradation" in out and "5 of 10" in out
    assert "1 trigger(s) fired across 1 engagement(s)." in out
    assert TriggerEvaluation.objects.get(engagement=world.engagement, slug="routing-accuracy").fired
    # Bad input: a one-line error and 2 (what manage.py exits with, as for a bad option).
    for value, message in (("999999", "No engagement with id 999999"), ("Nobody", "'Nobody'")):
        with pytest.raises(CommandError, match=message) as error:
            call_command("check_triggers", value)
        assert error.value.returncode == 2


def test_viewing_the_handoff_pages_stores_nothing(world, login):
    """A GET changes nothing stored, also the first view of a fresh engagement (no hypercare
    row, no calendar link yet): the permission matrix fingerprints the database around its GETs
    but builds those rows first, so this is where the first view is checked."""
    from tests.matrix_support import data_fingerprint, fingerprint_changes

    client = login(world.viewer)
    before = data_fingerprint()
    for page in (*PAGES, "package_list"):
        assert client.get(_url(page, world.engagement)).status_code == 200, page
    assert b"No calendar link yet" in client.get(_url("maintenance", world.engagement)).content
    login(world.architect)
    assert client.get(_url("handoff", world.engagement)).status_code == 200
    assert fingerprint_changes(before, data_fingerprint()) == []
    # The link is made with the schedule.
    services.hypercare_rollout_set(
        engagement=world.engagement, rollout=date(2026, 1, 15), actor=None
    )
    services.maintenance_generate(engagement=world.engagement, actor=None)
    token = world.engagement.calendar_feed.token
    assert token in client.get(_url("maintenance", world.engagement)).content.decode()
