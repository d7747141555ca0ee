"""The pure hash-chain module: hashes are canonical and every kind of tampering is named."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from engagements.chain import (
    GENESIS_HASH,
    ChainHead,
    ChainRecord,
    text_sha256,
    verify_chain,
    verify_head,
)


def _records(n: int = 3) -> list[ChainRecord]:
    records = []
    previous = GENESIS_HASH
    for i in range(1, n + 1):
        record = ChainRecord(
            record_id=100 + i,
            sequence=i,
            engagement_id=7,
            subject=f"definitions:term-{i}",
            version=1,
            title=f"Term {i}",
            text_sha256=text_sha256(f"text {i}"),
            decision="approved",
            comment="",
            signer_id=3,
            signer_username="carla",
            signer_name="Carla Customer",
            signed_at=datetime(2026, 3, 1, 12, 0, i, 123456, tzinfo=UTC),
            ip_address="10.0.0.1",
            user_agent="Mozilla/5.0",
            auth_method="username and password",
            previous_hash=previous,
            current_text_sha256=text_sha256(f"text {i}"),
        )
        record = dataclasses.replace(record, record_hash=record.compute_hash())
        records.append(record)
        previous = record.record_hash
    return records


def test_text_hash_is_sha256_of_utf8():
    assert text_sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert text_sha256("Territory – a set of accounts") != text_sha256("Territory - a set")


def test_hash_is_the_same_for_the_same_moment_in_any_timezone():
    record = _records(1)[0]
    shifted = dataclasses.replace(
        record, signed_at=record.signed_at.astimezone(timezone(timedelta(hours=-5)))
    )
    assert shifted.compute_hash() == record.compute_hash()


def test_naive_times_are_refused():
    record = dataclasses.replace(_records(1)[0], signed_at=datetime(2026, 1, 1, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        record.compute_hash()


def test_an_intact_chain_has_no_problems():
    assert verify_chain(_records(5)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("decision", "declined"),
        ("comment", "added later"),
        ("signer_name", "Somebody Else"),
        ("ip_address", "192.168.1.1"),
        ("text_sha256", "f" * 64),
        ("signed_at", datetime(2026, 3, 2, tzinfo=UTC)),
    ],
)
def test_an_altered_field_is_named_by_record(field, value):
    records = _records(3)
    records[1] = dataclasses.replace(records[1], **{field: value})
    problems = verify_chain(records)
    # Only the altered record is named (an altered text hash is also an edited-text finding).
    assert {(p.record_id, p.sequence) for p in problems} == {(102, 2)}
    assert "altered" in problems[0].message


def test_a_rehashed_record_still_breaks_the_next_link():
    records = _records(3)
    forged = dataclasses.replace(records[1], decision="declined")
    records[1] = dataclasses.replace(forged, record_hash=forged.compute_hash())
    problems = verify_chain(records)
    assert [(p.sequence, "previous-record hash" in p.message) for p in problems] == [(3, True)]


def test_a_removed_record_is_reported():
    records = _records(4)
    del records[1]
    problems = verify_chain(records)
    assert {p.sequence for p in problems} == {3}
    assert any("removed or inserted" in p.message for p in problems)


def test_an_edited_signed_text_is_reported():
    records = _records(2)
    records[0] = dataclasses.replace(records[0], current_text_sha256=text_sha256("edited"))
    problems = verify_chain(records)
    assert len(problems) == 1
    assert "edited after signing" in problems[0].message
    assert str(problems[0]).startswith("record #1 (id 101)")


def test_an_intact_head_has_no_problems():
    records = _records(3)
    assert verify_head(records[-1], ChainHead(3, records[-1].record_hash)) == []
    assert verify_head(None, None) == []


def test_records_cut_from_the_end_are_reported_missing():
    records = _records(5)
    head = ChainHead(5, records[-1].record_hash)
    problems = verify_head(records[2], head)
    assert [(p.kind, p.sequence, p.record_id) for p in problems] == [("missing", 4, 0)]
    assert str(problems[0]) == (
        "records #4–#5 deleted from the end of the chain: the chain's head says 5 were "
        "written, and the last one stored is #3"
    )
    one = verify_head(records[3], head)
    assert str(one[0]).startswith("record #5 deleted from the end of the chain")
    assert verify_chain(records[:3]) == []  # what the records alone could not show


def test_a_replaced_last_record_and_records_beyond_the_head_are_reported():
    records = _records(3)
    replaced = verify_head(records[-1], ChainHead(3, "f" * 64))
    assert [(p.kind, p.record_id) for p in replaced] == [("altered", 103)]
    assert "replaced" in replaced[0].message
    beyond = verify_head(records[-1], ChainHead(1, records[0].record_hash))
    assert "records #2–#3 came after the chain's head (#1)" in beyond[0].message


def test_a_missing_head_with_records_is_reported():
    problems = verify_head(_records(2)[-1], None)
    assert [(p.kind, p.sequence) for p in problems] == [("missing", 2)]
