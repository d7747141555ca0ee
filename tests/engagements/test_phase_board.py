"""The phase board: items ticked in place (htmx), the gate panel, gate decisions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagements.models import ActivityEvent, ChecklistItem, GateDecision
from engagements.services import gate_decide

HX = {"HTTP_HX_REQUEST": "true"}


def _board(world, phase=None):
    return f"/engagements/{world.engagement.pk}/phases/" + (f"?phase={phase}" if phase else "")


def _item(world, key):
    return ChecklistItem.objects.get(engagement=world.engagement, key=key)


def _toggle_url(world, item, action="toggle"):
    return f"/engagements/{world.engagement.pk}/phases/items/{item.pk}/{action}/"


def test_board_shows_each_phase_with_its_subphases_and_gate(world, client):
    client.force_login(world.viewer)
    html = client.get(_board(world)).content.decode()
    for code in (
        "1a · Pre-Kickoff",
        "1b · Kickoff Call",
        "1c · Alignment Loop",
        "1d · Strategic Sign-Off",
    ):
        assert code in html
    assert 'id="gate-panel"' in html and "Strategy gate" in html
    assert "Signed-off strategic package" in html
    assert "Track B: architect prep" in html
    html2 = client.get(_board(world, 2)).content.decode()
    for code in (
        "2a · Tech Spec",
        "2b · Engineering Handoff",
        "2c · Build",
        "2d · QA / Test + Sign-Off",
    ):
        assert code in html2
    # A viewer gets no tick buttons.
    assert 'class="tick"' not in html


def test_htmx_tick_returns_the_item_and_the_gate_panel_out_of_band(world, client):
    client.force_login(world.architect)
    item = _item(world, "1a.b.crm")
    response = client.post(_toggle_url(world, item), {"done": "1"}, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        html.lstrip().startswith('<li id="item-')
        or f'id="item-{item.pk}"' in html.split("\n", 3)[2]
    )
    assert f'id="item-{item.pk}"' in html and "is-done" in html
    assert 'id="gate-panel" aria-labelledby="gate-h" hx-swap-oob="true"' in html
    assert "hx-swap-oob" in html and f'id="sub-count-{item.subphase_id}"' in html
    item.refresh_from_db()
    assert item.done and item.done_by == world.architect and item.done_at is not None
    assert ActivityEvent.objects.filter(verb="checklist.done", actor=world.architect).exists()
    # The panel no longer lists the ticked item.
    assert "1a: Pull CRM data" not in html


def test_plain_post_redirects_back_to_the_item(world, client):
    client.force_login(world.architect)
    item = _item(world, "1a.b.crm")
    response = client.post(_toggle_url(world, item), {"done": "1"})
    assert response.status_code == 302
    assert response.url.endswith(f"?phase=1#item-{item.pk}")
    response = client.post(_toggle_url(world, item), {"done": "0"})
    item.refresh_from_db()
    assert not item.done


def test_the_customer_approver_ticks_customer_homework_only(world, client):
    client.force_login(world.customer)
    homework = _item(world, "1a.a.video")
    assert client.post(_toggle_url(world, homework), {"done": "1"}, **HX).status_code == 200
    homework.refresh_from_db()
    assert homework.done and homework.done_by == world.customer
    assert (
        client.post(_toggle_url(world, _item(world, "1a.b.crm")), {"done": "1"}, **HX).status_code
        == 403
    )
    client.force_login(world.viewer)
    assert client.post(_toggle_url(world, homework), {"done": "0"}, **HX).status_code == 403
    homework.refresh_from_db()
    assert homework.done


def test_the_engineer_ticks_the_engineering_phase_only(world, client):
    """The engineer builds the routing (SPEC §1): the Engineering phase's items are theirs to
    tick, with their tick boxes on the board; the other phases' items stay the architect's."""
    client.force_login(world.engineer)
    build = _item(world, "2c.flow")
    html = client.get(_board(world, 2)).content.decode()
    assert _toggle_url(world, build) in html
    assert client.post(_toggle_url(world, build), {"done": "1"}, **HX).status_code == 200
    build.refresh_from_db()
    assert build.done and build.done_by == world.engineer
    note = client.post(_toggle_url(world, build, "note"), {"note": "Flow v3 deployed"}, **HX)
    assert note.status_code == 200
    build.refresh_from_db()
    assert build.note == "Flow v3 deployed"
    strategy = _item(world, "1a.b.crm")
    assert _toggle_url(world, strategy) not in client.get(_board(world, 1)).content.decode()
    assert client.post(_toggle_url(world, strategy), {"done": "1"}, **HX).status_code == 403
    strategy.refresh_from_db()
    assert not strategy.done
    for role in ("ops", "manager", "customer"):
        client.force_login(getattr(world, role))
        assert client.post(_toggle_url(world, build), {"done": "0"}, **HX).status_code == 403
    build.refresh_from_db()
    assert build.done


def test_a_signed_item_cannot_be_ticked(world, client):
    client.force_login(world.architect)
    item = _item(world, "1d.dad")
    response = client.post(_toggle_url(world, item), {"done": "1"}, **HX)
    assert response.status_code == 422
    assert "cannot be ticked by hand" in response.content.decode()
    item.refresh_from_db()
    assert not item.done


def test_note_and_evidence_link(world, client):
    client.force_login(world.architect)
    item = _item(world, "1a.b.clay")
    response = client.post(
        _toggle_url(world, item, "note"),
        {"note": "Clay table v2", "evidence_url": "https://clay.example/t/42"},
        **HX,
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.note, item.evidence_url, item.done) == (
        "Clay table v2",
        "https://clay.example/t/42",
        False,
    )
    bad = client.post(
        _toggle_url(world, item, "note"), {"note": "x", "evidence_url": "javascript:alert(1)"}, **HX
    )
    assert bad.status_code == 422 and "Evidence link" in bad.content.decode()
    item.refresh_from_db()
    assert item.evidence_url == "https://clay.example/t/42"


def test_history_fragment_lists_who_ticked_and_when(world, client):
    client.force_login(world.architect)
    item = _item(world, "1a.b.crm")
    client.post(_toggle_url(world, item), {"done": "1"})
    client.force_login(world.viewer)
    html = client.get(_toggle_url(world, item, "history"), **HX).content.decode()
    assert f'id="item-history-{item.pk}"' in html
    assert "done by" in html and world.architect.display_name() in html


def test_gate_decision_through_the_panel(world, client):
    client.force_login(world.architect)
    url = f"/engagements/{world.engagement.pk}/phases/1/gate/"
    response = client.post(url, {"decision": "proceed"}, follow=True)
    assert "The Strategy gate is not open" in response.content.decode()
    assert not GateDecision.objects.exists()
    client.post(url, {"decision": "hold", "note": "Waiting for the CRO"})
    decision = GateDecision.objects.get()
    assert (decision.decision, decision.note, decision.actor) == (
        "hold",
        "Waiting for the CRO",
        world.architect,
    )
    html = client.get(_board(world)).content.decode()
    assert "Waiting for the CRO" in html
    # Extending hypercare is not a Strategy decision.
    client.post(url, {"decision": "extend_hypercare", "note": "x"})
    assert GateDecision.objects.count() == 1


def test_a_closed_phase_is_read_only_on_the_board(world, client, monkeypatch):
    from engagements import services

    state = services.engagement_state(engagement=world.engagement)
    # Close Strategy directly through the service, as if its gate had been passed.
    monkeypatch.setattr(services.lifecycle, "gate_blockers", lambda **kw: [])
    gate_decide(phase=state.phase(1).phase, decision="proceed", actor=world.architect)
    monkeypatch.undo()
    client.force_login(world.architect)
    html = client.get(_board(world, 1)).content.decode()
    assert "Strategy is closed: its checklist is read-only" in html
    assert 'class="tick"' not in html
    assert "Reopen Strategy" in html
    client.post(f"/engagements/{world.engagement.pk}/phases/1/reopen/", {"reason": "New region"})
    assert "Reopen Strategy" not in client.get(_board(world, 1)).content.decode()


@pytest.mark.parametrize("role", ["architect", "customer"])
def test_board_query_count_is_fixed(world, client, role):
    client.force_login(getattr(world, role))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(_board(world)).status_code == 200
    # session, user, engagement, role; the state (phases, sub-phases, items, decisions,
    # sign-offs ×2, assumptions); the design gate (sign-offs, terms, playbook copy — then
    # cached on the engagement for the condition labels). A customer's page header also
    # shows their organization (+1). None of this grows with the number of items.
    expected = {"architect": 13, "customer": 14}[role]
    assert len(ctx.captured_queries) == expected, [q["sql"][:80] for q in ctx.captured_queries]


def test_toggle_fragment_queries_do_not_grow_with_the_phases_history(world, client):
    from engagements.services import assumption_register, checklist_toggle
    from tests.query_support import count_queries, queries_of

    client.force_login(world.architect)
    item = _item(world, "1a.b.crm")
    others = iter(
        ChecklistItem.objects.filter(
            engagement=world.engagement,
            subphase__phase__number=1,
            signoff_subject="",
            condition="",
            owner=ChecklistItem.Owner.CONSULTANCY,
        )
        .exclude(pk=item.pk)
        .order_by("pk")
    )
    seq = iter(range(1000))
    counts = []
    for n in (5, 10):  # 5 items done, history and blocking assumptions; then 15
        for _ in range(n):
            i = next(seq)
            checklist_toggle(item=next(others), done=True, actor=world.architect)
            for done in (True, False):  # the toggled item's own log grows too
                checklist_toggle(item=item, done=done, actor=world.architect)
            assumption_register(
                engagement=world.engagement,
                key=f"b{i}",
                category="other",
                statement="S",
                value=i,
                blocking=True,
            )
        counts.append(
            count_queries(client, _toggle_url(world, item), method="post", data={"done": "1"}, **HX)
        )
        checklist_toggle(item=item, done=False, actor=world.architect)
    sql = queries_of(client, _toggle_url(world, item), method="post", data={"done": "1"}, **HX)
    assert counts[0] == counts[1], sql
    # session, user, engagement, role, the item; the toggle (savepoint, the item locked, its
    # engagement for the condition check, update, log row, activity row, release); the item
    # re-read; the out-of-band gate panel: phases, sub-phases, items, decisions, sign-off
    # versions, assumptions, and the sub-phases and playbook copy for the labels.
    assert counts[1] == 21, sql
