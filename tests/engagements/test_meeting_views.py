"""Meetings: created from a type with the agenda pre-filled, feedback, "after the meeting"."""

from __future__ import annotations

from django.utils import timezone

from engagements.models import ChecklistItem, FeedbackItem, Meeting
from engagements.services import (
    assumption_decide,
    assumption_register,
    feedback_add,
    meeting_create,
)

HX = {"HTTP_HX_REQUEST": "true"}


def _url(world, suffix=""):
    return f"/engagements/{world.engagement.pk}/meetings/{suffix}"


def test_a_meeting_starts_with_the_playbook_agenda(world, client):
    client.force_login(world.architect)
    response = client.post(
        _url(world), {"kind": "kickoff", "scheduled_at": "2026-03-02T10:00", "title": ""}
    )
    meeting = Meeting.objects.get(engagement=world.engagement)
    assert response.url == _url(world, f"{meeting.pk}/")
    assert (meeting.title, meeting.subphase, meeting.status) == ("Kickoff Call", "1b", "planned")
    for line in (
        "0-20 min  Walk through v0 ICP + TAM",
        "35-50 min  Definition alignment: Review key terms: segment thresholds, named accounts",
        "What we leave with",
        "- ICP workshop scheduled",
        "Track what moved from ASSUMED -> CONFIRMED",
    ):
        assert line in meeting.agenda
    html = client.get(_url(world, f"{meeting.pk}/")).content.decode()
    assert "Walk through v0 ICP + TAM" in html


def test_bad_meeting_input_is_refused(world, client):
    client.force_login(world.architect)
    html = client.post(_url(world), {"kind": "party", "scheduled_at": "tomorrow"}).content.decode()
    assert "Select a valid choice" in html and "Enter a valid date/time" in html
    assert not Meeting.objects.exists()


def test_editing_notes_attendees_and_marking_held_ticks_the_checklist(world, client):
    meeting = meeting_create(
        engagement=world.engagement,
        kind="kickoff",
        scheduled_at=timezone.now(),
        actor=world.architect,
    )
    client.force_login(world.architect)
    response = client.post(
        _url(world, f"{meeting.pk}/"),
        {
            "title": "Kickoff with Northwind",
            "scheduled_at": "2026-03-02T10:00",
            "status": "held",
            "attendees": [world.customer.pk, world.architect.pk],
            "other_attendees": "Dana Whitfield, VP Sales",
            "agenda": meeting.agenda,
            "notes": "Enterprise is $500M for them.",
        },
    )
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == "held" and meeting.notes == "Enterprise is $500M for them."
    assert set(meeting.attendees.all()) == {world.customer, world.architect}
    assert ChecklistItem.objects.get(engagement=world.engagement, key="1b.held").done
    # Someone outside the engagement cannot be an attendee.
    html = client.post(
        _url(world, f"{meeting.pk}/"),
        {
            "title": "x",
            "scheduled_at": "2026-03-02T10:00",
            "status": "held",
            "attendees": [world.customer2.pk],
        },
    ).content.decode()
    assert "Select a valid choice" in html


def test_feedback_with_owner_assumption_and_document(world, client):
    meeting = meeting_create(
        engagement=world.engagement,
        kind="kickoff",
        scheduled_at=timezone.now(),
        actor=world.architect,
    )
    assumption = assumption_register(
        engagement=world.engagement,
        key="v.h",
        category="valuation",
        statement="Hedge 0.6",
        value=0.6,
    )
    client.force_login(world.architect)
    client.post(
        _url(world, f"{meeting.pk}/feedback/"),
        {
            "text": "Benchmark on ARR",
            "owner": world.customer.pk,
            "assumption": assumption.pk,
            "document": "valuation-spreadsheet",
        },
    )
    item = FeedbackItem.objects.get()
    assert (item.owner, item.assumption, item.document, item.status) == (
        world.customer,
        assumption,
        "valuation-spreadsheet",
        "open",
    )
    response = client.post(
        f"/engagements/{world.engagement.pk}/feedback/{item.pk}/status/",
        {"status": "applied"},
        **HX,
    )
    assert response.content.decode().lstrip().startswith(f'<li id="feedback-{item.pk}"')
    item.refresh_from_db()
    assert item.status == "applied" and item.resolved_by == world.architect
    bad = client.post(
        f"/engagements/{world.engagement.pk}/feedback/{item.pk}/status/", {"status": "maybe"}, **HX
    )
    assert bad.status_code == 422
    response = client.post(
        _url(world, f"{meeting.pk}/feedback/"), {"text": "", "document": "nope"}, follow=True
    )
    assert "Feedback not added" in response.content.decode()
    assert FeedbackItem.objects.count() == 1


def test_after_the_meeting_shows_what_moved_and_what_is_open(world, client):
    kickoff = meeting_create(
        engagement=world.engagement,
        kind="kickoff",
        scheduled_at=timezone.now(),
        actor=world.architect,
    )
    other = meeting_create(
        engagement=world.engagement,
        kind="icp_tam_workshop",
        scheduled_at=timezone.now(),
        actor=world.architect,
    )
    moved = assumption_register(
        engagement=world.engagement, key="a", category="tam", statement="Light ICP", value="light"
    )
    assumption_register(
        engagement=world.engagement, key="b", category="tam", statement="Still a guess", value=1
    )
    assumption_decide(assumption=moved, decision="confirm", meeting=kickoff, actor=world.architect)
    feedback_add(meeting=kickoff, text="Send the customer list", actor=world.architect)
    feedback_add(meeting=other, text="Elsewhere", actor=world.architect)
    client.force_login(world.customer)
    html = client.get(_url(world, f"{kickoff.pk}/after/")).content.decode()
    assert "What moved from ASSUMED in this meeting (1)" in html
    assert "Light ICP" in html and "CONFIRMED" in html
    assert "Send the customer list" in html
    assert "1 more feedback item open from other meetings" in html
    assert "Still a guess" in html  # in "Still ASSUMED"


def test_meeting_list_queries_do_not_grow_with_meetings(world, client):
    from tests.factories import make_meeting
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(world.architect)
    seq = iter(range(1000))

    def add(n):
        for _ in range(n):
            i = next(seq)
            meeting = make_meeting(world.engagement, title=f"Review {i}")
            feedback_add(meeting=meeting, text=f"Point {i}", actor=world.architect)
            a = assumption_register(
                engagement=world.engagement, key=f"q{i}", category="other", statement="S", value=i
            )
            assumption_decide(assumption=a, decision="confirm", meeting=meeting, actor=None)

    counts = counts_as_rows_grow(client, _url(world), add)
    assert counts[0] == counts[1], queries_of(client, _url(world))
    # session, user, engagement, role; the playbook copy (meeting types, the form's choices);
    # the meetings with their open-feedback and assumption-move counts (one query).
    assert counts[1] == 6, queries_of(client, _url(world))


def test_meeting_detail_queries_do_not_grow_with_feedback_and_attendees(world, client):
    from engagements.models import Membership, Role
    from tests.factories import make_meeting, make_user
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(world.architect)
    meeting = make_meeting(world.engagement, title="Hierarchy review")
    url = _url(world, f"{meeting.pk}/")
    seq = iter(range(1000))

    def add(n):
        for _ in range(n):
            i = next(seq)
            person = make_user(f"member{i}")
            Membership.objects.create(engagement=world.engagement, user=person, role=Role.ENGINEER)
            meeting.attendees.add(person)
            a = assumption_register(
                engagement=world.engagement, key=f"d{i}", category="other", statement="S", value=i
            )
            feedback_add(
                meeting=meeting,
                text=f"Point {i}",
                actor=world.architect,
                owner=person,
                assumption=a,
                document="valuation-spreadsheet" if i % 2 else "",
            )

    counts = counts_as_rows_grow(client, url, add)
    assert counts[0] == counts[1], queries_of(client, url)
    # session, user, engagement, role, the meeting, the playbook copy; the edit form's
    # attendee choices and its initial attendees; the feedback with owners and assumptions
    # (one query); the feedback form's owner and assumption choices; the attendee list; the
    # balancing runs it showed (territories' provider, engagements/related.py).
    assert counts[1] == 13, queries_of(client, url)
