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
from engagements.models import (
    ActivityEvent,
    ImmutableRecordError,
    SignoffChainHead,
    SignoffRecord,
    SignoffVersion,
)
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
    # Each engagement's chain head names its last record.
    heads = {h.engagement_id: (h.sequence, h.record_hash) for h in SignoffChainHead.objects.all()}
    assert heads == {
        world.engagement.pk: (2, second.record_hash),
        world.other.pk: (1, other.record_hash),
    }


def test_records_cannot_be_changed_or_deleted_through_the_orm(world):
    record = _approve(world, _publish(world))
    record.comment = "changed"
    with pytest.raises(ImmutableRecordError):
        record.save()
    with pytest.raises(ImmutableRecordError):
        record.delete()
    # Bulk deletes (which bypass the model's delete) are refused too, through any manager.
    with pytest.raises(ImmutableRecordError):
        SignoffRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(ImmutableRecordError):
        world.engagement.signoff_records.all().delete()
    assert SignoffRecord.objects.count() == 1
    assert signoff_verify(engagement=world.engagement) == (1, [])


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


def _delete_in_the_database(*records):
    """What someone with database access would do (the ORM refuses)."""
    with connection.cursor() as cursor:
        for record in records:
            cursor.execute(f"DELETE FROM {SignoffRecord._meta.db_table} WHERE id = %s", [record.pk])


def test_the_chain_check_catches_the_last_records_deleted_in_the_database(world):
    records = _signed_chain(world, 4)
    _delete_in_the_database(records[2], records[3])
    count, problems = signoff_verify(engagement=world.engagement)
    assert count == 2
    assert [(p.kind, p.sequence, p.record_id) for p in problems] == [("missing", 3, 0)]
    assert str(problems[0]).startswith("records #3–#4 deleted from the end of the chain")
    assert "the last one stored is #2" in str(problems[0])


def test_the_chain_check_catches_every_record_deleted(world):
    records = _signed_chain(world, 2)
    _delete_in_the_database(*records)
    count, problems = signoff_verify(engagement=world.engagement)
    assert count == 0
    assert [str(p) for p in problems] == [
        "records #1–#2 deleted from the end of the chain: the chain's head says 2 were "
        "written, and none is stored"
    ]


def test_the_chain_check_catches_a_deleted_head(world):
    records = _signed_chain(world, 2)
    SignoffChainHead.objects.filter(engagement=world.engagement).delete()
    _, problems = signoff_verify(engagement=world.engagement)
    assert [(p.kind, p.record_id) for p in problems] == [("missing", records[1].pk)]
    assert "head" in problems[0].message


def test_a_signoff_after_a_cut_links_to_the_deleted_record_so_the_cut_stays_visible(world):
    records = _signed_chain(world, 3)
    _delete_in_the_database(records[2])
    after = _approve(world, _publish(world, subject="later", text="Later text"))
    # The new record continues from the head (#3, deleted), not from the last record stored.
    assert after.sequence == 4 and after.previous_hash == records[2].record_hash
    count, problems = signoff_verify(engagement=world.engagement)
    assert count == 3
    # The gap is named at the record after it: its number and its link both skip #3.
    assert {(p.sequence, p.record_id) for p in problems} == {(4, after.pk)}
    assert "sequence 4 where 3 was expected" in problems[0].message
    assert "previous-record hash does not match" in problems[1].message


def test_verify_signoffs_command_names_the_deleted_records(world):
    records = _signed_chain(world, 3)
    _delete_in_the_database(records[2])
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_signoffs", str(world.engagement.pk), stdout=StringIO(), stderr=err)
    assert exit_info.value.code == 1
    assert "MISSING record #3 deleted from the end of the chain" in err.getvalue()
    assert "chain of 2 sign-off records is BROKEN (1 problems)" in err.getvalue()


def test_the_migration_anchors_chains_signed_before_it(world):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("engagements.migrations.0004_signoff_chain_head")
    records = _signed_chain(world, 3)
    SignoffChainHead.objects.all().delete()  # as before the migration
    migration.anchor_existing_chains(apps, None)
    head = SignoffChainHead.objects.get(engagement=world.engagement)
    assert (head.sequence, head.record_hash) == (3, records[2].record_hash)
    assert not SignoffChainHead.objects.filter(engagement=world.other).exists()
    assert signoff_verify(engagement=world.engagement) == (3, [])


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
