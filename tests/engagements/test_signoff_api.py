"""The sign-off service API: versions, states, decisions, the hash chain and its check."""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection

from engagements import services
from engagements.chain import GENESIS_HASH, text_sha256
from engagements.models import ActivityEvent, ImmutableRecordError, SignoffRecord, SignoffVersion
from engagements.services import (
    SignoffClosed,
    SignoffEvidence,
    SignoffStale,
    signoff_decide,
    signoff_latest,
    signoff_publish,
    signoff_state,
    signoff_verify,
)

EVIDENCE = SignoffEvidence(
    ip_address="203.0.113.9",
    user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
    auth_method="username and password; session signed in 2026-03-01 09:00:00 UTC",
)


def _publish(world, subject="icp_matrix", text="T1: Software, 500+ employees", **kw):
    return signoff_publish(
        engagement=kw.pop("engagement", world.engagement),
        subject=subject,
        title=kw.pop("title", "ICP tier matrix"),
        text=text,
        actor=world.architect,
    )


def _approve(world, version, **kw):
    return signoff_decide(
        version=version,
        decision="approved",
        signer=kw.pop("signer", world.customer),
        signer_name="Carla Customer",
        comment=kw.pop("comment", ""),
        evidence=EVIDENCE,
        **kw,
    )


def test_publishing_creates_numbered_immutable_versions(world):
    v1 = _publish(world)
    assert (v1.version, v1.text_sha256) == (1, text_sha256("T1: Software, 500+ employees"))
    assert _publish(world).pk == v1.pk  # identical text: no new version
    v2 = _publish(world, text="T1: Software, 1000+ employees")
    assert v2.version == 2
    assert signoff_latest(engagement=world.engagement, subject="icp_matrix") == v2
    v1.text = "quietly edited"
    with pytest.raises(ImmutableRecordError):
        v1.save()
    assert SignoffVersion.objects.get(pk=v1.pk).text == "T1: Software, 500+ employees"
    assert ActivityEvent.objects.filter(verb="signoff.published").count() == 2


@pytest.mark.parametrize(
    ("subject", "text", "message"),
    [
        ("ICP Matrix", "x", "lower-case slug"),
        ("definitions:", "x", "lower-case slug"),
        ("icp_matrix", "   ", "no text"),
    ],
)
def test_bad_publications_are_refused(world, subject, text, message):
    with pytest.raises(ValidationError, match=message):
        _publish(world, subject=subject, text=text)
    assert not SignoffVersion.objects.exists()


def test_state_follows_the_latest_version(world):
    assert signoff_state(engagement=world.engagement, subject="icp_matrix") == "none"
    v1 = _publish(world)
    assert signoff_state(engagement=world.engagement, subject="icp_matrix") == "pending"
    _approve(world, v1)
    assert signoff_state(engagement=world.engagement, subject="icp_matrix") == "approved"
    _publish(world, text="changed")
    assert signoff_state(engagement=world.engagement, subject="icp_matrix") == "pending"
    status = services.signoff_statuses(engagement=world.engagement)["icp_matrix"]
    assert status.stale and status.last_approved == v1
    # The other engagement is untouched.
    assert signoff_state(engagement=world.other, subject="icp_matrix") == "none"


def test_a_group_subject_aggregates_its_items(world):
    subject = "definitions"
    assert signoff_state(engagement=world.engagement, subject=subject) == "none"
    a = _publish(world, subject="definitions:territory", text="A set of accounts")
    b = _publish(world, subject="definitions:enterprise", text="$1B+ revenue")
    assert signoff_state(engagement=world.engagement, subject=subject) == "pending"
    _approve(world, a)
    assert signoff_state(engagement=world.engagement, subject=subject) == "pending"
    signoff_decide(
        version=b,
        decision="declined",
        signer=world.customer,
        signer_name="",
        comment="Our threshold is $500M",
        evidence=EVIDENCE,
    )
    assert signoff_state(engagement=world.engagement, subject=subject) == "declined"
    _approve(world, b)
    assert signoff_state(engagement=world.engagement, subject=subject) == "approved"


def test_an_approval_records_the_evidence_and_links_the_chain(world):
    v = _publish(world)
    record = _approve(world, v, comment="Looks right")
    record.refresh_from_db()
    assert record.sequence == 1 and record.previous_hash == GENESIS_HASH
    assert record.signer == world.customer and record.signer_name == "Carla Customer"
    assert record.ip_address == "203.0.113.9"
    assert record.user_agent.startswith("Mozilla/5.0")
    assert record.auth_method.startswith("username and password")
    assert record.text_sha256 == text_sha256(v.text)
    assert record.record_hash == services._chain_record(record).compute_hash()
    second = _approve(world, _publish(world, subject="valuation_methodology", text="Median"))
    assert second.sequence == 2 and second.previous_hash == record.record_hash
    # Chains are per engagement.
    other = signoff_decide(
        version=_publish(world, engagement=world.other),
        decision="approved",
        signer=world.customer2,
        signer_name="Bea Bluepeak",
        comment="",
        evidence=EVIDENCE,
    )
    assert other.sequence == 1 and other.previous_hash == GENESIS_HASH
    assert ActivityEvent.objects.filter(verb="signoff.approved").count() == 3


def test_records_cannot_be_changed_or_deleted_through_the_orm(world):
    record = _approve(world, _publish(world))
    record.comment = "changed"
    with pytest.raises(ImmutableRecordError):
        record.save()
    with pytest.raises(ImmutableRecordError):
        record.delete()
    assert SignoffRecord.objects.count() == 1


def test_approving_a_stale_version_is_refused(world):
    v1 = _publish(world)
    v2 = _publish(world, text="revised")
    with pytest.raises(SignoffStale) as info:
        _approve(world, v1)
    assert info.value.latest == v2
    with pytest.raises(SignoffStale):
        _approve(world, v2, expected_sha256=text_sha256("not what was shown"))
    assert not SignoffRecord.objects.exists()


def test_an_approved_version_cannot_be_decided_again_but_a_declined_one_can(world):
    v = _publish(world)
    signoff_decide(
        version=v,
        decision="declined",
        signer=world.customer,
        signer_name="",
        comment="Not yet",
        evidence=EVIDENCE,
    )
    with pytest.raises(SignoffClosed, match="already declined"):
        signoff_decide(
            version=v,
            decision="declined",
            signer=world.customer,
            signer_name="",
            comment="Still no",
            evidence=EVIDENCE,
        )
    _approve(world, v)
    with pytest.raises(SignoffClosed, match="already approved"):
        _approve(world, v)
    assert list(SignoffRecord.objects.values_list("decision", flat=True)) == [
        "declined",
        "approved",
    ]


@pytest.mark.parametrize("who", ["architect", "viewer", "manager", "customer2"])
def test_only_the_engagements_customer_approver_can_sign(world, who):
    v = _publish(world)
    with pytest.raises(PermissionDenied):
        _approve(world, v, signer=getattr(world, who))
    assert not SignoffRecord.objects.exists()


def test_a_decline_needs_a_comment_and_an_approval_a_name(world):
    v = _publish(world)
    with pytest.raises(ValidationError, match="comment"):
        signoff_decide(
            version=v,
            decision="declined",
            signer=world.customer,
            signer_name="Carla",
            comment=" ",
            evidence=EVIDENCE,
        )
    with pytest.raises(ValidationError, match="full name"):
        signoff_decide(
            version=v,
            decision="approved",
            signer=world.customer,
            signer_name="",
            comment="",
            evidence=EVIDENCE,
        )
    assert not SignoffRecord.objects.exists()


def _signed_chain(world, n=3):
    records = []
    for i in range(n):
        records.append(_approve(world, _publish(world, subject=f"item_{i}", text=f"Text {i}")))
    return records


def test_the_chain_check_catches_a_record_edited_in_the_database(world):
    records = _signed_chain(world)
    assert signoff_verify(engagement=world.engagement) == (3, [])
    # Bypass the model: what someone with database access would do.
    SignoffRecord.objects.filter(pk=records[1].pk).update(signer_name="Someone Else")
    count, problems = signoff_verify(engagement=world.engagement)
    assert count == 3
    assert [(p.record_id, p.sequence) for p in problems] == [(records[1].pk, 2)]


def test_the_chain_check_catches_signed_text_edited_in_the_database(world):
    records = _signed_chain(world, 2)
    SignoffVersion.objects.filter(pk=records[0].version_id).update(text="Text 0, edited")
    _, problems = signoff_verify(engagement=world.engagement)
    assert len(problems) == 1 and problems[0].record_id == records[0].pk
    assert "edited after signing" in problems[0].message


def test_verify_signoffs_command_exit_codes(world):
    records = _signed_chain(world)
    out = StringIO()
    call_command("verify_signoffs", str(world.engagement.pk), stdout=out)
    assert "3 sign-off records, chain intact" in out.getvalue()
    SignoffRecord.objects.filter(pk=records[2].pk).update(decision="declined")
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_signoffs", str(world.engagement.pk), stdout=StringIO(), stderr=err)
    assert exit_info.value.code == 1
    assert f"record #3 (id {records[2].pk})" in err.getvalue()
    assert "BROKEN" in err.getvalue()


@pytest.mark.parametrize(("arg", "message"), [("abc", "a number"), ("999999", "No engagement")])
def test_verify_signoffs_command_bad_input(db, arg, message):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("verify_signoffs", arg)


@pytest.mark.needs_postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_signoffs_are_serialised_into_one_chain(world, monkeypatch):
    """Two approvals at once must not both link to the same previous record.

    ``_chain_tail`` is slowed down so both threads would read the same tail without the lock;
    with the engagement-row lock the second waits for the first to commit.
    """
    versions = [_publish(world, subject=f"item_{i}", text=f"Text {i}") for i in range(2)]
    real_tail = services._chain_tail

    def slow_tail(engagement):
        result = real_tail(engagement)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(services, "_chain_tail", slow_tail)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def sign(version):
        try:
            barrier.wait()
            _approve(world, version)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    records = list(SignoffRecord.objects.order_by("sequence"))
    assert [r.sequence for r in records] == [1, 2]
    assert records[1].previous_hash == records[0].record_hash
    assert signoff_verify(engagement=world.engagement) == (2, [])


def test_an_engagement_can_still_be_deleted_with_its_evidence(world):
    _approve(world, _publish(world))
    world.engagement.delete()
    assert not SignoffRecord.objects.exists() and not SignoffVersion.objects.exists()
