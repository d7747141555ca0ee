"""The playbook template (pure parsing and validation) and the seed-000 transcription."""

from __future__ import annotations

import copy
import json

import pytest

from engagements.playbook import (
    PlaybookError,
    format_placeholder,
    parse_playbook,
    render_definition,
)
from engagements.services import PLAYBOOK_FILE


@pytest.fixture(scope="module")
def raw():
    return json.loads(PLAYBOOK_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def playbook(raw):
    return parse_playbook(raw)


def _sub(playbook, code):
    return next(s for s in playbook.subphases if s.code == code)


def _group(playbook, code, title):
    return next(g for g in _sub(playbook, code).groups if g.title == title)


def test_four_phases_and_sixteen_subphases(playbook):
    assert [p.name for p in playbook.phases] == ["Strategy", "Engineering", "Enablement", "Handoff"]
    assert [s.code for s in playbook.subphases] == [
        f"{n}{letter}" for n in range(1, 5) for letter in "abcd"
    ]


def test_seed_checklists_are_transcribed(playbook):
    # 1a: Track A customer homework (4) and Track B architect prep (the seed's five checklist
    # steps, the kickoff assets, three methodology variants, "mark everything ASSUMED").
    assert len(_group(playbook, "1a", "Track A: customer homework").items) == 4
    assert len(_group(playbook, "1a", "Track B: architect prep").items) == 10
    assert len(_group(playbook, "1b", "What we leave with").items) == 5
    assert len(_group(playbook, "1d", "Validation checkpoint").items) == 10
    assert len(_group(playbook, "2c", "Build tracking").items) == 7
    assert len(_group(playbook, "2d", "Technical testing checklist").items) == 6
    assert len(_group(playbook, "3d", "Validation checkpoint").items) == 7
    assert len(_group(playbook, "4d", "Archive checklist").items) == 4
    assert "Territory__c object created with all fields" in [
        i.text for i in _group(playbook, "2c", "Build tracking").items
    ]


def test_gates_follow_what_each_phase_produces(playbook):
    strategy, engineering, enablement, handoff = playbook.phases
    assert strategy.gate.produces.startswith("Signed-off strategic package")
    assert strategy.gate.no_blocking_assumptions is True
    assert (
        engineering.gate.criteria
        == "System matches tech spec, all tests pass, customer has approved"
    )
    assert "extend_hypercare" in enablement.gate.decisions
    assert "extend_hypercare" not in strategy.gate.decisions
    assert handoff.gate.signoffs == ("project_close",)


def test_signed_items_point_at_signoff_subjects(playbook):
    signed = {i.key: i.signoff for i in playbook.items if i.signoff}
    assert signed["1d.dad"] == "definitions"
    assert signed["1d.explicit"] == "territory_map"
    assert signed["2d.customer"] == "engineering_qa"


def test_meeting_types_and_agendas(playbook):
    slugs = [m.slug for m in playbook.meeting_types]
    for slug in (
        "kickoff",
        "icp_tam_workshop",
        "valuation_review",
        "hierarchy_review",
        "balancing_review",
        "socialization",
        "final_review",
        "engineering_handoff",
        "training",
        "office_hours",
        "external_handoff",
        "refinement_checkin",
    ):
        assert slug in slugs
    kickoff = playbook.meeting_type("kickoff")
    assert [row.time for row in kickoff.agenda] == [
        "0-20",
        "20-35",
        "35-50",
        "50-65",
        "65-75",
        "75-90",
    ]
    assert playbook.meeting_type("balancing_review").numbered


def test_terms_glossary_maintenance_and_documents(playbook):
    terms = {t.slug: t for t in playbook.definition_terms}
    assert len(terms) == 14
    assert (
        terms["enterprise"].gates_design
        and "{enterprise_threshold}" in terms["enterprise"].definition
    )
    assert {c.slug for c in playbook.cadences} == {"monthly", "quarterly", "first_cycle", "annual"}
    tasks = {t.slug: t for t in playbook.maintenance_tasks}
    assert tasks["account-loading-review"].red_flag == ">5% of new accounts routing incorrectly"
    assert tasks["balance-review"].red_flag == ">20% variance"
    assert len(playbook.refinement_triggers) == 4
    assert playbook.maintenance_owner_for("dedicated") == "architect"
    assert {d.kind for d in playbook.documents} == {
        "working",
        "deliverable",
        "technical",
        "package",
    }
    assert all(sum(p.weights.values()) == 100 for p in playbook.weight_profiles)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda d: d["phases"][0]["subphases"][0]["groups"][0]["items"][0].pop("text"),
            "phases[0].subphases[0].groups[0].items[0].text: is missing",
        ),
        (
            lambda d: d["phases"][0]["subphases"][1]["groups"][0]["items"][0].update(
                key="1a.send.video"
            ),
            "duplicate item key '1a.send.video'",
        ),
        (
            lambda d: d["phases"][1]["subphases"][0].update(code="3x"),
            "phases[1].subphases[0].code: '3x' must be 2 and a letter",
        ),
        (
            lambda d: d["phases"][0]["gate"].update(decisions=["hold"]),
            "phases[0].gate.decisions: must include proceed",
        ),
        (
            lambda d: d["phases"][0]["subphases"][0]["groups"][0]["items"][0].update(when="moon"),
            "unknown condition 'moon'",
        ),
        (
            lambda d: d["phases"][0]["subphases"][0]["groups"][0]["items"][0].update(
                event="meeting_held:party"
            ),
            "unknown meeting type 'party'",
        ),
        (
            lambda d: d["phases"][0]["subphases"][0]["groups"][0]["items"][0].update(
                event="training_delivered:yoga"
            ),
            "unknown training type 'yoga'",
        ),
        (
            lambda d: d["phases"][0]["subphases"][0]["groups"][0]["items"][0].update(
                event="schedule_made"
            ),
            "'schedule_made' must be intake_submitted",
        ),
        (
            lambda d: d["phase_weight_profiles"][0]["weights"].update(strategy=90),
            "must add up to 100",
        ),
        (
            lambda d: d["definition_terms"][0].update(definition="{nope} accounts"),
            "placeholder {nope} is not defined",
        ),
        (
            lambda d: d["maintenance"]["cadences"][0].update(every_months=None),
            "give exactly one of every_months or once_after_days",
        ),
        (lambda d: d.update(phases="none"), "template.phases: must be a list"),
    ],
)
def test_invalid_templates_are_refused_naming_the_path(raw, mutate, path):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(PlaybookError) as info:
        parse_playbook(data)
    assert any(path in problem for problem in info.value.problems), info.value.problems


def test_all_problems_are_reported_at_once(raw):
    data = copy.deepcopy(raw)
    data["phases"][0]["subphases"][0]["groups"][0]["items"][0].pop("text")
    data["documents"][0]["kind"] = "poster"
    with pytest.raises(PlaybookError) as info:
        parse_playbook(data)
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(
    ("value", "fmt", "shown"),
    [
        (1_000_000_000, "usd", "$1B"),
        (500_000_000, "usd", "$500M"),
        (1_250_000_000, "usd", "$1.25B"),
        (750_000, "usd", "$750K"),
        (950, "usd", "$950"),
        (12345, "number", "12,345"),
        ("x", "usd", "x"),
    ],
)
def test_placeholder_formats(value, fmt, shown):
    assert format_placeholder(value, fmt) == shown


def test_render_definition_fills_known_placeholders_only():
    assert (
        render_definition("Companies with {t}+ ({u})", {"t": "$1B"}) == "Companies with $1B+ ({u})"
    )
