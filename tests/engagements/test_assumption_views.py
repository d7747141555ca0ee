"""The assumptions register pages: filters, adding, decisions in a meeting, blocking flag."""

from __future__ import annotations

from engagements.models import Assumption
from engagements.services import assumption_decide, assumption_register
from tests.factories import make_meeting

HX = {"HTTP_HX_REQUEST": "true"}


def _url(world, suffix=""):
    return f"/engagements/{world.engagement.pk}/assumptions/{suffix}"


def _seed(world):
    meeting = make_meeting(world.engagement, title="Kickoff")
    hedge = assumption_register(
        engagement=world.engagement,
        key="valuation.hedge_factor",
        category="valuation",
        statement="Prospects at 0.6 × benchmark",
        value=0.6,
        source="territories",
    )
    tiers = assumption_register(
        engagement=world.engagement,
        key="icp.t1",
        category="icp_tiers",
        statement="T1 is Software 500+",
        value={"employees_gte": 500},
    )
    assumption_decide(assumption=tiers, decision="confirm", meeting=meeting, actor=world.architect)
    return meeting, hedge, tiers


def test_filters_by_state_category_and_blocking(world, client):
    _seed(world)
    client.force_login(world.viewer)
    html = client.get(_url(world, "?state=confirmed")).content.decode()
    assert "T1 is Software 500+" in html and "Prospects at 0.6" not in html
    html = client.get(_url(world, "?category=valuation")).content.decode()
    assert "Prospects at 0.6" in html and "T1 is Software" not in html
    html = client.get(_url(world, "?blocking=1")).content.decode()
    # Only the Enterprise threshold that the definitions use is blocking.
    assert "Enterprise means" in html and "Prospects at 0.6" not in html
    # An unknown filter value is ignored rather than failing.
    assert client.get(_url(world, "?state=bogus")).status_code == 200


def test_architect_adds_an_assumption(world, client):
    client.force_login(world.architect)
    response = client.post(
        _url(world),
        {
            "category": "coverage",
            "statement": "A ramped AE covers 25 accounts",
            "value": "25",
            "blocking": "on",
        },
    )
    assert response.status_code == 302
    assumption = Assumption.objects.get(
        engagement=world.engagement, statement="A ramped AE covers 25 accounts"
    )
    assert assumption.key == "coverage.a-ramped-ae-covers-25-accounts"
    assert (assumption.value, assumption.blocking, assumption.state, assumption.source) == (
        25,
        True,
        "assumed",
        "",
    )
    response = client.post(_url(world), {"category": "nonsense", "statement": ""})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_correct_in_a_meeting_records_value_and_history(world, client):
    meeting, hedge, _ = _seed(world)
    client.force_login(world.architect)
    url = _url(world, f"{hedge.pk}/")
    response = client.post(
        url, {"decision": "correct", "meeting": meeting.pk, "value": "0.5", "note": "VP Sales"}
    )
    assert response.status_code == 302
    hedge.refresh_from_db()
    assert (hedge.state, hedge.corrected_value, hedge.meeting) == ("corrected", 0.5, meeting)
    html = client.get(url).content.decode()
    assert "ASSUMED → CORRECTED" in html and "in Kickoff" in html and "VP Sales" in html


def test_bad_decisions_explain_themselves_and_change_nothing(world, client):
    meeting, hedge, _ = _seed(world)
    client.force_login(world.architect)
    url = _url(world, f"{hedge.pk}/")
    html = client.post(
        url, {"decision": "correct", "meeting": meeting.pk, "value": "0,55"}
    ).content.decode()
    assert "is not" in html and "0,55" in html
    html = client.post(url, {"decision": "confirm"}).content.decode()
    assert "Choose the meeting in which this was decided." in html
    foreign = make_meeting(world.other)
    html = client.post(url, {"decision": "confirm", "meeting": foreign.pk}).content.decode()
    assert "Select a valid choice" in html
    hedge.refresh_from_db()
    assert hedge.state == "assumed"


def test_blocking_flag_toggles_in_place(world, client):
    _, hedge, _ = _seed(world)
    client.force_login(world.architect)
    response = client.post(_url(world, f"{hedge.pk}/blocking/"), {"blocking": "1"}, **HX)
    html = response.content.decode()
    assert html.lstrip().startswith(f'<span id="blocking-{hedge.pk}"')
    assert "blocking" in html
    hedge.refresh_from_db()
    assert hedge.blocking
    assert hedge.history.filter(event="blocking").exists()


def test_list_query_count_does_not_grow(world, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.architect)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            client.get(_url(world))
        return len(ctx.captured_queries)

    before = count()
    meeting = make_meeting(world.engagement)
    for i in range(15):
        a = assumption_register(
            engagement=world.engagement, key=f"k{i}", category="other", statement=f"S{i}", value=i
        )
        assumption_decide(assumption=a, decision="confirm", meeting=meeting, actor=None)
    # session, user, engagement, role, the rows (with their meeting), the state counts.
    assert count() == before == 6
