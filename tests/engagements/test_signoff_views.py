"""Sign-off pages: the approver's act of intent, 409 on a stale version, certificate, panel."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from engagements.access import get_engagement_for_user
from engagements.models import ActivityEvent, SignoffRecord
from engagements.services import signoff_publish


@pytest.fixture
def version(world):
    world.customer.first_name, world.customer.last_name = "Carla", "Customer"
    world.customer.save()
    return signoff_publish(
        engagement=world.engagement,
        subject="definitions:enterprise",
        title="Enterprise",
        text="Enterprise: companies with $1B or more annual revenue.",
        actor=world.architect,
    )


def _url(world, version, action="sign"):
    return f"/engagements/{world.engagement.pk}/signoffs/versions/{version.pk}/{action}/"


def _approve_post(version, **overrides):
    data = {
        "decision": "approved",
        "text_sha256": version.text_sha256,
        "intent": "on",
        "signer_name": "Carla Customer",
        "comment": "",
    }
    data.update(overrides)
    return data


def test_approver_sees_the_exact_text_and_the_statement_of_intent(world, client, version):
    client.force_login(world.customer)
    html = client.get(_url(world, version)).content.decode()
    assert "Enterprise: companies with $1B or more annual revenue." in html
    assert (
        f"I approve this exact text: “Enterprise”, version 1, SHA-256 {version.text_sha256[:16]}"
        in html
    )
    assert version.text_sha256 in html


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("architect", 403),
        ("viewer", 403),
        ("manager", 403),
        ("engineer", 403),
        ("customer2", 404),
        ("outsider", 404),
    ],
)
def test_only_the_approver_reaches_the_sign_page(world, client, version, who, status):
    client.force_login(getattr(world, who))
    assert client.get(_url(world, version)).status_code == status
    assert client.post(_url(world, version), _approve_post(version)).status_code == status
    assert not SignoffRecord.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"intent": ""}, "Tick the box"),
        ({"signer_name": ""}, "Type your full name"),
        ({"signer_name": "Someone Else"}, "Carla Customer"),
        ({"decision": "declined", "intent": "", "comment": ""}, "a comment is required"),
        ({"decision": "maybe"}, "Select a valid choice"),
    ],
)
def test_without_the_act_of_intent_nothing_is_recorded(world, client, version, overrides, error):
    client.force_login(world.customer)
    response = client.post(_url(world, version), _approve_post(version, **overrides))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not SignoffRecord.objects.exists()


def test_approving_records_evidence_from_the_request(world, client, version):
    client.force_login(world.customer)
    response = client.post(
        _url(world, version),
        _approve_post(version),
        HTTP_USER_AGENT="Mozilla/5.0 TestBrowser/1.0",
        REMOTE_ADDR="198.51.100.7",
    )
    record = SignoffRecord.objects.get()
    assert response.status_code == 302
    assert (
        response.url
        == f"/engagements/{world.engagement.pk}/signoffs/records/{record.pk}/certificate/"
    )
    assert record.decision == "approved"
    assert record.signer == world.customer
    assert record.signer_name == "Carla Customer"
    assert record.ip_address == "198.51.100.7"
    assert record.user_agent == "Mozilla/5.0 TestBrowser/1.0"
    assert record.auth_method.startswith("username and password; session signed in")
    assert record.text_sha256 == version.text_sha256
    assert ActivityEvent.objects.filter(verb="signoff.approved", actor=world.customer).exists()


def test_declining_records_the_comment(world, client, version):
    client.force_login(world.customer)
    client.post(
        _url(world, version),
        _approve_post(
            version, decision="declined", intent="", signer_name="", comment="Ours is $500M"
        ),
    )
    record = SignoffRecord.objects.get()
    assert (record.decision, record.comment) == ("declined", "Ours is $500M")


def test_approving_a_stale_version_answers_409(world, client, version):
    client.force_login(world.customer)
    newer = signoff_publish(
        engagement=world.engagement,
        subject=version.subject,
        title="Enterprise",
        text="Enterprise: companies with $500M or more annual revenue.",
        actor=world.architect,
    )
    response = client.post(_url(world, version), _approve_post(version))
    assert response.status_code == 409
    html = response.content.decode()
    assert "replaced by version 2" in html
    assert _url(world, newer) in html
    assert not SignoffRecord.objects.exists()
    # The sign page of the old version says so and offers no form.
    page = client.get(_url(world, version)).content.decode()
    assert 'id="sign-form"' not in page and "version 2" in page


def test_a_tampered_hidden_hash_answers_409(world, client, version):
    client.force_login(world.customer)
    response = client.post(_url(world, version), _approve_post(version, text_sha256="0" * 64))
    assert response.status_code == 409
    assert not SignoffRecord.objects.exists()


def test_approving_twice_answers_409(world, client, version):
    client.force_login(world.customer)
    client.post(_url(world, version), _approve_post(version))
    response = client.post(_url(world, version), _approve_post(version))
    assert response.status_code == 409
    assert "already approved" in response.content.decode()
    assert SignoffRecord.objects.count() == 1


def test_after_signing_one_term_the_next_pending_term_is_offered(world, client, version):
    other = signoff_publish(
        engagement=world.engagement,
        subject="definitions:commercial",
        title="Commercial",
        text="Commercial: below the Enterprise threshold.",
        actor=world.architect,
    )
    client.force_login(world.customer)
    response = client.post(_url(world, version), _approve_post(version))
    assert response.url == _url(world, other)


@pytest.mark.parametrize("who", ["architect", "customer", "viewer", "manager", "ops", "engineer"])
def test_every_member_can_read_the_certificate_and_list(world, client, version, who):
    customer_client = client
    customer_client.force_login(world.customer)
    customer_client.post(_url(world, version), _approve_post(version))
    record = SignoffRecord.objects.get()
    client.force_login(getattr(world, who))
    certificate = client.get(
        f"/engagements/{world.engagement.pk}/signoffs/records/{record.pk}/certificate/"
    )
    assert certificate.status_code == 200
    html = certificate.content.decode()
    assert "Verified now" in html
    for evidence in (record.record_hash, record.text_sha256, "Carla Customer", record.auth_method):
        assert evidence in html
    listing = client.get(f"/engagements/{world.engagement.pk}/signoffs/").content.decode()
    assert "Enterprise" in listing and "approved" in listing
    assert client.get(_url(world, version, "").replace("//", "/")).status_code == 200


def test_certificate_and_list_show_tampering(world, client, version):
    client.force_login(world.customer)
    client.post(_url(world, version), _approve_post(version))
    record = SignoffRecord.objects.get()
    SignoffRecord.objects.filter(pk=record.pk).update(signer_name="Mallory")
    client.force_login(world.architect)
    certificate = client.get(
        f"/engagements/{world.engagement.pk}/signoffs/records/{record.pk}/certificate/"
    )
    assert "fails verification" in certificate.content.decode()
    listing = client.get(f"/engagements/{world.engagement.pk}/signoffs/").content.decode()
    assert "Evidence chain BROKEN" in listing


def test_objects_of_another_engagement_answer_404(world, client):
    foreign = signoff_publish(
        engagement=world.other, subject="icp_matrix", title="ICP", text="T1", actor=world.architect2
    )
    client.force_login(world.customer)
    assert client.get(_url(world, foreign)).status_code == 404
    assert client.get(_url(world, foreign, "").rstrip("/") + "/").status_code == 404


def _panel(world, user, subject):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    engagement = get_engagement_for_user(request, world.engagement.pk)
    template = Template("{% load signoff %}{% signoff_panel engagement subject %}")
    return template.render(Context({"engagement": engagement, "subject": subject}))


def test_panel_shows_each_state_and_offers_signing_only_to_the_approver(world, client, version):
    assert "Not yet published" in _panel(world, world.architect, "icp_matrix")
    pending = _panel(world, world.customer, "definitions:enterprise")
    assert "Waiting for the customer approver" in pending and "Review and sign" in pending
    assert "Review and sign" not in _panel(world, world.architect, "definitions:enterprise")
    assert 'id="signoff-panel-definitionsenterprise"' in pending
    client.force_login(world.customer)
    client.post(_url(world, version), _approve_post(version))
    approved = _panel(world, world.viewer, "definitions:enterprise")
    assert "Approved by <strong>Carla Customer</strong>" in approved and "Certificate" in approved
    group = _panel(world, world.architect, "definitions")
    assert "1 of 1 items approved" in group
    signoff_publish(
        engagement=world.engagement,
        subject="definitions:enterprise",
        title="Enterprise",
        text="Enterprise: $750M+",
        actor=world.architect,
    )
    stale = _panel(world, world.architect, "definitions:enterprise")
    assert "version 2 needs a new sign-off" in stale


def test_behind_the_tls_proxy_the_address_the_proxy_saw_is_recorded(
    world, client, version, settings
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client.force_login(world.customer)
    client.post(
        _url(world, version),
        _approve_post(version),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50",
    )
    # The left entries are whatever the client claimed; the proxy appended the real one.
    assert SignoffRecord.objects.get().ip_address == "203.0.113.50"


@pytest.mark.parametrize("who", ["architect", "customer"])
def test_signoff_list_queries_do_not_grow_with_versions_and_records(world, client, who):
    from engagements.services import SignoffEvidence, signoff_decide
    from tests.query_support import counts_as_rows_grow, queries_of

    client.force_login(getattr(world, who))
    url = f"/engagements/{world.engagement.pk}/signoffs/"
    seq = iter(range(1000))

    def add(n):
        for _ in range(n):
            i = next(seq)
            for text in (f"First text {i}", f"Second text {i}"):  # two versions a subject
                v = signoff_publish(
                    engagement=world.engagement,
                    subject=f"item_{i}",
                    title=f"Item {i}",
                    text=text,
                    actor=world.architect,
                )
            signoff_decide(
                version=v,
                decision="approved" if i % 2 else "declined",
                signer=world.customer,
                signer_name="Carla Customer",
                comment="Not yet" if not i % 2 else "",
                evidence=SignoffEvidence("203.0.113.9", "pytest", "password"),
            )

    counts = counts_as_rows_grow(client, url, add)
    assert counts[0] == counts[1], queries_of(client, url)
    # session, user, engagement, role; each subject's state (versions, records: two
    # queries); the records listed with their signers. For the consultancy, the chain check
    # adds the records with their versions and the chain's head; a customer's header shows
    # their organization.
    assert counts[1] == {"architect": 9, "customer": 8}[who], queries_of(client, url)
