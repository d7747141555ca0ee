"""The Definition Alignment Document: thresholds filled in, published term by term, signed
text immutable, edits need a new sign-off, the territory-design gate."""

from __future__ import annotations

from engagements.models import SignoffRecord, SignoffVersion
from engagements.services import (
    SignoffEvidence,
    assumption_decide,
    signoff_decide,
    signoff_publish,
    signoff_state,
)
from tests.factories import make_meeting

EVIDENCE = SignoffEvidence("", "pytest", "test")


def _url(world, suffix=""):
    return f"/engagements/{world.engagement.pk}/definitions/{suffix}"


def _sign(world, subject):
    version = (
        SignoffVersion.objects.filter(engagement=world.engagement, subject=subject)
        .order_by("-version")
        .first()
    )
    return signoff_decide(
        version=version,
        decision="approved",
        signer=world.customer,
        signer_name="Carla",
        comment="",
        evidence=EVIDENCE,
    )


def test_publishing_fills_the_engagements_threshold(world, client):
    client.force_login(world.architect)
    html = client.get(_url(world)).content.decode()
    assert "Enterprise: Companies with $1B+ annual revenue" in html
    assert "Publish 14 changed terms" in html
    client.post(_url(world))
    versions = SignoffVersion.objects.filter(
        engagement=world.engagement, subject__startswith="definitions:"
    )
    assert versions.count() == 14
    assert versions.get(subject="definitions:commercial").text == (
        "Commercial: Companies below the Enterprise threshold ($1B annual revenue)"
    )
    client.post(_url(world))
    assert versions.count() == 14  # nothing changed, nothing new to sign
    assert signoff_state(engagement=world.engagement, subject="definitions") == "pending"


def test_correcting_the_threshold_changes_the_draft_and_needs_a_new_signoff(world, client):
    client.force_login(world.architect)
    client.post(_url(world))
    _sign(world, "definitions:enterprise")
    threshold = world.engagement.assumptions.get(key="segments.enterprise_threshold")
    assumption_decide(
        assumption=threshold,
        decision="correct",
        meeting=make_meeting(world.engagement),
        actor=world.architect,
        value=500_000_000,
    )
    html = client.get(_url(world)).content.decode()
    assert "Enterprise: Companies with $500M+ annual revenue" in html
    assert "Draft differs from published version 1, which is approved." in html
    client.post(_url(world))
    latest = SignoffVersion.objects.filter(
        engagement=world.engagement, subject="definitions:enterprise"
    ).order_by("-version")
    assert [v.version for v in latest] == [2, 1]
    assert latest[0].text == "Enterprise: Companies with $500M+ annual revenue"
    # The signed version is untouched and its record still verifies.
    assert latest[1].text == "Enterprise: Companies with $1B+ annual revenue"
    assert signoff_state(engagement=world.engagement, subject="definitions:enterprise") == "pending"


def test_editing_a_signed_term_makes_a_new_version(world, client):
    client.force_login(world.architect)
    client.post(_url(world))
    record = _sign(world, "definitions:territory")
    term = world.engagement.definition_terms.get(slug="territory")
    response = client.post(
        _url(world, f"{term.pk}/edit/"),
        {"term": "Territory", "definition": "A set of accounts owned by one rep"},
    )
    assert response.status_code == 302
    signed = SignoffVersion.objects.get(pk=record.version_id)
    assert (
        signed.text
        == "Territory: A defined set of accounts assigned to a rep/team based on hierarchy criteria"
    )
    client.post(_url(world), {"term": ["territory"]})
    assert (
        signoff_publish(  # the same text again: no third version
            engagement=world.engagement,
            subject="definitions:territory",
            title="Territory",
            text="Territory: A set of accounts owned by one rep",
            actor=world.architect,
        ).version
        == 2
    )
    html = client.get(_url(world)).content.decode()
    assert "v1 was approved" in html


def test_unknown_placeholders_are_refused(world, client):
    client.force_login(world.architect)
    term = world.engagement.definition_terms.get(slug="enterprise")
    html = client.post(
        _url(world, f"{term.pk}/edit/"), {"term": "Enterprise", "definition": "Over {treshold}"}
    ).content.decode()
    assert "Unknown placeholder {treshold}" in html and "{enterprise_threshold}" in html
    term.refresh_from_db()
    assert "{enterprise_threshold}" in term.definition


def test_design_gate_on_the_page(world, client):
    client.force_login(world.customer)
    html = client.get(_url(world)).content.decode()
    assert "cannot start yet" in html
    client.force_login(world.architect)
    client.post(_url(world))
    for slug in ("enterprise", "commercial", "account-value"):
        _sign(world, f"definitions:{slug}")
    version = signoff_publish(
        engagement=world.engagement,
        subject="valuation_methodology",
        title="Valuation",
        text="Median",
        actor=world.architect,
    )
    signoff_decide(
        version=version,
        decision="approved",
        signer=world.customer,
        signer_name="Carla",
        comment="",
        evidence=EVIDENCE,
    )
    html = client.get(_url(world)).content.decode()
    assert "may proceed" in html


def test_printable_document_shows_the_evidence(world, client):
    client.force_login(world.architect)
    client.post(_url(world))
    record = _sign(world, "definitions:territory")
    client.force_login(world.viewer)
    html = client.get(_url(world, "print/")).content.decode()
    assert "Definition Alignment Document" in html
    assert record.version.text_sha256 in html
    assert "Approved by Carla" in html
    assert (
        "Waiting for the customer&#x27;s decision." in html
        or "Waiting for the customer's decision." in html
    )
    assert SignoffRecord.objects.count() == 1


def test_definitions_page_queries_do_not_grow_with_versions_and_signoffs(world, client):
    from engagements.models import DefinitionTerm
    from engagements.services import definition_term_update, definitions_publish
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(world.architect)
    url = _url(world)
    terms = list(DefinitionTerm.objects.filter(engagement=world.engagement).order_by("pk"))
    rounds = iter(range(1000))

    def add(n):
        # Each round: every term edited, republished (a new version each) and half signed.
        for _ in range(n):
            r = next(rounds)
            for term in terms:
                definition_term_update(
                    term=term,
                    name=term.term,
                    definition=f"{term.definition.split(' (rev')[0]} (rev {r})",
                    actor=world.architect,
                )
                term.refresh_from_db()
            definitions_publish(engagement=world.engagement, actor=world.architect)
            for term in terms[r % 2 :: 2]:
                _sign(world, term.subject)

    counts = counts_as_rows_grow(client, url, add, rows=1)
    assert counts[0] == counts[1], queries_of(client, url)
    # session, user, engagement, role, the playbook copy; the terms' drafts and states
    # (threshold values, versions, records, terms) for the list, again for the design gate
    # (with the valuation sign-off), and the versions and records of the panel: each a fixed
    # query, none per term or per version.
    assert counts[1] == 16, queries_of(client, url)
