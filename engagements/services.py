"""Work across rows of the engagements app. Views and jobs call these; they never see a request."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from engagements import chain
from engagements.models import (
    CUSTOMER_ROLES,
    ActivityEvent,
    Assumption,
    AssumptionChange,
    Engagement,
    Meeting,
    Membership,
    Role,
    SignoffRecord,
    SignoffVersion,
    User,
)


def activity_record(
    *,
    engagement: Engagement,
    actor: User | None,
    verb: str,
    summary: str,
    data: dict[str, Any] | None = None,
) -> ActivityEvent:
    """Append a line to the engagement's activity log."""
    return ActivityEvent.objects.create(
        engagement=engagement,
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        summary=summary[:500],
        data=data or {},
    )


@transaction.atomic
def membership_set(
    *, engagement: Engagement, user: User, role: Role, actor: User | None = None
) -> Membership:
    """Give ``user`` ``role`` on ``engagement`` (creating or changing the membership).

    Customer roles are only for users of the engagement's own organization, and customer users
    can hold nothing else: this is the rule that keeps one customer out of another's engagement.
    """
    role = Role(role)
    if role in CUSTOMER_ROLES:
        if user.organization_id != engagement.organization_id:
            raise ValidationError(
                f"{user.username} is not a user of {engagement.organization.name}; "
                "customer roles are for the engagement's own organization."
            )
    elif user.is_customer:
        raise ValidationError(f"{user.username} is a customer user and cannot be {role.label}.")
    if role not in (Role.ARCHITECT, Role.ENGINEER, *CUSTOMER_ROLES):
        raise ValidationError(f"{role.label} is a consultancy-wide role, not a membership.")
    membership, created = Membership.objects.update_or_create(
        engagement=engagement, user=user, defaults={"role": role}
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="membership.set",
        summary=f"{user.display_name()} {'added' if created else 'now'} as {role.label}",
        data={"user": user.pk, "role": role.value},
    )
    return membership


def _lock_engagement(engagement: Engagement) -> None:
    """Serialise writers on one engagement (sign-off chain appends, version numbers).

    A row lock on PostgreSQL; SQLite takes no row locks but allows one writer at a time, and the
    unique constraints on (engagement, sequence) and (engagement, subject, version) catch a race.
    """
    Engagement.objects.select_for_update().filter(pk=engagement.pk).values_list("pk").first()


# --- Assumptions register --------------------------------------------------------------------

_MISSING = object()


def _json_normal(value: Any) -> Any:
    """The value as it will come back from a JSONField, so comparisons are like for like."""
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Assumption value must be JSON-serialisable: {exc}") from exc


def _check_category(category: str) -> str:
    if category not in Assumption.Category.values:
        raise ValidationError(
            f"Unknown assumption category {category!r}; use one of "
            f"{', '.join(Assumption.Category.values)}."
        )
    return category


@transaction.atomic
def assumption_register(
    *,
    engagement: Engagement,
    key: str,
    category: str,
    statement: str,
    value: Any,
    blocking: bool = False,
    source: str = "",
    actor: User | None = None,
) -> Assumption:
    """Register or refresh an assumption owned by another app. Idempotent by (engagement, key).

    * new key -> created ASSUMED (``blocking`` applies only here: afterwards the architect owns
      the flag);
    * same value -> unchanged, returned as is (also when the value equals a correction the
      customer made: the owning app has adopted the correction);
    * different value -> value and statement updated, state back to ASSUMED, a history row
      "value changed by <source>".
    """
    key = (key or "").strip()
    if not key or len(key) > 150:
        raise ValidationError("Assumption key must be 1–150 characters.")
    _check_category(category)
    statement = (statement or "").strip()[:500]
    if not statement:
        raise ValidationError(f"Assumption {key}: the statement is empty.")
    value = _json_normal(value)
    assumption, created = Assumption.objects.get_or_create(
        engagement=engagement,
        key=key,
        defaults={
            "category": category,
            "statement": statement,
            "value": value,
            "blocking": blocking,
            "source": source,
        },
    )
    actor = actor if actor is not None and actor.is_authenticated else None
    if created:
        assumption.history.create(
            event=AssumptionChange.Event.REGISTERED,
            to_state=Assumption.State.ASSUMED,
            value=value,
            actor=actor,
            note=f"registered by {source or 'hand'}",
        )
        activity_record(
            engagement=engagement,
            actor=actor,
            verb="assumption.registered",
            summary=f"Assumption registered: {statement}",
            data={"key": key, "source": source},
        )
        return assumption
    assumption = Assumption.objects.select_for_update().get(pk=assumption.pk)
    if assumption.value == value:
        return assumption
    if assumption.state == Assumption.State.CORRECTED and assumption.corrected_value == value:
        return assumption
    from_state = assumption.state
    assumption.value = value
    assumption.statement = statement
    assumption.category = category
    assumption.state = Assumption.State.ASSUMED
    assumption.corrected_value = None
    assumption.meeting = None
    assumption.changed_at = timezone.now()
    assumption.save(
        update_fields=[
            "value",
            "statement",
            "category",
            "state",
            "corrected_value",
            "meeting",
            "changed_at",
        ]
    )
    assumption.history.create(
        event=AssumptionChange.Event.VALUE_CHANGED,
        from_state=from_state,
        to_state=Assumption.State.ASSUMED,
        value=value,
        actor=actor,
        note=f"value changed by {source or 'hand'}",
        created_at=assumption.changed_at,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="assumption.value_changed",
        summary=f"Assumption back to ASSUMED after a value change: {statement}",
        data={"key": key, "source": source, "from_state": from_state},
    )
    return assumption


def assumption_effective_value(*, engagement: Engagement, key: str, default: Any = None) -> Any:
    """``corrected_value`` when CORRECTED, else ``value``; ``default`` when unknown or REJECTED."""
    row = (
        Assumption.objects.filter(engagement=engagement, key=key)
        .values("state", "value", "corrected_value")
        .first()
    )
    if row is None or row["state"] == Assumption.State.REJECTED:
        return default
    if row["state"] == Assumption.State.CORRECTED:
        return row["corrected_value"]
    return row["value"]


def assumptions_for(
    *, engagement: Engagement, category: str | None = None, key_prefix: str = ""
) -> QuerySet[Assumption]:
    """The engagement's assumptions, optionally of one category and/or under a key prefix."""
    qs = Assumption.objects.filter(engagement=engagement)
    if category:
        qs = qs.filter(category=_check_category(category))
    if key_prefix:
        qs = qs.filter(key__startswith=key_prefix)
    return qs.order_by("category", "key")


class AssumptionDecision:
    CONFIRM = "confirm"
    CORRECT = "correct"
    REJECT = "reject"
    REOPEN = "reopen"
    ALL = (CONFIRM, CORRECT, REJECT, REOPEN)


@transaction.atomic
def assumption_decide(
    *,
    assumption: Assumption,
    decision: str,
    meeting: Meeting | None,
    actor: User | None,
    value: Any = _MISSING,
    note: str = "",
) -> Assumption:
    """Confirm, correct (with ``value``), reject or reopen an assumption in a meeting.

    The meeting must be one of the assumption's engagement; correcting needs the new value.
    """
    if decision not in AssumptionDecision.ALL:
        raise ValidationError(f"Unknown decision {decision!r}.")
    if meeting is None and decision != AssumptionDecision.REOPEN:
        raise ValidationError("Say in which meeting this was decided.")
    if meeting is not None and meeting.engagement_id != assumption.engagement_id:
        raise ValidationError("That meeting belongs to another engagement.")
    assumption = Assumption.objects.select_for_update().get(pk=assumption.pk)
    if decision not in assumption.allowed_decisions():
        raise ValidationError(
            f"“{assumption.statement}” is {assumption.get_state_display().upper()}; "
            f"it cannot be {decision}ed now (allowed: "
            f"{', '.join(sorted(assumption.allowed_decisions()))})."
        )
    if decision == AssumptionDecision.CONFIRM:
        assumption.confirm(by=actor, meeting=meeting, note=note)
    elif decision == AssumptionDecision.CORRECT:
        if value is _MISSING:
            raise ValidationError("A correction needs the corrected value.")
        assumption.correct(by=actor, meeting=meeting, value=_json_normal(value), note=note)
    elif decision == AssumptionDecision.REJECT:
        assumption.reject(by=actor, meeting=meeting, note=note)
    else:
        assumption.reopen(by=actor, meeting=meeting, note=note)
    where = f" in {meeting.title}" if meeting else ""
    activity_record(
        engagement=assumption.engagement,
        actor=actor,
        verb=f"assumption.{assumption.state}",
        summary=f"{assumption.get_state_display()}{where}: {assumption.statement}",
        data={"key": assumption.key, "meeting": meeting.pk if meeting else None},
    )
    return assumption


@transaction.atomic
def assumption_set_blocking(
    *, assumption: Assumption, blocking: bool, actor: User | None
) -> Assumption:
    """Mark an assumption as blocking the Strategy gate (or not), with a history line."""
    if assumption.blocking == blocking:
        return assumption
    assumption.blocking = blocking
    assumption.save(update_fields=["blocking"])
    assumption.history.create(
        event=AssumptionChange.Event.BLOCKING,
        from_state=assumption.state,
        to_state=assumption.state,
        actor=actor if actor is not None and actor.is_authenticated else None,
        note="now blocks the Strategy gate" if blocking else "no longer blocks the Strategy gate",
    )
    activity_record(
        engagement=assumption.engagement,
        actor=actor,
        verb="assumption.blocking",
        summary=f"{'Blocking' if blocking else 'Not blocking'}: {assumption.statement}",
        data={"key": assumption.key, "blocking": blocking},
    )
    return assumption


# --- Sign-off --------------------------------------------------------------------------------

SUBJECT_RE = re.compile(r"^[a-z][a-z0-9_]*(:[a-z0-9][a-z0-9_-]*)?$")


class SignoffError(Exception):
    """A sign-off that cannot be recorded; the message says why."""


class SignoffStale(SignoffError):
    """The version being decided is no longer the latest (the view answers 409)."""

    def __init__(self, version: SignoffVersion, latest: SignoffVersion):
        self.version = version
        self.latest = latest
        super().__init__(
            f"Version {version.version} of “{version.title}” was replaced by version "
            f"{latest.version}; review the new text before deciding."
        )


class SignoffClosed(SignoffError):
    """The version was already decided that way (the view answers 409)."""


def _check_subject(subject: str) -> str:
    if not SUBJECT_RE.match(subject or ""):
        raise ValidationError(
            f"Sign-off subject {subject!r} must be a lower-case slug like "
            '"icp_matrix" or "definitions:enterprise".'
        )
    return subject


@transaction.atomic
def signoff_publish(
    *, engagement: Engagement, subject: str, title: str, text: str, actor: User | None
) -> SignoffVersion:
    """Publish the exact text the customer approver will be asked to approve.

    A new version of (engagement, subject) unless the latest version's text is identical, in
    which case that version is returned unchanged. Published versions are immutable.
    """
    _check_subject(subject)
    title = (title or "").strip()[:300]
    if not title:
        raise ValidationError("A sign-off item needs a title.")
    if not (text or "").strip():
        raise ValidationError(f"{title}: there is no text to sign off.")
    _lock_engagement(engagement)
    latest = signoff_latest(engagement=engagement, subject=subject)
    if latest is not None and latest.text == text:
        return latest
    version = SignoffVersion.objects.create(
        engagement=engagement,
        subject=subject,
        version=(latest.version + 1) if latest else 1,
        title=title,
        text=text,
        text_sha256=chain.text_sha256(text),
        published_by=actor if actor is not None and actor.is_authenticated else None,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="signoff.published",
        summary=f"Published for sign-off: {title} (version {version.version})",
        data={"subject": subject, "version": version.version},
    )
    return version


def signoff_latest(*, engagement: Engagement, subject: str) -> SignoffVersion | None:
    """The latest published version of ``subject``, or None."""
    return (
        SignoffVersion.objects.filter(engagement=engagement, subject=subject)
        .order_by("-version")
        .first()
    )


@dataclass(frozen=True)
class SignoffStatus:
    """Where one subject stands: its latest version and, if any, the last version approved.

    ``stale`` is true when an older version was approved but the latest is not (yet): the
    approval covers a text that has since changed.
    """

    subject: str
    state: str  # "none" | "pending" | "approved" | "declined"
    latest: SignoffVersion | None
    latest_record: SignoffRecord | None
    last_approved: SignoffVersion | None = None
    last_approved_record: SignoffRecord | None = None

    @property
    def stale(self) -> bool:
        return self.last_approved is not None and self.state != "approved"


def signoff_aggregate_state(states: Iterable[str]) -> str:
    states = list(states)
    if not states:
        return "none"
    if all(s == "approved" for s in states):
        return "approved"
    if any(s == "declined" for s in states):
        return "declined"
    return "pending"


def signoff_statuses(
    *, engagement: Engagement, prefix: str | None = None
) -> dict[str, SignoffStatus]:
    """Every subject of the engagement (or those starting with ``prefix``) with its status.

    Two queries whatever the number of subjects: versions with their latest decision, then the
    records those decisions point to.
    """
    latest_record = SignoffRecord.objects.filter(version=OuterRef("pk")).order_by("-sequence")
    versions = SignoffVersion.objects.filter(engagement=engagement).annotate(
        decision=Subquery(latest_record.values("decision")[:1]),
        decision_record_id=Subquery(latest_record.values("pk")[:1]),
    )
    if prefix:
        versions = versions.filter(subject__startswith=prefix)
    versions = list(versions.select_related("published_by").order_by("subject", "-version"))
    record_ids = [v.decision_record_id for v in versions if v.decision_record_id]
    records = {
        r.pk: r for r in SignoffRecord.objects.filter(pk__in=record_ids).select_related("signer")
    }
    by_subject: dict[str, list[SignoffVersion]] = {}
    for version in versions:
        by_subject.setdefault(version.subject, []).append(version)
    statuses = {}
    for subject, subject_versions in by_subject.items():
        latest = subject_versions[0]
        approved = next((v for v in subject_versions if v.decision == "approved"), None)
        statuses[subject] = SignoffStatus(
            subject=subject,
            state=latest.decision or "pending",
            latest=latest,
            latest_record=records.get(latest.decision_record_id),
            last_approved=approved,
            last_approved_record=records.get(approved.decision_record_id) if approved else None,
        )
    return statuses


def signoff_state(*, engagement: Engagement, subject: str) -> str:
    """State of the LATEST version: "none", "pending", "approved" or "declined".

    A group subject without versions of its own ("definitions") aggregates its items
    ("definitions:<term>"): approved when every item's latest version is approved, declined when
    any is declined, pending otherwise, none when no item was ever published.
    """
    own = signoff_latest(engagement=engagement, subject=subject)
    if own is not None:
        record = own.records.order_by("-sequence").values_list("decision", flat=True).first()
        return record or "pending"
    if ":" in subject:
        return "none"
    children = signoff_statuses(engagement=engagement, prefix=f"{subject}:")
    return signoff_aggregate_state(status.state for status in children.values())


@dataclass(frozen=True)
class SignoffEvidence:
    """What the request tells about the signer, captured by the view."""

    ip_address: str
    user_agent: str
    auth_method: str


def _chain_tail(engagement: Engagement) -> tuple[int, str]:
    """(next sequence, previous hash) for the engagement's chain; call under the lock."""
    last = (
        SignoffRecord.objects.filter(engagement=engagement)
        .order_by("-sequence")
        .values_list("sequence", "record_hash")
        .first()
    )
    if last is None:
        return 1, chain.GENESIS_HASH
    return last[0] + 1, last[1]


def _chain_record(record: SignoffRecord, *, current_text_sha256: str = "") -> chain.ChainRecord:
    return chain.ChainRecord(
        record_id=record.pk or 0,
        sequence=record.sequence,
        engagement_id=record.engagement_id,
        subject=record.subject,
        version=record.version_number,
        title=record.title,
        text_sha256=record.text_sha256,
        decision=record.decision,
        comment=record.comment,
        signer_id=record.signer_id,
        signer_username=record.signer_username,
        signer_name=record.signer_name,
        signed_at=record.signed_at,
        ip_address=record.ip_address,
        user_agent=record.user_agent,
        auth_method=record.auth_method,
        previous_hash=record.previous_hash,
        record_hash=record.record_hash,
        current_text_sha256=current_text_sha256,
    )


def signoff_decide(
    *,
    version: SignoffVersion,
    decision: str,
    signer: User,
    signer_name: str,
    comment: str,
    evidence: SignoffEvidence,
    expected_sha256: str | None = None,
) -> SignoffRecord:
    """Record the customer approver's approval or decline of exactly ``version``.

    Raises ``SignoffStale`` when a newer version exists (or the text the signer saw is not this
    version's), ``SignoffClosed`` when the version is already approved (or already declined and
    declined again), ``PermissionDenied`` when ``signer`` is not the engagement's customer
    approver, ``ValidationError`` for a decline without a comment or an approval without a name.
    Appends to the engagement's hash chain under a lock on the engagement row.
    """
    from engagements.access import role_for

    engagement = version.engagement
    if decision not in SignoffRecord.Decision.values:
        raise ValidationError(f"Unknown decision {decision!r}.")
    comment = (comment or "").strip()
    signer_name = " ".join((signer_name or "").split())[:200]
    if decision == SignoffRecord.Decision.DECLINED and not comment:
        raise ValidationError("Say why you decline: a comment is required.")
    if decision == SignoffRecord.Decision.APPROVED and not signer_name:
        raise ValidationError("Type your full name to approve.")
    if role_for(signer, engagement) != Role.CUSTOMER_APPROVER:
        raise PermissionDenied("Only the customer approver of this engagement can sign off.")
    with transaction.atomic():
        _lock_engagement(engagement)
        latest = signoff_latest(engagement=engagement, subject=version.subject)
        if latest is None or latest.pk != version.pk:
            raise SignoffStale(version, latest or version)
        if expected_sha256 is not None and expected_sha256 != version.text_sha256:
            raise SignoffStale(version, latest)
        current = version.records.order_by("-sequence").values_list("decision", flat=True).first()
        if current == SignoffRecord.Decision.APPROVED:
            raise SignoffClosed(
                f"Version {version.version} of “{version.title}” is already approved."
            )
        if current == decision:
            raise SignoffClosed(
                f"Version {version.version} of “{version.title}” is already declined."
            )
        sequence, previous_hash = _chain_tail(engagement)
        record = SignoffRecord(
            engagement=engagement,
            version=version,
            sequence=sequence,
            subject=version.subject,
            version_number=version.version,
            title=version.title,
            text_sha256=version.text_sha256,
            decision=decision,
            comment=comment,
            signer=signer,
            signer_username=signer.get_username(),
            signer_name=signer_name,
            signed_at=timezone.now(),
            ip_address=(evidence.ip_address or "")[:45],
            user_agent=(evidence.user_agent or "")[:1000],
            auth_method=(evidence.auth_method or "")[:300],
            previous_hash=previous_hash,
        )
        record.record_hash = _chain_record(record).compute_hash()
        record.save()
        activity_record(
            engagement=engagement,
            actor=signer,
            verb=f"signoff.{decision}",
            summary=(
                f"{signer_name or signer.display_name()} {decision} “{version.title}” "
                f"(version {version.version})" + (f": {comment[:200]}" if comment else "")
            ),
            data={"subject": version.subject, "version": version.version, "record": record.pk},
        )
    return record


def signoff_verify(*, engagement: Engagement) -> tuple[int, list[chain.ChainProblem]]:
    """Re-check the engagement's whole chain: (number of records, problems found).

    Reads the signed text back from each version and hashes it again, so a text edited in the
    database after signing is caught as well as an edited record.
    """
    records = list(
        SignoffRecord.objects.filter(engagement=engagement)
        .select_related("version")
        .order_by("sequence")
    )
    chain_records = [
        _chain_record(r, current_text_sha256=chain.text_sha256(r.version.text)) for r in records
    ]
    return len(records), chain.verify_chain(chain_records)


def signoff_record_verify(*, record: SignoffRecord) -> list[str]:
    """Problems with one record on its own (its hash, its text); the chain links need
    ``signoff_verify``. Used by the certificate page."""
    problems = []
    if _chain_record(record).compute_hash() != record.record_hash:
        problems.append("The record was altered after signing (hash mismatch).")
    if chain.text_sha256(record.version.text) != record.text_sha256:
        problems.append("The signed text was edited after signing.")
    return problems
