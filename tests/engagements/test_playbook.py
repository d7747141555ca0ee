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


# Every checklist group of every sub-phase, with its item count, as transcribed from seed 000
# (the seed's list, table or paragraph each group comes from is named). A lost, added or
# renamed group, or one item more or less in any group, fails
# test_every_checklist_group_keeps_its_seed_items.
SEED_GROUPS: dict[str, list[tuple[str, int]]] = {
    # 1a: "What we send" table (3 rows); "Track A: Customer Homework" (4); "Completion
    # tracking" (1 paragraph); Track B: the architect's steps (6 table steps merged with the
    # 5-item list), the wide-TAM / narrow-TAM / partner paragraphs (3), "mark everything
    # ASSUMED" (1) = 10.
    "1a": [
        ("Track A: what we send", 3),
        ("Track A: customer homework", 4),
        ("Track A: completion tracking", 1),
        ("Track B: architect prep", 10),
    ],
    # 1b: "What We Bring" (4), the call itself (1), "What We Leave With" (5).
    "1b": [("What we bring", 4), ("The call", 1), ("What we leave with", 5)],
    # 1c: "The Pattern" after the kickoff (which is 1b): workshop, valuation review, hierarchy
    # review, load, balancing 1, redraw, balancing 2+, socialization, final review (9).
    "1c": [("Refinement loop", 9)],
    # 1d: "Validation Checkpoint" (10).
    "1d": [("Validation checkpoint", 10)],
    # 2a: "What happens" (4) + the approach decision (1); "Tech spec containing" (4).
    "2a": [("What happens", 5), ("Tech spec contains", 4)],
    # 2b: the handoff meeting (1); "What engineer leaves with" (3).
    "2b": [("The meeting", 1), ("What the engineer leaves with", 3)],
    # 2c: "Build tracking" (7).
    "2c": [("Build tracking", 7)],
    # 2d: "Technical testing checklist" (6), "Customer testing" (3), "Engineering sign-off
    # checkpoint" (4).
    "2d": [
        ("Technical testing checklist", 6),
        ("Customer testing", 3),
        ("Engineering sign-off checkpoint", 4),
    ],
    # 3a: "Training package" (4); "Training Assets to Create" (5).
    "3a": [("Training package", 4), ("Training assets to create", 5)],
    # 3b: the five audiences of "Training sessions by audience"; "Training delivery" (4).
    "3b": [("Sessions by audience", 5), ("Training delivery", 4)],
    # 3c: "What happens" in hypercare (5); "First sales cycle validation" (4).
    "3c": [
        ("First 30 days", 5),
        ("First sales cycle validation (30-90 days post-rollout)", 4),
    ],
    # 3d: "Validation checkpoint" (7).
    "3d": [("Validation checkpoint", 7)],
    # 4a: one item per schedule section (monthly, quarterly, first cycle, annual, triggers)
    # and the owner by engagement type (6); the tasks themselves are the maintenance data.
    "4a": [("Schedule documented", 6)],
    # 4b: "What the Architect needs to know" (5), the escalation guidelines (1), and for
    # dedicated engagements the maintenance schedule handed to the Architect (1).
    "4b": [("What the Architect needs to know", 7)],
    # 4c: the meeting held (1) + "Final project meeting agenda" (8); "Documentation package
    # delivered" (12); the single-project walkthrough (1).
    "4c": [
        ("Final project meeting", 9),
        ("Documentation package delivered", 12),
        ("Single project engagements", 1),
    ],
    # 4d: "Archive Checklist" (4); "Internal Debrief" (3); "Retention / Expansion": the
    # single-project upsell path and the dedicated check-in (2).
    "4d": [
        ("Archive checklist", 4),
        ("Internal debrief (optional but recommended)", 3),
        ("Retention / expansion", 2),
    ],
}


@pytest.mark.parametrize("code", list(SEED_GROUPS))
def test_every_checklist_group_keeps_its_seed_items(playbook, code):
    groups = [(g.title, len(g.items)) for g in _sub(playbook, code).groups]
    assert groups == SEED_GROUPS[code]


def test_the_seed_tables_cover_every_subphase_and_item(playbook):
    assert list(SEED_GROUPS) == [s.code for s in playbook.subphases]
    assert sum(n for groups in SEED_GROUPS.values() for _, n in groups) == len(playbook.items)
    assert len(playbook.items) == 158


def test_seed_checklists_are_transcribed(playbook):
    def texts(code, title):
        return [i.text for i in _group(playbook, code, title).items]

    assert "Territory__c object created with all fields" in texts("2c", "Build tracking")
    assert "Time/billing finalized" in texts("4d", "Archive checklist")
    assert "Support contact info" in texts("4c", "Documentation package delivered")
    assert "Ready for handoff" in texts("3d", "Validation checkpoint")
    assert "No blockers for engineering" in texts("1d", "Validation checkpoint")


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


def test_every_documentation_package_item_is_ticked_by_its_playbook_document(playbook):
    # 4c "Documentation package delivered": each item names the playbook document whose
    # delivery in a package ticks it (handoff.package, event package_document:<slug>).
    items = _group(playbook, "4c", "Documentation package delivered").items
    documents = {d.slug for d in playbook.documents}
    events = {i.key: i.event for i in items}
    assert all(e.startswith("package_document:") for e in events.values()), events
    assert {e.split(":", 1)[1] for e in events.values()} <= documents
    assert events["4c.doc.hierarchy"] == "package_document:territory-hierarchy-document"
    assert events["4c.doc.videos"] == "package_document:training-recordings"
    assert events["4c.doc.support"] == "package_document:support-contact"
    assert len(set(events.values())) == len(items) == 12  # one document per item


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
            lambda d: d["phases"][3]["subphases"][2]["groups"][1]["items"][0].update(
                event="package_document:sales-deck"
            ),
            "phases[3].subphases[2].groups[1].items[0].event: unknown document 'sales-deck'",
        ),
        (
            lambda d: d["phases"][0]["subphases"][0]["groups"][0]["items"][0].update(
                event="package_document:faq:2"
            ),
            "'package_document:faq:2' must be intake_submitted",
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
