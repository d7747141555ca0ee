"""Dashboards: manager (every SPEC column, sort, filter, CSV, provider hooks), architect
(mine and what is due), customer portal home; query counts pinned."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagements import dashboard
from engagements.models import Role
from engagements.services import (
    SignoffEvidence,
    assumption_register,
    definitions_publish,
    feedback_add,
    hours_log,
    meeting_create,
    signoff_decide,
    signoff_publish,
)
from tests.factories import make_engagement, make_membership

EVIDENCE = SignoffEvidence("", "pytest", "test")


@pytest.fixture
def provider():
    """Register a column provider for the test and put back what it replaced afterwards (the
    apps' own providers stay registered for the tests that follow)."""
    replaced = {}

    def _provide(key, func):
        replaced.setdefault(key, dashboard._providers.get(key))
        dashboard.provide(key, func)

    yield _provide
    for key, previous in replaced.items():
        if previous is None:
            dashboard._providers.pop(key, None)
        else:
            dashboard._providers[key] = previous


def _rows(html):
    return html.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in html else ""


def test_manager_sees_every_column_for_every_engagement(world, client):
    hours_log(
        engagement=world.engagement,
        user=world.architect,
        date=timezone.localdate(),
        hours=12,
        phase_number=1,
    )
    signoff_publish(
        engagement=world.engagement,
        subject="icp_matrix",
        title="ICP",
        text="T1",
        actor=world.architect,
    )
    client.force_login(world.manager)
    html = client.get("/").content.decode()
    assert "<h1>Manager dashboard</h1>" in html
    for header in (
        "Phase · sub-phase",
        "Days in phase",
        "Next gate · blocked by",
        "ASSUMED",
        "Pending sign-offs",
        "Hours used / budget",
        "Calendar projection",
        "Balance variance",
        "Hypercare",
        "Refinement triggers",
    ):
        assert header in html
    body = _rows(html)
    assert world.engagement.name in body and world.other.name in body
    assert "1. Strategy" in body and "1a Pre-Kickoff" in body
    assert "Strategy gate" in body and "sign-off" in body
    assert "12 / 150" in body
    assert body.count("<td>—</td>") == 6  # three provided columns, no provider yet, two rows


def test_providers_fill_their_columns_in_one_call(world, client, provider):
    calls = []

    def variance(ids):
        calls.append(sorted(ids))
        return {world.engagement.pk: dashboard.Cell("8.2 %", sort=8.2, level="ok")}

    provider("balance_variance", variance)
    client.force_login(world.manager)
    body = _rows(client.get("/").content.decode())
    assert '<td class="level-ok">8.2 %</td>' in body
    assert calls == [sorted([world.engagement.pk, world.other.pk])]
    with pytest.raises(KeyError):
        dashboard.provide("made_up", variance)


def test_sorting_and_filtering(world, client, provider):
    provider("hypercare", lambda ids: {world.other.pk: dashboard.Cell("day 12 of 30", sort=12)})
    client.force_login(world.manager)
    asc = _rows(client.get("/?sort=engagement").content.decode())
    desc = _rows(client.get("/?sort=engagement&dir=desc").content.decode())
    assert asc.index("Alpha design") < asc.index("Beta design")
    assert desc.index("Beta design") < desc.index("Alpha design")
    by_hypercare = _rows(client.get("/?sort=hypercare").content.decode())
    assert by_hypercare.index("Beta design") < by_hypercare.index(
        "Alpha design"
    )  # values before blanks
    for key in (
        "customer",
        "phase",
        "days",
        "blockers",
        "assumed",
        "signoffs",
        "hours",
        "finish",
        "progress",
        "nonsense",
    ):
        assert client.get(f"/?sort={key}").status_code == 200
    only = _rows(client.get("/?q=bluepeak").content.decode())
    assert "Beta design" in only and "Alpha design" not in only
    assert "Alpha design" in _rows(client.get("/?phase=1").content.decode())
    assert _rows(client.get("/?phase=2").content.decode()) == ""
    assert "No engagement matches" in client.get("/?type=dedicated").content.decode()
    assert _rows(client.get("/?gate=ready").content.decode()) == ""
    assert "Alpha design" in _rows(client.get("/?gate=blocked").content.decode())


def test_csv_export_has_every_column_and_neutralises_formulas(world, client):
    world.engagement.name = '=HYPERLINK("http://evil")'
    world.engagement.save(update_fields=["name"])
    client.force_login(world.manager)
    response = client.get("/?format=csv&sort=engagement")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["Customer", "Engagement", "Type", "Phase"]
    assert rows[0][-3:] == ["Balance variance", "Hypercare", "Refinement triggers"]
    assert len(rows) == 3
    names = [r[1] for r in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in names


def test_ops_see_the_same_table(world, client):
    client.force_login(world.ops)
    html = client.get("/").content.decode()
    assert "<h1>Operations</h1>" in html and "Calendar projection" in html


def _busy(engagement, architect, customer):
    """An engagement with data in every table the dashboard reads."""
    meeting = meeting_create(
        engagement=engagement, kind="kickoff", scheduled_at=timezone.now(), actor=architect
    )
    feedback_add(meeting=meeting, text="Do it", actor=architect, owner=architect)
    assumption_register(engagement=engagement, key="a", category="tam", statement="Light", value=1)
    hours_log(
        engagement=engagement, user=architect, date=timezone.localdate(), hours=3, phase_number=1
    )
    for version in definitions_publish(engagement=engagement, actor=architect)[:3]:
        signoff_decide(
            version=version,
            decision="approved",
            signer=customer,
            signer_name="C",
            comment="",
            evidence=EVIDENCE,
        )


# Manager: 11 of its own plus one per provided column (balance variance, hypercare, refinement
# triggers); customer: 21 plus one per download provider (territory map, documentation package).
@pytest.mark.parametrize(
    ("username", "expected"), [("manager", 14), ("architect", 16), ("customer", 23)]
)
def test_dashboard_queries_do_not_grow_with_engagements(world, client, username, expected):
    _busy(world.engagement, world.architect, world.customer)
    client.force_login(getattr(world, username))

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i in range(6):
        engagement = make_engagement(world.org_a, name=f"Extra {i}")
        make_membership(engagement, world.architect, Role.ARCHITECT)
        make_membership(engagement, world.customer, Role.CUSTOMER_APPROVER)
        _busy(engagement, world.architect, world.customer)
    after = count()
    # Manager: session, user, engagements + the overview's eight (see engagement_overviews).
    # Architect: + memberships, meetings due, feedback, intake forms, uploads.
    # Customer: + memberships, intake forms, uploads, homework, feedback, certificates,
    # sign-off versions and records, the organization in the page header, the approved
    # territory maps of all the customer's engagements (territories.design.map_downloads) and
    # which of them have a territory object (routing.providers.routing_downloads).
    assert (before, after) == (expected, expected)


def test_architect_sees_what_is_due(world, client):
    meeting_create(
        engagement=world.engagement,
        kind="icp_tam_workshop",
        scheduled_at=timezone.now() + timezone.timedelta(days=2),
        actor=world.architect,
    )
    kickoff = meeting_create(
        engagement=world.engagement,
        kind="kickoff",
        scheduled_at=timezone.now(),
        actor=world.architect,
    )
    feedback_add(
        meeting=kickoff,
        text="Rework the hedge factor",
        actor=world.architect,
        owner=world.architect,
    )
    version = signoff_publish(
        engagement=world.engagement,
        subject="icp_matrix",
        title="ICP",
        text="T1",
        actor=world.architect,
    )
    signoff_decide(
        version=version,
        decision="declined",
        signer=world.customer,
        signer_name="",
        comment="No",
        evidence=EVIDENCE,
    )
    client.force_login(world.architect)
    html = client.get("/").content.decode()
    assert "<h1>My engagements</h1>" in html
    assert "What is due" in html
    assert "1a Pre-Kickoff" in html
    assert "The customer declined “icp_matrix”" in html
    assert "Intake form 0% complete, not submitted" in html
    assert "Upcoming: ICP/TAM Workshop" in html
    assert "Feedback for you (Kickoff Call): Rework the hedge factor" in html
    assert world.other.name not in html


def test_customer_portal_home(world, client):
    definitions_publish(engagement=world.engagement, actor=world.architect)
    version = signoff_publish(
        engagement=world.engagement,
        subject="icp_matrix",
        title="ICP tier matrix",
        text="T1",
        actor=world.architect,
    )
    record = signoff_decide(
        version=version,
        decision="approved",
        signer=world.customer,
        signer_name="Carla",
        comment="",
        evidence=EVIDENCE,
    )
    client.force_login(world.customer)
    html = client.get("/").content.decode()
    assert "<h1>Customer portal</h1>" in html
    assert "What we need from you" in html
    assert "Complete the intake form" in html
    assert "Review and sign: Enterprise" in html
    assert "Watch territory design intro video" in html  # their homework
    assert 'class="phase-bar"' in html and "4. Handoff" in html
    assert f"/signoffs/records/{record.pk}/certificate/" in html
    assert "Definition Alignment Document" in html
    assert world.other.name not in html and world.org_b.name not in html
    client.force_login(world.viewer)
    html = client.get("/").content.decode()
    assert "Sign-off waiting for your approver: Enterprise" in html
    assert "Review and sign" not in html


def test_customer_downloads_come_from_providers(world, client):
    def packages(engagement, user):
        return [
            dashboard.Download(
                "Documentation package v1", f"/engagements/{engagement.pk}/jobs/", "12 documents"
            )
        ]

    dashboard.provide_downloads(packages)
    try:
        client.force_login(world.customer)
        html = client.get("/").content.decode()
        assert "Documentation package v1" in html and "12 documents" in html
    finally:
        dashboard._download_providers.remove(packages)


def test_architects_due_list_caps_feedback_per_engagement(world, client):
    meeting = meeting_create(
        engagement=world.engagement,
        kind="kickoff",
        scheduled_at=timezone.now(),
        actor=world.architect,
    )
    for i in range(8):
        feedback_add(
            meeting=meeting, text=f"Point {i}", actor=world.architect, owner=world.architect
        )
    client.force_login(world.architect)
    html = client.get("/").content.decode()
    assert html.count("Feedback for you (Kickoff Call)") == 5
    assert "…and 3 more open feedback items for you" in html


def test_the_manager_table_is_paged_after_filtering_and_sorting_every_engagement(
    world, client, monkeypatch
):
    from engagements.views import dashboards

    monkeypatch.setattr(dashboards, "DASHBOARD_PAGE_SIZE", 2)
    for i in range(3):
        make_engagement(world.org_a, name=f"Zeta {i}")
    client.force_login(world.manager)
    names = sorted(
        [world.engagement.name, world.other.name, "Zeta 0", "Zeta 1", "Zeta 2"], reverse=True
    )

    first = client.get("/?sort=engagement&dir=desc&q=").content.decode()
    assert "5 shown" in first  # the count covers every engagement, not the page
    assert [n for n in names if n in _rows(first)] == names[:2]
    assert "Page 1 of 3, 1–2 of 5" in first
    # The next page keeps the filter and the sort.
    assert 'href="?q=&amp;sort=engagement&amp;dir=desc&amp;page=2" rel="next"' in first
    last = client.get("/?q=&sort=engagement&dir=desc&page=3").content.decode()
    assert [n for n in names if n in _rows(last)] == names[4:]
    assert 'rel="next"' not in last
    # A page past the end shows the last one; the CSV has every row whatever the page.
    assert "Page 3 of 3" in client.get("/?page=99").content.decode()
    csv_rows = client.get("/?format=csv&page=1").content.decode().strip().splitlines()
    assert len(csv_rows) == 1 + 5


def test_each_engagement_projects_with_its_own_templates_calendar(world):
    from engagements.models import Engagement, PlaybookTemplate

    template = PlaybookTemplate.objects.get(pk=world.engagement.playbook_template_id)
    slow = PlaybookTemplate.objects.create(
        name="Slow calendar",
        version=template.version + 1,
        data={
            **template.data,
            "calendar": {"hours_low": 100, "months_low": 4, "hours_high": 200, "months_high": 6},
        },
    )
    Engagement.objects.filter(pk=world.other.pk).update(playbook_template=slow, hour_budget=150)
    Engagement.objects.filter(pk=world.engagement.pk).update(hour_budget=150)
    rows = {
        o.engagement.pk: o
        for o in dashboard.engagement_overviews(
            list(Engagement.objects.filter(pk__in=[world.engagement.pk, world.other.pk]))
        )
    }
    assert rows[world.engagement.pk].projection.months == 2.5  # seed 000: 100-200 h, 2-3 months
    assert rows[world.other.pk].projection.months == 5.0


def test_the_manager_dashboard_reuses_overviews_until_something_happens(world, client, settings):
    """With DASHBOARD_CACHE_SECONDS each engagement's overview is reused while no activity is
    recorded on it; any service that changes what it reads records one, so the next view
    computes that engagement's overview afresh, and only that one."""
    from django.core.cache import cache

    from engagements.services import checklist_toggle

    cache.clear()
    settings.DASHBOARD_CACHE_SECONDS = 300
    _busy(world.engagement, world.architect, world.customer)
    _busy(world.other, world.architect2, world.customer2)
    client.force_login(world.manager)

    def view():
        with CaptureQueriesContext(connection) as ctx:
            html = client.get("/").content.decode()
        return _rows(html), len(ctx.captured_queries)

    first, computed = view()
    again, reused = view()
    # Reused: session, user, engagements, the newest activity per engagement, the three
    # provided columns; not the overview's eight.
    assert reused == 7 < computed == 15
    assert again == first
    item = world.engagement.checklist_items.filter(done=False, required=True).first()
    checklist_toggle(item=item, done=True, actor=world.architect)
    with CaptureQueriesContext(connection) as ctx:
        rows = dashboard.engagement_overviews_reused([world.engagement, world.other])
    phases = [q["sql"] for q in ctx.captured_queries if 'FROM "engagements_phase"' in q["sql"]]
    assert len(phases) == 1 and f"({world.engagement.pk})" in phases[0]  # only the changed one
    fresh = dashboard.engagement_overviews([world.engagement, world.other])
    for reused_row, fresh_row in zip(rows, fresh, strict=True):
        assert reused_row.blockers_summary == fresh_row.blockers_summary
        assert reused_row.progress == fresh_row.progress
        assert reused_row.cells.keys() == fresh_row.cells.keys()
    changed, recomputed = view()
    assert changed != first
    # A day later the days in phase and the projections move: new keys.
    tomorrow = timezone.localdate() + timezone.timedelta(days=1)
    later = dashboard.engagement_overviews_reused([world.engagement], today=tomorrow)
    assert later[0].days_in_phase == (
        dashboard.engagement_overviews([world.engagement], today=tomorrow)[0].days_in_phase
    )


def test_a_closed_engagement_shows_when_it_closed_not_a_forecast(world, client):
    """Once the last phase closed the calendar has an outcome: the dashboard, the CSV and the
    engagement page give the closing day beside the plan, no "at this pace" forecast and no
    "at risk" flag, though the plan ran past a fiscal-year start that is now behind us."""
    from datetime import timedelta

    from engagements.models import Engagement, Phase

    today = timezone.localdate()
    # 150 h plan 76 days: started 50 days ago, it was due 26 days from now, after the fiscal
    # year started (10 days ago); it closed 20 days ago.
    Engagement.objects.filter(pk__in=[world.engagement.pk, world.other.pk]).update(
        start_date=today - timedelta(days=50),
        fiscal_year_start=today - timedelta(days=10),
        hour_budget=150,
    )
    closed_at = timezone.now() - timedelta(days=20)
    day = timezone.localtime(closed_at).date()
    Phase.objects.filter(engagement=world.engagement).update(
        status=Phase.Status.CLOSED, closed_at=closed_at
    )
    client.force_login(world.manager)
    rows = _rows(client.get("/?sort=engagement").content.decode())
    ours, theirs = (
        next(r for r in rows.split("<tr")[1:] if f"/engagements/{e.pk}/" in r)
        for e in (world.engagement, world.other)
    )
    assert f"closed</span> {day:%-d %b %Y}" in ours and "at risk" not in ours
    assert "at this pace" not in ours
    assert "at risk" in theirs  # still open, planned past the fiscal-year start
    csv_rows = list(csv.reader(io.StringIO(client.get("/?format=csv").content.decode())))
    closed_col = csv_rows[0].index("Closed on")
    by_name = {r[1]: r for r in csv_rows[1:]}
    assert by_name[world.engagement.name][closed_col] == day.isoformat()
    assert by_name[world.engagement.name][csv_rows[0].index("At risk")] == "no"
    assert by_name[world.other.name][closed_col] == ""
    client.force_login(world.architect)
    page = client.get(f"/engagements/{world.engagement.pk}/").content.decode()
    assert f"Closed {day:%-d %b %Y} (planned finish" in page
    assert "after the fiscal-year start" not in page  # closed before it started
