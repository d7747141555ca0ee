"""The tamper-evident chain of sign-off records (pure: no Django import).

Each sign-off record is hashed over a canonical JSON of everything it asserts (who, what text,
when, from where, how authenticated, the decision) **plus the previous record's hash**. Changing any
field of any record — or the signed text it points to — breaks either that record's own hash or
the link from the next record, and ``verify_chain`` names the record.

The records cannot show that records after the last one existed, so the last link is also kept
apart (``ChainHead``); ``verify_head`` reports records cut from the end of the chain.

Canonical form: JSON with sorted keys, no whitespace, UTF-8; datetimes as ISO 8601 in UTC with
microseconds (what both PostgreSQL and SQLite store). Changing this format invalidates every
stored chain, so it is versioned (``CHAIN_FORMAT``) and the version is part of the payload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CHAIN_FORMAT = 1
GENESIS_HASH = "0" * 64


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of the exact text, UTF-8 encoded, as the approver saw it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds; naive datetimes are refused (they are ambiguous)."""
    if moment.tzinfo is None:
        raise ValueError("sign-off times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ChainRecord:
    """What one sign-off record asserts. ``record_hash`` is the stored hash (to be checked)."""

    record_id: int
    sequence: int
    engagement_id: int
    subject: str
    version: int
    title: str
    text_sha256: str
    decision: str
    comment: str
    signer_id: int
    signer_username: str
    signer_name: str
    signed_at: datetime
    ip_address: str
    user_agent: str
    auth_method: str
    previous_hash: str
    record_hash: str = ""
    # The sha256 of the version text as stored *now*: differs from ``text_sha256`` when the
    # signed text was edited after signing. Not part of the hash (it is recomputed, not asserted).
    current_text_sha256: str = field(default="", compare=False)

    def payload(self) -> dict[str, Any]:
        return {
            "format": CHAIN_FORMAT,
            "sequence": self.sequence,
            "engagement": self.engagement_id,
            "subject": self.subject,
            "version": self.version,
            "title": self.title,
            "text_sha256": self.text_sha256,
            "decision": self.decision,
            "comment": self.comment,
            "signer_id": self.signer_id,
            "signer_username": self.signer_username,
            "signer_name": self.signer_name,
            "signed_at": canonical_time(self.signed_at),
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "auth_method": self.auth_method,
            "previous_hash": self.previous_hash,
        }

    def compute_hash(self) -> str:
        blob = json.dumps(self.payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainHead:
    """The chain's last link as kept apart from the records (sequence and hash)."""

    sequence: int
    record_hash: str


@dataclass(frozen=True)
class ChainProblem:
    """One finding. ``record_id`` is 0 when no stored record can be named (records missing);
    ``kind`` is "altered" or "missing"."""

    record_id: int
    sequence: int
    message: str
    kind: str = "altered"

    def __str__(self) -> str:
        if not self.record_id:
            return self.message
        return f"record #{self.sequence} (id {self.record_id}): {self.message}"


def verify_chain(records: Iterable[ChainRecord]) -> list[ChainProblem]:
    """Check records (in sequence order) for altered fields, broken links, gaps and edited text.

    Returns one problem per finding; an empty list means the chain is intact. Every record is
    checked even after a problem, so an auditor sees all altered records at once.
    """
    problems: list[ChainProblem] = []
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    for record in records:
        if record.sequence != expected_sequence:
            problems.append(
                ChainProblem(
                    record.record_id,
                    record.sequence,
                    f"sequence {record.sequence} where {expected_sequence} was expected "
                    "(a record was removed or inserted)",
                )
            )
        if record.previous_hash != expected_previous:
            problems.append(
                ChainProblem(
                    record.record_id,
                    record.sequence,
                    "previous-record hash does not match the record before it",
                )
            )
        if record.compute_hash() != record.record_hash:
            problems.append(
                ChainProblem(
                    record.record_id,
                    record.sequence,
                    "contents were altered after signing (hash mismatch)",
                )
            )
        if record.current_text_sha256 and record.current_text_sha256 != record.text_sha256:
            problems.append(
                ChainProblem(
                    record.record_id,
                    record.sequence,
                    f"the signed text of {record.subject} version {record.version} was edited "
                    "after signing (SHA-256 of the text no longer matches)",
                )
            )
        # Link the next record to the hash as stored: one altered record is reported once,
        # not again for every record after it.
        expected_previous = record.record_hash
        expected_sequence = record.sequence + 1
    return problems


def _span(first: int, last: int) -> str:
    return f"record #{first}" if first == last else f"records #{first}–#{last}"


def verify_head(last: ChainRecord | None, head: ChainHead | None) -> list[ChainProblem]:
    """Compare the last stored record with the chain's head: records cut from the end of the
    chain, a replaced last record, records appended without moving the head, or a head that
    vanished while records remain. ``last`` is None for an engagement without records, ``head``
    None when no head is stored."""
    if head is None:
        if last is None:
            return []
        return [
            ChainProblem(
                last.record_id,
                last.sequence,
                "the chain's head (its last link, kept apart from the records) is missing, so "
                "records removed from the end of the chain cannot be ruled out",
                kind="missing",
            )
        ]
    if last is None or head.sequence > last.sequence:
        stored = last.sequence if last is not None else 0
        where = f"the last one stored is #{stored}" if stored else "none is stored"
        return [
            ChainProblem(
                0,
                stored + 1,
                f"{_span(stored + 1, head.sequence)} deleted from the end of the chain: "
                f"the chain's head says {head.sequence} were written, and {where}",
                kind="missing",
            )
        ]
    if head.sequence < last.sequence:
        return [
            ChainProblem(
                last.record_id,
                last.sequence,
                f"{_span(head.sequence + 1, last.sequence)} came after the chain's head "
                f"(#{head.sequence}): added outside the sign-off service",
            )
        ]
    if head.record_hash != last.record_hash:
        return [
            ChainProblem(
                last.record_id,
                last.sequence,
                "the last record is not the one the chain's head names (it was replaced)",
            )
        ]
    return []
