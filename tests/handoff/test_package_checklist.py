"""A recorded documentation package ticks the Handoff checklist's 4c "Documentation package
delivered" items of the playbook documents it delivered (event package_document:<slug>), and
the Maintenance Schedule carries the support contacts and the training recordings."""

from __future__ import annotations

from datetime import date

from engagements.playbook import parse_playbook
from engagements.services import PLAYBOOK_FILE, playbook_default_data
from handoff import documents, package
from handoff import services as handoff
from tests.handoff.test_package_build import only, pdf_text, read_zip

DOC_ITEMS = {
    "4c.doc.map",
    "4c.doc.hierarchy",
    "4c.doc.growth",
    "4c.doc.valuation",
    "4c.doc.dad",
    "4c.doc.update_guide",
    "4c.doc.troubleshooting",
    "4c.doc.roe",
    "4c.doc.videos",
    "4c.doc.faq",
    "4c.doc.maintenance",
    "4c.doc.support",
}


def _done(engagement) -> set[str]:
    return set(
        engagement.checklist_items.filter(key__in=DOC_ITEMS, done=True).values_list(
            "key", flat=True
        )
    )


def _ticks(engagement) -> list[dict]:
    """The checklist.done activity the package's events recorded, in order."""
    return [
        e.data
        for e in engagement.activity.filter(verb="checklist.done").order_by("pk")
        if e.data.get("event", "").startswith("package_document:")
    ]


def _schedule_text(result) -> str:
    files = read_zip(package.package_path(result.package))
    name = next(n for n in files if n.endswith("-maintenance-schedule.pdf"))
    return " ".join(pdf_text(files[name]).split())


def _deliver(engagement, slug: str, day: date, recording: str = "", actor=None):
    session = engagement.training_sessions.get(audience_slug=slug)
    return handoff.training_update(
        session=session,
        values={
            "state": "delivered",
            "day": day,
            "attendees": "Everyone invited",
            "recording_url": recording,
        },
        actor=actor,
    )


def test_every_document_names_a_playbook_document_and_covers_every_4c_item():
    playbook = parse_playbook(playbook_default_data())
    slugs = {d.slug for d in playbook.documents}
    declared = {d.slug: d.playbook_slug for d in documents.DOCUMENTS}
    # The handoff slugs that differ from the playbook's.
    assert declared["territory-hierarchy"] == "territory-hierarchy-document"
    assert declared["valuation-methodology"] == "valuation-methodology-document"
    assert declared["definition-alignment"] == "definition-alignment-document"
    assert declared["territory-assignments"] == ""  # no playbook document of its own
    assert {s for s in declared.values() if s} <= slugs, PLAYBOOK_FILE
    # Every 4c item's document is one the package can deliver: a file's own, or the two the
    # Maintenance Schedule carries.
    items = next(
        g for s in playbook.subphases for g in s.groups if g.title.startswith("Documentation pack")
    ).items
    wanted = {i.event.split(":", 1)[1] for i in items}
    assert wanted <= set(declared.values()) | {"support-contact", "training-recordings"}


def test_a_package_ticks_the_items_of_the_documents_it_delivers(packaged):
    engagement = packaged.engagement
    handoff.trainings_generate(engagement=engagement, actor=packaged.architect)
    _deliver(engagement, "leadership", date(2026, 1, 12), "https://video.example/t/leadership")
    _deliver(engagement, "reps", date(2026, 1, 14))  # no recording yet
    assert _done(engagement) == set()

    result = package.package_build(engagement=engagement, actor=packaged.ops)
    assert result.created and result.package.version == 1
    # Everything but the recordings: the reps' session has none yet.
    assert _done(engagement) == DOC_ITEMS - {"4c.doc.videos"}
    items = {i.key: i for i in engagement.checklist_items.filter(key__in=DOC_ITEMS, done=True)}
    assert {i.done_by for i in items.values()} == {packaged.ops}  # the builder
    assert items["4c.doc.hierarchy"].note == (
        "Documentation package v1: Territory Hierarchy Document"
    )
    assert items["4c.doc.support"].note == "Documentation package v1: Maintenance Schedule"
    ticks = _ticks(engagement)
    assert len(ticks) == 11
    assert {"item": "4c.doc.dad", "event": "package_document:definition-alignment-document"} in (
        ticks
    )
    assert engagement.activity.filter(verb="handoff.package_built").count() == 1

    text = _schedule_text(result)
    # Support contacts: the architect and the engineer with their emails, and the owner
    # (a dedicated engagement: the architect).
    assert (
        "Support contacts The consultancy's people on Northwind Test's engagement, to call back "
        "about the territories, the routing or this schedule: Role Name Email "
        "Architect architect architect@example.com Engineer engineer engineer@example.com"
    ) in text
    assert "Maintenance itself is owned by architect (architect)." in text
    assert "No architect is assigned" not in text
    # Training recordings: each delivered session with its link, and the one without.
    leadership = engagement.training_sessions.get(audience_slug="leadership").audience
    reps = engagement.training_sessions.get(audience_slug="reps").audience
    assert f"{leadership} 12 Jan 2026 https://video.example/t/leadership" in text
    assert f"{reps} 14 Jan 2026 no recording yet" in text
    assert f"Delivered without a recording yet: {reps}." in text
    assert "Still to deliver:" in text and "(planned)" in text


def test_every_delivered_recording_ticks_the_videos_item_an_unchanged_rebuild_nothing(
    packaged, monkeypatch
):
    only(monkeypatch, "maintenance-schedule")
    engagement = packaged.engagement
    handoff.trainings_generate(engagement=engagement, actor=packaged.architect)
    _deliver(engagement, "operations", date(2026, 2, 3))

    first = package.package_build(engagement=engagement, actor=packaged.ops)
    assert _done(engagement) == {"4c.doc.maintenance", "4c.doc.support"}
    operations = engagement.training_sessions.get(audience_slug="operations")
    assert f"Delivered without a recording yet: {operations.audience}." in _schedule_text(first)

    # The recording arrives: the data changed, so the next build is v2 and ticks the videos.
    _deliver(engagement, "operations", date(2026, 2, 3), "https://video.example/ops")
    second = package.package_build(engagement=engagement, actor=packaged.architect)
    assert second.created and second.package.version == 2
    assert _done(engagement) == {"4c.doc.maintenance", "4c.doc.support", "4c.doc.videos"}
    videos = engagement.checklist_items.get(key="4c.doc.videos")
    assert videos.done_by == packaged.architect
    assert videos.note == "Documentation package v2: Maintenance Schedule"
    # Already ticked items keep who ticked them first.
    assert engagement.checklist_items.get(key="4c.doc.support").done_by == packaged.ops
    text = _schedule_text(second)
    assert f"{operations.audience} 3 Feb 2026 https://video.example/ops" in text
    assert "Every delivered session has its recording." in text

    # Nothing changed: the current version is returned, no event, nothing ticked again.
    ticks = len(_ticks(engagement))
    engagement.checklist_items.filter(key="4c.doc.maintenance").update(done=False)
    again = package.package_build(engagement=engagement, actor=packaged.ops)
    assert not again.created and again.package.pk == second.package.pk
    assert len(_ticks(engagement)) == ticks
    assert not engagement.checklist_items.get(key="4c.doc.maintenance").done


def test_without_any_delivered_session_the_videos_item_stays_open(packaged, monkeypatch):
    only(monkeypatch, "maintenance-schedule")
    engagement = packaged.engagement
    result = package.package_build(engagement=engagement, actor=packaged.ops)
    assert _done(engagement) == {"4c.doc.maintenance", "4c.doc.support"}
    text = _schedule_text(result)
    assert "No training session has been delivered to Northwind Test yet" in text


def test_an_engagement_without_data_or_architect_ticks_only_what_its_documents_deliver(
    world, media
):
    """Bluepeak has no accounts, map, object, schedule or signed definition: its documents say
    so and tick nothing; without an architect the schedule says that too, and with its engineer
    as the one contact the support item is ticked."""
    from engagements.models import Role
    from tests.factories import make_membership, make_user

    engagement = world.other
    engagement.memberships.filter(role=Role.ARCHITECT).delete()
    result = package.package_build(engagement=engagement, actor=world.ops)
    text = _schedule_text(result)
    assert "No architect is assigned to Bluepeak Test's engagement in the portal." in text
    assert "Role Name Email" not in text
    assert "No training session has been delivered to Bluepeak Test yet" in text
    done = _done(engagement)
    assert not done & {
        "4c.doc.map",
        "4c.doc.growth",
        "4c.doc.valuation",
        "4c.doc.dad",
        "4c.doc.update_guide",
        "4c.doc.troubleshooting",
        "4c.doc.maintenance",  # not generated: the dates it will have, said as such
        "4c.doc.support",
        "4c.doc.videos",
    }, done
    # The playbook's procedures hold without data: hierarchy, rules of engagement, FAQ.
    assert done == {"4c.doc.hierarchy", "4c.doc.roe", "4c.doc.faq"}

    eve = make_user("eve")
    eve.email = "eve@bluepeak-consult.example"
    eve.save()
    make_membership(engagement, eve, Role.ENGINEER)
    second = package.package_build(engagement=engagement, actor=world.ops)
    assert second.created  # a new contact is new data
    text = _schedule_text(second)
    assert "Engineer eve eve@bluepeak-consult.example" in text
    assert "No architect is assigned to Bluepeak Test's engagement in the portal; the " in text
    assert "4c.doc.support" in _done(engagement)


def test_only_a_web_address_becomes_a_link_in_the_pdf(packaged, monkeypatch):
    """The form accepts web addresses only; a recording link stored some other way is printed
    as text, never made a clickable link."""
    import io

    from pypdf import PdfReader

    only(monkeypatch, "maintenance-schedule")
    engagement = packaged.engagement
    handoff.trainings_generate(engagement=engagement, actor=None)
    _deliver(engagement, "leadership", date(2026, 1, 12), "https://video.example/lead")
    _deliver(engagement, "reps", date(2026, 1, 14))
    engagement.training_sessions.filter(audience_slug="reps").update(
        recording_url="javascript:alert(1)"
    )
    result = package.package_build(engagement=engagement, actor=packaged.ops)
    files = read_zip(package.package_path(result.package))
    reader = PdfReader(io.BytesIO(files["01-maintenance-schedule.pdf"]))
    uris = [
        annot.get_object()["/A"].get("/URI")
        for page in reader.pages
        for annot in page.get("/Annots") or []
        if annot.get_object().get("/A")
    ]
    assert "https://video.example/lead" in uris and "javascript:alert(1)" not in uris
    assert "javascript:alert(1)" in " ".join(pdf_text(files["01-maintenance-schedule.pdf"]).split())


def test_the_data_version_counts_the_people_the_documents_name(world):
    """A new architect or engineer changes the Maintenance Schedule's contacts (a new package
    version); a customer viewer joining changes nothing in the package."""
    from engagements.models import Role
    from tests.factories import make_membership, make_user

    before = package.package_data_version(engagement=world.engagement)
    make_membership(world.engagement, make_user("viewer2", org=world.org_a), Role.CUSTOMER_VIEWER)
    assert package.package_data_version(engagement=world.engagement) == before
    make_membership(world.engagement, make_user("engineer2"), Role.ENGINEER)
    assert package.package_data_version(engagement=world.engagement) != before
