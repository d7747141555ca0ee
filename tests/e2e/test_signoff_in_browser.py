"""In a real browser: the customer approver signs the last definition with an explicit act of
intent; the architect then sees it signed, territory design open and the Strategy gate open."""

from __future__ import annotations

import pytest

from engagements import services
from engagements.models import Phase
from engagements.services import SignoffEvidence, signoff_decide, signoff_publish
from tests.factories import make_meeting

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVIDENCE = SignoffEvidence("", "setup", "test setup")


def _everything_but_commercial(world):
    engagement = world.engagement
    world.customer.first_name, world.customer.last_name = "Carla", "Customer"
    world.customer.save()
    for item in engagement.checklist_items.filter(
        subphase__phase__number=1, signoff_subject="", required=True
    ):
        if item.applies_to(engagement):
            services.checklist_toggle(item=item, done=True, actor=world.architect)
    meeting = make_meeting(engagement)
    for assumption in engagement.assumptions.filter(blocking=True):
        services.assumption_decide(
            assumption=assumption, decision="confirm", meeting=meeting, actor=world.architect
        )
    for version in services.definitions_publish(engagement=engagement, actor=world.architect):
        if version.subject != "definitions:commercial":
            signoff_decide(
                version=version,
                decision="approved",
                signer=world.customer,
                signer_name="Carla Customer",
                comment="",
                evidence=EVIDENCE,
            )
    for subject in ("icp_matrix", "valuation_methodology", "hierarchy", "territory_map"):
        version = signoff_publish(
            engagement=engagement,
            subject=subject,
            title=subject,
            text=f"{subject} text",
            actor=world.architect,
        )
        signoff_decide(
            version=version,
            decision="approved",
            signer=world.customer,
            signer_name="Carla Customer",
            comment="",
            evidence=EVIDENCE,
        )


def test_customer_signs_a_definition_and_the_architect_sees_the_gate_open(
    world, page, live_server, browser_login, shot
):
    _everything_but_commercial(world)
    base = f"{live_server.url}/engagements/{world.engagement.pk}"

    browser_login("customer")
    page.get_by_role("link", name="Review and sign: Commercial").click()
    assert (
        "Commercial: Companies below the Enterprise threshold ($1B annual revenue)"
        in page.inner_text(".signed-text")
    )
    shot("sign-page")
    # Approving without the act of intent is refused.
    page.get_by_role("button", name="Approve version 1").click()
    assert "Tick the box to confirm you approve this exact text." in page.content()
    page.check("#id_intent")
    page.fill("#id_signer_name", "Carla Customer")
    page.get_by_role("button", name="Approve version 1").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Sign-off certificate"
    assert "Verified now" in page.content()
    assert "Carla Customer" in page.content()
    shot("certificate")
    page.get_by_role("button", name="Log out").click()

    browser_login("architect")
    page.goto(f"{base}/definitions/")
    row = page.locator("#term-commercial")
    assert "approved" in row.inner_text()
    assert "may proceed" in page.inner_text(".design-gate")
    shot("definitions-signed")
    page.goto(f"{base}/phases/?phase=1")
    panel = page.locator("#gate-panel")
    assert "open" in panel.locator("h2").inner_text()
    assert "Nothing blocks the gate" in panel.inner_text()
    shot("strategy-gate-open")
    panel.get_by_label("Proceed to Engineering — build territory object and routing in CRM").check()
    panel.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state("networkidle")
    assert "Strategy gate: Proceed." in page.content()
    assert Phase.objects.get(engagement=world.engagement, number=1).status == "closed"


def test_ticking_an_item_updates_the_gate_panel_without_a_reload(
    world, page, live_server, browser_login
):
    browser_login("architect")
    page.goto(f"{live_server.url}/engagements/{world.engagement.pk}/phases/?phase=1")
    panel = page.locator("#gate-panel")
    assert "1a: Pull CRM data" in panel.inner_text()
    page.locator(
        "#item-{} button.tick".format(world.engagement.checklist_items.get(key="1a.b.crm").pk)
    ).click()
    page.wait_for_function(
        "!document.querySelector('#gate-panel').innerText.includes('1a: Pull CRM data')"
    )
    assert world.engagement.checklist_items.get(key="1a.b.crm").done


def test_the_intake_form_saves_as_the_customer_types(world, page, live_server, browser_login):
    from engagements.models import IntakeForm

    browser_login("customer")
    page.goto(f"{live_server.url}/engagements/{world.engagement.pk}/intake/")
    page.fill("#id_pain_points", "Reps fight over California every week")
    page.wait_for_selector("#intake-status >> text=Saved at")
    assert "12% complete" in page.inner_text("#intake-status")  # one of eight sections
    assert (
        IntakeForm.objects.get(engagement=world.engagement).pain_points
        == "Reps fight over California every week"
    )
