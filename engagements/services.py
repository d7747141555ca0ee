"""Work across rows of the engagements app. Views and jobs call these; they never see a request."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from engagements import chain, lifecycle
from engagements.access import role_for
from engagements.customer_list import CustomerListError, inspect_customer_list
from engagements.lifecycle import Blocker
from engagements.models import (
    CUSTOMER_ROLES,
    ActivityEvent,
    Assumption,
    AssumptionChange,
    ChecklistItem,
    CustomerOrganization,
    DefinitionTerm,
    Engagement,
    EngagementPlaybook,
    FeedbackItem,
    GateDecision,
    HoursEntry,
    IntakeForm,
    IntakeUpload,
    Meeting,
    Membership,
    Phase,
    PlaybookTemplate,
    Role,
    SignoffChainHead,
    SignoffRecord,
    SignoffVersion,
    Stakeholder,
    SubPhase,
    User,
)
from engagements.playbook import (
    PLACEHOLDER_RE,
    Playbook,
    PlaybookError,
    format_placeholder,
    parse_playbook,
    render_definition,
    weights_problem,
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


@dataclass(frozen=True)
class Invitation:
    membership: Membership
    created: bool  # a new login was made (False: the person had one and is now on the team)


def membership_invite(
    *,
    engagement: Engagement,
    email: str,
    first_name: str,
    last_name: str,
    role: Role,
    actor: User,
    site_url: str,
) -> Invitation:
    """Put a person of the engagement's customer organization on the team, making their login
    if they have none, and email them a link to choose a password (``site_url`` is the
    portal's address, e.g. ``https://portal.example.com``).

    The login is the email address; it has no usable password until the link is used (the link
    is Django's password-reset link: it works once). Inviting someone who already has a login in
    the organization just gives them the role and emails them the link again only if they never
    chose a password. An address that belongs to anyone outside the organization is refused.
    """
    from django.conf import settings
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    role = Role(role)
    if role not in CUSTOMER_ROLES:
        raise ValidationError(f"{role.label}: invitations are for the customer's own people.")
    email = email.strip().lower()
    organization = engagement.organization
    with transaction.atomic():
        user = (
            User.objects.filter(email__iexact=email).first()
            or User.objects.filter(username__iexact=email).first()
        )
        created = user is None
        if user is not None and user.organization_id != organization.pk:
            raise ValidationError(
                f"{email} already has a login outside {organization.name}; "
                "customer roles are for the engagement's own organization."
            )
        if created:
            user = User(
                username=email,
                email=email,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                organization=organization,
            )
            user.set_unusable_password()
            user.save()
        membership = membership_set(engagement=engagement, user=user, role=role, actor=actor)
        activity_record(
            engagement=engagement,
            actor=actor,
            verb="membership.invited",
            summary=f"{user.display_name()} invited as {role.label} ({email})",
            data={"user": user.pk, "role": role.value, "new_login": created},
        )
    if user.has_usable_password():
        return Invitation(membership=membership, created=False)
    link = site_url.rstrip("/") + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "engagement": engagement,
        "role": role.label,
        "inviter": actor.display_name(),
        "link": link,
        "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    send_mail(
        subject=f"You are invited to {engagement.name} on the Territory Portal",
        message=render_to_string("registration/invitation_email.txt", context),
        from_email=None,
        recipient_list=[email],
    )
    return Invitation(membership=membership, created=created)


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


# Checks of a corrected value, by key prefix, provided by the app that reads those keys
# (territories: the valuation parameters). A check returns the problems, one sentence each.
ValueCheck = Callable[[str, Any], list[str]]
_VALUE_CHECKS: dict[str, ValueCheck] = {}


def assumption_value_check(prefix: str, check: ValueCheck) -> None:
    """Register ``check(key, value)`` for corrections of assumptions whose key starts with
    ``prefix`` (called from an app's ``ready``)."""
    _VALUE_CHECKS[prefix] = check


def assumption_value_problems(*, key: str, value: Any) -> list[str]:
    """What the checks registered for ``key`` find wrong with ``value`` (empty: usable)."""
    return [
        problem
        for prefix, check in _VALUE_CHECKS.items()
        if key.startswith(prefix)
        for problem in check(key, value)
    ]


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
        problems = assumption_value_problems(key=assumption.key, value=_json_normal(value))
        if problems:
            raise ValidationError(problems)
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
    return signoff_statuses_for(engagement_ids=[engagement.pk], prefix=prefix).get(
        engagement.pk, {}
    )


def signoff_statuses_for(
    *, engagement_ids: list[int], prefix: str | None = None
) -> dict[int, dict[str, SignoffStatus]]:
    """``signoff_statuses`` for several engagements at once (still two queries)."""
    latest_record = SignoffRecord.objects.filter(version=OuterRef("pk")).order_by("-sequence")
    versions = SignoffVersion.objects.filter(engagement_id__in=engagement_ids).annotate(
        decision=Subquery(latest_record.values("decision")[:1]),
        decision_record_id=Subquery(latest_record.values("pk")[:1]),
    )
    if prefix:
        versions = versions.filter(subject__startswith=prefix)
    versions = list(
        versions.select_related("published_by").order_by("engagement_id", "subject", "-version")
    )
    record_ids = [v.decision_record_id for v in versions if v.decision_record_id]
    records = (
        {r.pk: r for r in SignoffRecord.objects.filter(pk__in=record_ids).select_related("signer")}
        if record_ids
        else {}
    )
    by_subject: dict[tuple[int, str], list[SignoffVersion]] = {}
    for version in versions:
        by_subject.setdefault((version.engagement_id, version.subject), []).append(version)
    statuses: dict[int, dict[str, SignoffStatus]] = {}
    for (engagement_id, subject), subject_versions in by_subject.items():
        latest = subject_versions[0]
        approved = next((v for v in subject_versions if v.decision == "approved"), None)
        statuses.setdefault(engagement_id, {})[subject] = SignoffStatus(
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
    """(next sequence, previous hash) for the engagement's chain; call under the lock.

    Read from the chain's head, not from the last record stored: after records were cut from
    the end, the next record still links to the last one written, so the cut stays visible."""
    head = (
        SignoffChainHead.objects.filter(engagement=engagement)
        .values_list("sequence", "record_hash")
        .first()
    )
    if head is None:
        head = (
            SignoffRecord.objects.filter(engagement=engagement)
            .order_by("-sequence")
            .values_list("sequence", "record_hash")
            .first()
        )
    if head is None:
        return 1, chain.GENESIS_HASH
    return head[0] + 1, head[1]


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
        SignoffChainHead.objects.update_or_create(
            engagement=engagement,
            defaults={
                "sequence": record.sequence,
                "record_hash": record.record_hash,
                "updated_at": record.signed_at,
            },
        )
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
    database after signing is caught as well as an edited record; compares the last record with
    the chain's head, so records deleted from the end are caught too.
    """
    records = list(
        SignoffRecord.objects.filter(engagement=engagement)
        .select_related("version")
        .order_by("sequence")
    )
    chain_records = [
        _chain_record(r, current_text_sha256=chain.text_sha256(r.version.text)) for r in records
    ]
    head = SignoffChainHead.objects.filter(engagement=engagement).first()
    problems = chain.verify_chain(chain_records) + chain.verify_head(
        chain_records[-1] if chain_records else None,
        chain.ChainHead(head.sequence, head.record_hash) if head else None,
    )
    return len(records), problems


def signoff_record_verify(*, record: SignoffRecord) -> list[str]:
    """Problems with one record on its own (its hash, its text); the chain links need
    ``signoff_verify``. Used by the certificate page."""
    problems = []
    if _chain_record(record).compute_hash() != record.record_hash:
        problems.append("The record was altered after signing (hash mismatch).")
    if chain.text_sha256(record.version.text) != record.text_sha256:
        problems.append("The signed text was edited after signing.")
    return problems


# --- Playbook template -----------------------------------------------------------------------

PLAYBOOK_FILE = Path(__file__).resolve().parent / "playbooks" / "sales_territory_design.json"


def playbook_default_data() -> dict[str, Any]:
    """The template shipped with the code (seed 000), used when the database has none yet."""
    with PLAYBOOK_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)


@transaction.atomic
def playbook_template_active() -> PlaybookTemplate:
    """The template version new engagements start from; version 1 is loaded from the shipped
    file the first time (also after a test flushed the database)."""
    template = PlaybookTemplate.objects.filter(is_active=True).order_by("-version").first()
    if template is None:
        template = PlaybookTemplate.objects.order_by("-version").first()
    if template is None:
        data = playbook_default_data()
        parsed = parse_playbook(data)
        template, _ = PlaybookTemplate.objects.get_or_create(
            version=1,
            defaults={
                "name": parsed.name,
                "data": data,
                "is_active": True,
                "notes": "Transcribed from the implementation playbook (seed 000).",
            },
        )
    return template


@transaction.atomic
def playbook_template_copy(*, template: PlaybookTemplate, actor: User | None) -> PlaybookTemplate:
    """A new, inactive version with the same data, for staff to edit and then activate."""
    latest = PlaybookTemplate.objects.select_for_update().order_by("-version").first()
    return PlaybookTemplate.objects.create(
        name=template.name,
        version=(latest.version if latest else 0) + 1,
        data=template.data,
        is_active=False,
        notes=f"Copied from version {template.version}.",
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )


@transaction.atomic
def playbook_template_activate(*, template: PlaybookTemplate) -> PlaybookTemplate:
    """Make ``template`` the version new engagements start from (validated first)."""
    try:
        parse_playbook(template.data)
    except PlaybookError as exc:
        raise ValidationError(exc.problems) from exc
    PlaybookTemplate.objects.exclude(pk=template.pk).update(is_active=False)
    PlaybookTemplate.objects.filter(pk=template.pk).update(is_active=True)
    template.is_active = True
    return template


def playbook_for(engagement: Engagement) -> Playbook:
    """The playbook this engagement started from (its own copy; never a later template edit).

    The handoff app reads ``.maintenance_tasks``, ``.cadences``, ``.refinement_triggers``,
    ``.documents``, ``.training_types``, ``.escalation_guidelines`` and ``.retention_paths``.
    """
    cached = getattr(engagement, "_playbook", None)
    if cached is not None:
        return cached
    data = (
        EngagementPlaybook.objects.filter(engagement=engagement)
        .values_list("data", flat=True)
        .first()
    )
    if data is None:
        data = playbook_template_active().data
    engagement._playbook = parse_playbook(data)
    return engagement._playbook


def _weights_for(playbook: Playbook, profile: str) -> dict[str, int]:
    chosen = playbook.weight_profile(profile) or playbook.weight_profiles[0]
    return dict(chosen.weights)


@transaction.atomic
def playbook_instantiate(
    *, engagement: Engagement, template: PlaybookTemplate | None = None
) -> None:
    """Copy the template into the engagement: phases with their gates, sub-phases, checklist
    items, definition terms, the intake form, and the placeholder assumptions the definitions
    use. Runs once per engagement (a second call does nothing)."""
    if Phase.objects.filter(engagement=engagement).exists():
        return
    template = template or playbook_template_active()
    playbook = parse_playbook(template.data)
    EngagementPlaybook.objects.create(engagement=engagement, data=template.data)
    engagement.playbook_template = template
    if not engagement.phase_weights or weights_problem(
        engagement.phase_weights, [p.slug for p in playbook.phases]
    ):
        engagement.phase_weights = _weights_for(playbook, engagement.weight_profile)
    Engagement.objects.filter(pk=engagement.pk).update(
        playbook_template=template, phase_weights=engagement.phase_weights
    )
    now = timezone.now()
    phases = Phase.objects.bulk_create(
        [
            Phase(
                engagement=engagement,
                number=p.number,
                slug=p.slug,
                name=p.name,
                opened_at=now if p.number == 1 else None,
                gate_produces=p.gate.produces[:300],
                gate_criteria=p.gate.criteria[:300],
                gate_signoffs=list(p.gate.signoffs),
                gate_checks_assumptions=p.gate.no_blocking_assumptions,
                gate_decisions=list(p.gate.decisions),
                proceed_label=p.gate.proceed_label[:200],
            )
            for p in playbook.phases
        ]
    )
    subphase_rows = []
    position = 0
    for phase_row, phase in zip(phases, playbook.phases, strict=True):
        for sub in phase.subphases:
            position += 1
            subphase_rows.append(
                SubPhase(
                    engagement=engagement,
                    phase=phase_row,
                    code=sub.code,
                    name=sub.name,
                    purpose=sub.purpose,
                    position=position,
                )
            )
    subphases = SubPhase.objects.bulk_create(subphase_rows)
    items = []
    for sub_row, sub in zip(subphases, playbook.subphases, strict=True):
        index = 0
        for group in sub.groups:
            for item in group.items:
                index += 1
                items.append(
                    ChecklistItem(
                        engagement=engagement,
                        subphase=sub_row,
                        key=item.key,
                        group=group.title[:160],
                        text=item.text[:500],
                        owner=item.owner,
                        required=item.required,
                        condition=item.when,
                        signoff_subject=item.signoff,
                        event=item.event,
                        position=index,
                    )
                )
    ChecklistItem.objects.bulk_create(items)
    DefinitionTerm.objects.bulk_create(
        [
            DefinitionTerm(
                engagement=engagement,
                slug=term.slug,
                term=term.term,
                definition=term.definition,
                kind=term.kind,
                gates_design=term.gates_design,
                position=index,
            )
            for index, term in enumerate(playbook.definition_terms, start=1)
        ]
    )
    IntakeForm.objects.get_or_create(engagement=engagement)
    for placeholder in playbook.definition_placeholders.values():
        assumption_register(
            engagement=engagement,
            key=placeholder.assumption,
            category=placeholder.category,
            statement=placeholder.statement.format(
                value=format_placeholder(placeholder.default, placeholder.format)
            ),
            value=placeholder.default,
            # A segment threshold written into the definitions: the Strategy gate waits for it.
            blocking=True,
            source="engagements",
        )


# --- Engagement ------------------------------------------------------------------------------


@transaction.atomic
def engagement_create(
    *,
    organization: CustomerOrganization,
    name: str,
    actor: User,
    **fields: Any,
) -> Engagement:
    """Create an engagement (its playbook is instantiated on save) with ``actor`` as architect."""
    engagement = Engagement(organization=organization, name=name, created_by=actor, **fields)
    engagement.full_clean()
    engagement.save()
    membership_set(engagement=engagement, user=actor, role=Role.ARCHITECT, actor=actor)
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="engagement.created",
        summary=f"Engagement created from playbook version {engagement.playbook_template.version}",
        data={"template": engagement.playbook_template_id},
    )
    return engagement


@transaction.atomic
def engagement_update(
    *, engagement: Engagement, actor: User, changes: dict[str, Any]
) -> Engagement:
    """Apply ``changes`` (field -> value) and log which fields changed."""
    changed = []
    for field_name, value in changes.items():
        if getattr(engagement, field_name) != value:
            setattr(engagement, field_name, value)
            changed.append(field_name)
    if not changed:
        return engagement
    engagement.full_clean()
    engagement.save(update_fields=changed)
    labels = [str(Engagement._meta.get_field(f).verbose_name) for f in changed]
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="engagement.updated",
        summary=f"Engagement settings changed: {', '.join(labels)}",
        data={"fields": changed},
    )
    return engagement


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    """Remove someone from an engagement; the last architect cannot be removed."""
    if (
        membership.role == Role.ARCHITECT
        and not membership.engagement.memberships.filter(role=Role.ARCHITECT)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError("An engagement needs an architect: add another one first.")
    engagement = membership.engagement
    user = membership.user
    membership.delete()
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="membership.removed",
        summary=f"{user.display_name()} removed from the engagement",
        data={"user": user.pk},
    )


# --- Checklists ------------------------------------------------------------------------------


def _state_from(statuses: dict[str, SignoffStatus], subject: str) -> str:
    if subject in statuses:
        return statuses[subject].state
    if ":" in subject:
        return "none"
    prefix = f"{subject}:"
    return signoff_aggregate_state(s.state for k, s in statuses.items() if k.startswith(prefix))


@transaction.atomic
def checklist_toggle(
    *,
    item: ChecklistItem,
    done: bool,
    actor: User,
    note: str | None = None,
    evidence_url: str | None = None,
) -> ChecklistItem:
    """Tick or untick one item (logged with who and when, and in the activity log).

    Refused for items done by a sign-off (they follow the customer's approval), items that do
    not apply to this engagement, and items of a closed phase (reopen the phase first).
    """
    item = (
        ChecklistItem.objects.select_for_update().select_related("subphase__phase").get(pk=item.pk)
    )
    if item.signoff_subject:
        raise ValidationError(
            f"“{item.text}” is done when the customer approves “{item.signoff_subject}”; "
            "it cannot be ticked by hand."
        )
    if item.subphase.phase.is_closed:
        raise ValidationError(
            f"{item.subphase.phase.name} is closed; reopen it (with a reason) to change its items."
        )
    if not item.applies_to(item.engagement):
        raise ValidationError(f"“{item.text}” does not apply to this engagement.")
    if item.done == done and note is None and evidence_url is None:
        return item
    item.set_done(done=done, by=actor, note=note, evidence_url=evidence_url)
    activity_record(
        engagement=item.engagement,
        actor=actor,
        verb="checklist.done" if done else "checklist.undone",
        summary=f"{item.subphase.code} {'done' if done else 'reopened'}: {item.text[:200]}",
        data={"item": item.key},
    )
    return item


def checklist_mark_event(
    *, engagement: Engagement, event: str, actor: User | None, note: str = ""
) -> list[ChecklistItem]:
    """Tick the open items the playbook marks done by ``event`` ("intake_submitted",
    "meeting_held:kickoff", or "meeting_held:balancing_review" with the number held so far,
    which also ticks "meeting_held:balancing_review:2" once two were held)."""
    events = {event}
    if event.startswith("meeting_held:"):
        kind = event.split(":", 1)[1]
        held = engagement.meetings.filter(kind=kind, status=Meeting.Status.HELD).count()
        events |= {f"meeting_held:{kind}:{n}" for n in range(1, held + 1)}
    items = list(
        ChecklistItem.objects.filter(engagement=engagement, event__in=events, done=False)
        .exclude(subphase__phase__status=Phase.Status.CLOSED)
        .select_related("subphase")
    )
    ticked = []
    for item in items:
        if not item.applies_to(engagement):
            continue
        item.set_done(done=True, by=actor, note=note or None)
        ticked.append(item)
        activity_record(
            engagement=engagement,
            actor=actor,
            verb="checklist.done",
            summary=f"{item.subphase.code} done: {item.text[:200]}",
            data={"item": item.key, "event": event},
        )
    return ticked


# --- Phase state and gates -------------------------------------------------------------------

# Gate conditions from live data of later apps (the handoff app: the hypercare window and its
# critical issues keep the Enablement gate closed). A provider takes engagement ids and answers
# in ONE query {engagement id: [message, ...]} for the engagements where something blocks; it
# is asked only for engagements whose current phase is the one it was registered for, so the
# phase board, the gate decision and the dashboards keep a fixed number of queries.
GateConditionProvider = Callable[[list[int]], dict[int, list[str]]]
_gate_condition_providers: dict[str, list[GateConditionProvider]] = {}


def gate_conditions_provide(*, phase: str, provider: GateConditionProvider) -> None:
    """Register ``provider`` for the gate of the phase with slug ``phase`` (from
    ``AppConfig.ready()``; registering the same provider again changes nothing)."""
    providers = _gate_condition_providers.setdefault(phase, [])
    if provider not in providers:
        providers.append(provider)


def gate_conditions(*, phase: str, engagement_ids: list[int]) -> dict[int, list[str]]:
    """What the registered providers say still blocks ``phase``'s gate, per engagement."""
    found: dict[int, list[str]] = {}
    if not engagement_ids:
        return found
    for provider in _gate_condition_providers.get(phase, []):
        for engagement_id, messages in provider(engagement_ids).items():
            found.setdefault(engagement_id, []).extend(messages)
    return found


@dataclass(frozen=True)
class SignoffPage:
    """Where a sign-off subject is published: a page taking the engagement pk."""

    url_name: str
    label: str
    anchor: str = ""  # the section of the page, without "#"


# subject -> page; registered by the app that publishes the subject (the gate panel links
# there, so the phase board needs no import of the later apps).
_signoff_pages: dict[str, SignoffPage] = {}


def signoff_page_provide(*, subject: str, url_name: str, label: str, anchor: str = "") -> None:
    _signoff_pages[subject] = SignoffPage(url_name, label, anchor)


def signoff_page(*, subject: str) -> SignoffPage | None:
    return _signoff_pages.get(subject)


@dataclass
class ItemView:
    item: ChecklistItem
    applies: bool
    done: bool
    signoff_state: str = ""

    @property
    def counts(self) -> bool:
        """Required and applicable: counts for progress and the gate."""
        return self.applies and self.item.required


@dataclass
class SubPhaseView:
    subphase: SubPhase
    items: list[ItemView]

    @property
    def open_required(self) -> list[ItemView]:
        return [v for v in self.items if v.counts and not v.done]

    @property
    def required_count(self) -> int:
        return sum(1 for v in self.items if v.counts)

    @property
    def groups(self) -> list[tuple[str, list[ItemView]]]:
        groups: dict[str, list[ItemView]] = {}
        for view in self.items:
            groups.setdefault(view.item.group, []).append(view)
        return list(groups.items())


@dataclass
class PhaseView:
    phase: Phase
    subphases: list[SubPhaseView]
    blockers: list[Blocker]
    decisions: list[GateDecision]

    @property
    def gate_open(self) -> bool:
        return not self.blockers

    @property
    def fraction(self) -> float:
        if self.phase.is_closed:
            return 1.0
        total = sum(s.required_count for s in self.subphases)
        done = total - sum(len(s.open_required) for s in self.subphases)
        return done / total if total else 0.0

    @property
    def last_decision(self) -> GateDecision | None:
        return self.decisions[0] if self.decisions else None


@dataclass
class EngagementState:
    engagement: Engagement
    phases: list[PhaseView]
    signoffs: dict[str, SignoffStatus]
    blocking_assumptions: list[Assumption]

    @property
    def current(self) -> PhaseView | None:
        """The first phase not closed (None when every phase is closed: the project is done)."""
        return next((p for p in self.phases if not p.phase.is_closed), None)

    @property
    def current_subphase(self) -> SubPhaseView | None:
        phase = self.current
        if phase is None:
            return None
        code = lifecycle.current_subphase(
            [s.subphase.code for s in phase.subphases],
            {s.subphase.code: len(s.open_required) for s in phase.subphases},
        )
        return next(s for s in phase.subphases if s.subphase.code == code)

    @property
    def progress(self) -> float:
        return lifecycle.weighted_progress(
            self.engagement.phase_weights or {p.phase.slug: 25 for p in self.phases},
            {p.phase.slug: p.fraction for p in self.phases},
        )

    def phase(self, number: int) -> PhaseView | None:
        return next((p for p in self.phases if p.phase.number == number), None)


def engagement_state(*, engagement: Engagement) -> EngagementState:
    """Phases, sub-phases, items, gate blockers and decisions of one engagement, in a fixed
    number of queries (phases, sub-phases, items, decisions, sign-offs ×2, assumptions, plus
    one per gate-condition provider of the current phase)."""
    phases = list(Phase.objects.filter(engagement=engagement).order_by("number"))
    subphases = list(SubPhase.objects.filter(engagement=engagement).order_by("position"))
    items = list(
        ChecklistItem.objects.filter(engagement=engagement)
        .select_related("done_by")
        .order_by("subphase__position", "position")
    )
    decisions = list(GateDecision.objects.filter(engagement=engagement).select_related("actor"))
    statuses = signoff_statuses(engagement=engagement)
    blocking = list(
        Assumption.objects.filter(
            engagement=engagement, blocking=True, state=Assumption.State.ASSUMED
        ).order_by("key")
    )
    options = engagement.options
    # Each item knows its sub-phase and phase without a query (who may tick it depends on it).
    phase_by_pk = {p.pk: p for p in phases}
    subphase_by_pk = {}
    for s in subphases:
        s.phase = phase_by_pk[s.phase_id]
        subphase_by_pk[s.pk] = s
    items_by_sub: dict[int, list[ItemView]] = {}
    for item in items:
        item.subphase = subphase_by_pk[item.subphase_id]
        state = _state_from(statuses, item.signoff_subject) if item.signoff_subject else ""
        done = state == "approved" if item.signoff_subject else item.done
        items_by_sub.setdefault(item.subphase_id, []).append(
            ItemView(
                item=item,
                applies=lifecycle.item_applies(item.condition, options),
                done=done,
                signoff_state=state,
            )
        )
    views = []
    previous_open: str | None = None
    for phase in phases:
        subs = [
            SubPhaseView(subphase=s, items=items_by_sub.get(s.pk, []))
            for s in subphases
            if s.phase_id == phase.pk
        ]
        # Live conditions are asked for the current phase only: a later phase's gate is
        # blocked by the phase before it anyway.
        current = not phase.is_closed and previous_open is None
        conditions = (
            gate_conditions(phase=phase.slug, engagement_ids=[engagement.pk]).get(engagement.pk, [])
            if current
            else []
        )
        blockers = lifecycle.gate_blockers(
            previous_open=previous_open,
            open_items={s.subphase.code: [v.item.text for v in s.open_required] for s in subs},
            signoffs={subject: _state_from(statuses, subject) for subject in phase.gate_signoffs},
            blocking_assumptions=[a.statement for a in blocking],
            check_assumptions=phase.gate_checks_assumptions,
            conditions=conditions,
        )
        views.append(
            PhaseView(
                phase=phase,
                subphases=subs,
                blockers=[] if phase.is_closed else blockers,
                decisions=[d for d in decisions if d.phase_id == phase.pk],
            )
        )
        if not phase.is_closed and previous_open is None:
            previous_open = f"{phase.number}. {phase.name}"
    return EngagementState(
        engagement=engagement, phases=views, signoffs=statuses, blocking_assumptions=blocking
    )


@transaction.atomic
def gate_decide(*, phase: Phase, decision: str, actor: User, note: str = "") -> GateDecision:
    """Record a decision at ``phase``'s gate.

    Proceed closes the phase and opens the next; it is refused while anything blocks the gate.
    Hold and extend hypercare keep the phase open and need a reason.
    """
    _lock_engagement(phase.engagement)
    phase = Phase.objects.select_for_update().get(pk=phase.pk)
    if phase.is_closed:
        raise ValidationError(f"{phase.name} is already closed.")
    if decision not in phase.gate_decisions:
        allowed = ", ".join(GateDecision.Decision(d).label for d in phase.gate_decisions)
        raise ValidationError(f"At the {phase.name} gate the decision is one of: {allowed}.")
    note = (note or "").strip()
    state = engagement_state(engagement=phase.engagement)
    blockers = state.phase(phase.number).blockers
    if decision == GateDecision.Decision.PROCEED and blockers:
        raise ValidationError(
            [f"The {phase.name} gate is not open:"] + [b.message for b in blockers[:20]]
        )
    if decision != GateDecision.Decision.PROCEED and not note:
        raise ValidationError("Say why: a hold or an extension needs a reason.")
    now = timezone.now()
    record = GateDecision.objects.create(
        engagement=phase.engagement,
        phase=phase,
        decision=decision,
        note=note,
        blockers=[b.message for b in blockers],
        actor=actor,
        decided_at=now,
    )
    if decision == GateDecision.Decision.PROCEED:
        phase.status = Phase.Status.CLOSED
        phase.closed_at = now
        phase.save(update_fields=["status", "closed_at"])
        Phase.objects.filter(
            engagement=phase.engagement, number=phase.number + 1, opened_at__isnull=True
        ).update(opened_at=now)
    label = GateDecision.Decision(decision).label
    activity_record(
        engagement=phase.engagement,
        actor=actor,
        verb=f"gate.{decision}",
        summary=f"{phase.name} gate: {label}" + (f" — {note[:200]}" if note else ""),
        data={"phase": phase.number, "decision": decision},
    )
    return record


@transaction.atomic
def phase_reopen(*, phase: Phase, actor: User, reason: str) -> GateDecision:
    """Reopen a closed phase so its items can change again; the reason is recorded."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why the phase is reopened.")
    phase = Phase.objects.select_for_update().get(pk=phase.pk)
    if not phase.is_closed:
        raise ValidationError(f"{phase.name} is not closed.")
    phase.status = Phase.Status.OPEN
    phase.closed_at = None
    phase.save(update_fields=["status", "closed_at"])
    record = GateDecision.objects.create(
        engagement=phase.engagement,
        phase=phase,
        decision=GateDecision.Decision.REOPEN,
        note=reason,
        actor=actor,
    )
    activity_record(
        engagement=phase.engagement,
        actor=actor,
        verb="gate.reopen",
        summary=f"{phase.name} reopened: {reason[:200]}",
        data={"phase": phase.number},
    )
    return record


# --- Definition Alignment Document -----------------------------------------------------------


def definition_values(*, engagement: Engagement) -> dict[str, str]:
    """Placeholder name -> formatted value from the assumptions register (one query)."""
    placeholders = playbook_for(engagement).definition_placeholders
    keys = {p.assumption: p for p in placeholders.values()}
    rows = Assumption.objects.filter(engagement=engagement, key__in=list(keys)).values(
        "key", "state", "value", "corrected_value"
    )
    found = {}
    for row in rows:
        if row["state"] == Assumption.State.REJECTED:
            continue
        found[row["key"]] = (
            row["corrected_value"] if row["state"] == Assumption.State.CORRECTED else row["value"]
        )
    return {
        p.name: format_placeholder(found.get(p.assumption, p.default), p.format)
        for p in placeholders.values()
    }


def definition_text(term: DefinitionTerm, values: dict[str, str]) -> str:
    """The exact text the customer signs for one term."""
    return f"{term.term}: {render_definition(term.definition, values)}"


@dataclass
class TermView:
    term: DefinitionTerm
    text: str  # the current draft, placeholders filled
    status: SignoffStatus | None

    @property
    def state(self) -> str:
        return self.status.state if self.status else "none"

    @property
    def changed(self) -> bool:
        """The draft differs from the published text: publishing makes a new version."""
        return self.status is None or self.status.latest.text != self.text


def definitions_overview(*, engagement: Engagement) -> list[TermView]:
    values = definition_values(engagement=engagement)
    statuses = signoff_statuses(engagement=engagement, prefix="definitions:")
    return [
        TermView(term=term, text=definition_text(term, values), status=statuses.get(term.subject))
        for term in engagement.definition_terms.order_by("position")
    ]


@transaction.atomic
def definition_term_update(
    *, term: DefinitionTerm, name: str, definition: str, actor: User
) -> DefinitionTerm:
    """Edit a term's draft. Published versions never change: a signed text stays signed, and
    publishing the edited draft makes a new version that needs a new sign-off."""
    name = (name or "").strip()
    definition = (definition or "").strip()
    if not name or not definition:
        raise ValidationError("A term needs a name and a definition.")
    unknown = [
        n
        for n in PLACEHOLDER_RE.findall(definition)
        if n not in playbook_for(term.engagement).definition_placeholders
    ]
    if unknown:
        raise ValidationError(
            f"Unknown placeholder {{{unknown[0]}}}; available: "
            + ", ".join(f"{{{n}}}" for n in playbook_for(term.engagement).definition_placeholders)
        )
    term.term, term.definition = name[:120], definition
    term.updated_by, term.updated_at = actor, timezone.now()
    term.save(update_fields=["term", "definition", "updated_by", "updated_at"])
    activity_record(
        engagement=term.engagement,
        actor=actor,
        verb="definitions.edited",
        summary=f"Definition of “{term.term}” edited",
        data={"term": term.slug},
    )
    return term


@transaction.atomic
def definitions_publish(
    *, engagement: Engagement, actor: User, slugs: Iterable[str] | None = None
) -> list[SignoffVersion]:
    """Publish every changed term (or those in ``slugs``) for the customer approver's sign-off.
    Returns the versions created; unchanged terms keep their current version."""
    wanted = set(slugs) if slugs is not None else None
    created = []
    for view in definitions_overview(engagement=engagement):
        if wanted is not None and view.term.slug not in wanted:
            continue
        if not view.changed:
            continue
        created.append(
            signoff_publish(
                engagement=engagement,
                subject=view.term.subject,
                title=view.term.term,
                text=view.text,
                actor=actor,
            )
        )
    return created


def territory_design_blockers(*, engagement: Engagement) -> list[Blocker]:
    """Why territory design (balancing) cannot start yet; empty when it can.

    Seed 000: "We cannot proceed with territory design until segment definitions and valuation
    approaches are aligned" — the definition terms marked ``gates_design`` and the playbook's
    design sign-offs (the valuation methodology) must be approved.
    """
    statuses = signoff_statuses(engagement=engagement)
    terms = {
        term.term: _state_from(statuses, term.subject)
        for term in engagement.definition_terms.filter(gates_design=True).order_by("position")
    }
    subjects = playbook_for(engagement).design_gate_signoffs
    return lifecycle.design_blockers(
        terms=terms, signoffs={s: _state_from(statuses, s) for s in subjects}
    )


# --- Meetings and feedback -------------------------------------------------------------------


def meeting_agenda_text(*, playbook: Playbook, kind: str) -> str:
    """The agenda a new meeting of ``kind`` starts with: the type's focus, its agenda rows
    (timed where the seed times them), what to bring and leave with, and for the refinement
    loop the before/during/after routine."""
    meeting_type = playbook.meeting_type(kind)
    if meeting_type is None:
        return ""
    lines = [f"Focus: {meeting_type.focus}", f"Stakeholders: {meeting_type.stakeholders}"]
    if meeting_type.duration:
        lines.append(f"Duration: {meeting_type.duration}")
    if meeting_type.output:
        lines.append(f"Output: {meeting_type.output}")
    if meeting_type.agenda:
        lines += ["", "Agenda"]
        for row in meeting_type.agenda:
            when = f"{row.time} min  " if row.time else "- "
            lines.append(f"{when}{row.topic}" + (f": {row.what}" if row.what else ""))
    for title, entries in (
        ("What we bring", meeting_type.bring),
        ("What we leave with", meeting_type.leave_with),
    ):
        if entries:
            lines += ["", title] + [f"- {entry}" for entry in entries]
    if meeting_type.loop:
        for moment in ("during", "after"):
            entries = playbook.meeting_routine.get(moment, ())
            if entries:
                lines += ["", f"{moment.capitalize()} the meeting"] + [f"- {e}" for e in entries]
    return "\n".join(lines)


def _members_only(engagement: Engagement, users: Iterable[User]) -> list[User]:
    users = list(users)
    member_ids = set(engagement.memberships.values_list("user_id", flat=True))
    strangers = [u.display_name() for u in users if u.pk not in member_ids]
    if strangers:
        raise ValidationError(f"Not on this engagement: {', '.join(strangers)}.")
    return users


@transaction.atomic
def meeting_create(
    *,
    engagement: Engagement,
    kind: str,
    scheduled_at: Any,
    actor: User,
    title: str = "",
    attendees: Iterable[User] = (),
    other_attendees: str = "",
) -> Meeting:
    """A meeting of one of the playbook's types, with its agenda pre-filled."""
    playbook = playbook_for(engagement)
    meeting_type = playbook.meeting_type(kind)
    if meeting_type is None:
        raise ValidationError(f"Unknown meeting type {kind!r}.")
    if not title:
        title = meeting_type.name
        if meeting_type.numbered:
            title = f"{title} {engagement.meetings.filter(kind=kind).count() + 1}"
    meeting = Meeting.objects.create(
        engagement=engagement,
        kind=kind,
        kind_name=meeting_type.name,
        title=title[:200],
        subphase=meeting_type.subphase,
        scheduled_at=scheduled_at,
        agenda=meeting_agenda_text(playbook=playbook, kind=kind),
        other_attendees=other_attendees,
        created_by=actor,
    )
    meeting.attendees.set(_members_only(engagement, attendees))
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="meeting.created",
        summary=f"Meeting planned: {meeting.title} on {timezone.localtime(scheduled_at):%Y-%m-%d %H:%M}",
        data={"meeting": meeting.pk, "kind": kind},
    )
    return meeting


@transaction.atomic
def meeting_update(
    *,
    meeting: Meeting,
    actor: User,
    changes: dict[str, Any],
    attendees: Iterable[User] | None = None,
) -> Meeting:
    """Edit a meeting; marking it held ticks the checklist items that wait for it."""
    was_held = meeting.status == Meeting.Status.HELD
    changed = [f for f, v in changes.items() if getattr(meeting, f) != v]
    for field_name in changed:
        setattr(meeting, field_name, changes[field_name])
    if changed:
        meeting.full_clean(exclude=["engagement", "created_by"])
        meeting.save(update_fields=changed)
    if attendees is not None:
        meeting.attendees.set(_members_only(meeting.engagement, attendees))
    if "status" in changed:
        activity_record(
            engagement=meeting.engagement,
            actor=actor,
            verb=f"meeting.{meeting.status}",
            summary=f"Meeting {meeting.get_status_display().lower()}: {meeting.title}",
            data={"meeting": meeting.pk},
        )
    if meeting.status == Meeting.Status.HELD and not was_held:
        checklist_mark_event(
            engagement=meeting.engagement,
            event=f"meeting_held:{meeting.kind}",
            actor=actor,
            note=f"{meeting.title}, {timezone.localtime(meeting.scheduled_at):%Y-%m-%d}",
        )
    return meeting


@transaction.atomic
def feedback_add(
    *,
    meeting: Meeting,
    text: str,
    actor: User,
    owner: User | None = None,
    assumption: Assumption | None = None,
    document: str = "",
) -> FeedbackItem:
    """A feedback item raised in ``meeting``, optionally on an assumption or a document."""
    engagement = meeting.engagement
    text = (text or "").strip()
    if not text:
        raise ValidationError("Write the feedback.")
    if owner is not None:
        _members_only(engagement, [owner])
    if assumption is not None and assumption.engagement_id != engagement.pk:
        raise ValidationError("That assumption belongs to another engagement.")
    if document and document not in {d.slug for d in playbook_for(engagement).documents}:
        raise ValidationError(f"Unknown document {document!r}.")
    item = FeedbackItem.objects.create(
        engagement=engagement,
        meeting=meeting,
        text=text,
        owner=owner,
        assumption=assumption,
        document=document,
        created_by=actor,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="feedback.added",
        summary=f"Feedback in {meeting.title}: {text[:200]}",
        data={"feedback": item.pk, "meeting": meeting.pk},
    )
    return item


@transaction.atomic
def feedback_set_status(*, item: FeedbackItem, status: str, actor: User) -> FeedbackItem:
    if status not in FeedbackItem.Status.values:
        raise ValidationError(f"Unknown feedback status {status!r}.")
    if item.status == status:
        return item
    item.set_status(status=status, by=actor)
    activity_record(
        engagement=item.engagement,
        actor=actor,
        verb=f"feedback.{status}",
        summary=f"Feedback {item.get_status_display().lower()}: {item.text[:200]}",
        data={"feedback": item.pk},
    )
    return item


@dataclass
class MeetingRecap:
    """ "After the meeting": what moved from ASSUMED in it, and what feedback is open."""

    moved: list[AssumptionChange]
    still_assumed: list[Assumption]
    feedback: list[FeedbackItem]
    open_elsewhere: int


def meeting_recap(*, meeting: Meeting) -> MeetingRecap:
    engagement = meeting.engagement
    moved = list(
        AssumptionChange.objects.filter(meeting=meeting)
        .exclude(event__in=[AssumptionChange.Event.REGISTERED, AssumptionChange.Event.BLOCKING])
        .select_related("assumption", "actor")
        .order_by("created_at", "id")
    )
    feedback = list(
        meeting.feedback.select_related("owner", "assumption", "resolved_by").order_by(
            "status", "created_at"
        )
    )
    return MeetingRecap(
        moved=moved,
        still_assumed=list(
            engagement.assumptions.filter(state=Assumption.State.ASSUMED).order_by(
                "category", "key"
            )
        ),
        feedback=feedback,
        open_elsewhere=engagement.feedback.filter(status=FeedbackItem.Status.OPEN)
        .exclude(meeting=meeting)
        .count(),
    )


# --- Intake ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeSection:
    slug: str
    label: str
    fields: tuple[str, ...]


# SPEC §3's intake fields, in the order the form asks for them.
INTAKE_SECTIONS = (
    IntakeSection("definitions", "Current territory definitions", ("current_definitions",)),
    IntakeSection(
        "assignment", "Current assignment logic", ("assignment_logic", "assignment_details")
    ),
    IntakeSection(
        "org_chart",
        "Sales team org chart with roles",
        ("org_ae", "org_sdr", "org_se", "org_csm", "org_am", "org_notes"),
    ),
    IntakeSection("customer_list", "Existing customer list with contract values", ()),
    IntakeSection(
        "headcount", "Expected headcount trajectory", ("headcount_trajectory", "planned_hires_12m")
    ),
    IntakeSection("fiscal_year", "Fiscal year start", ("fiscal_year_start",)),
    IntakeSection("partners", "Partner ecosystem", ("has_partners", "partner_details")),
    IntakeSection("pain_points", "Pain points with the current structure", ("pain_points",)),
)
INTAKE_FIELDS = tuple(f for section in INTAKE_SECTIONS for f in section.fields)


def _section_complete(intake: IntakeForm, slug: str, has_upload: bool) -> bool:
    if slug == "definitions":
        return bool(intake.current_definitions.strip())
    if slug == "assignment":
        if not intake.assignment_logic:
            return False
        return intake.assignment_logic != IntakeForm.AssignmentLogic.OTHER or bool(
            intake.assignment_details.strip()
        )
    if slug == "org_chart":
        return any(
            (getattr(intake, f) or 0) > 0
            for f in ("org_ae", "org_sdr", "org_se", "org_csm", "org_am")
        )
    if slug == "customer_list":
        return has_upload
    if slug == "headcount":
        return bool(intake.headcount_trajectory.strip())
    if slug == "fiscal_year":
        return intake.fiscal_year_start is not None
    if slug == "partners":
        if intake.has_partners == IntakeForm.YesNo.YES:
            return bool(intake.partner_details.strip())
        return intake.has_partners == IntakeForm.YesNo.NO
    if slug == "pain_points":
        return bool(intake.pain_points.strip())
    raise ValueError(slug)


@dataclass(frozen=True)
class IntakeProgress:
    percent: int
    done: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def intake_progress(*, intake: IntakeForm, has_upload: bool | None = None) -> IntakeProgress:
    """Completion by section (each of the eight SPEC fields counts equally)."""
    if has_upload is None:
        has_upload = IntakeUpload.objects.filter(engagement_id=intake.engagement_id).exists()
    done = [s.label for s in INTAKE_SECTIONS if _section_complete(intake, s.slug, has_upload)]
    missing = [s.label for s in INTAKE_SECTIONS if s.label not in done]
    return IntakeProgress(
        percent=round(100 * len(done) / len(INTAKE_SECTIONS)),
        done=tuple(done),
        missing=tuple(missing),
    )


@transaction.atomic
def intake_save(*, intake: IntakeForm, values: dict[str, Any], actor: User) -> IntakeForm:
    """Save the given (already validated) fields: the autosave as the customer types."""
    intake = IntakeForm.objects.select_for_update().get(pk=intake.pk)
    if intake.is_submitted:
        raise ValidationError("The intake form was submitted; ask your architect to reopen it.")
    unknown = set(values) - set(INTAKE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown intake fields: {', '.join(sorted(unknown))}.")
    changed = [f for f, v in values.items() if getattr(intake, f) != v]
    for field_name in changed:
        setattr(intake, field_name, values[field_name])
    if changed:
        intake.updated_at = timezone.now()
        intake.updated_by = actor
        intake.save(update_fields=[*changed, "updated_at", "updated_by"])
    return intake


@transaction.atomic
def intake_submit(*, intake: IntakeForm, actor: User) -> IntakeForm:
    intake = IntakeForm.objects.select_for_update().get(pk=intake.pk)
    if intake.is_submitted:
        raise ValidationError("The intake form was already submitted.")
    progress = intake_progress(intake=intake)
    if not progress.complete:
        raise ValidationError(
            "The intake form is not complete yet. Still missing: "
            + "; ".join(progress.missing)
            + "."
        )
    intake.submitted_at = timezone.now()
    intake.submitted_by = actor
    intake.save(update_fields=["submitted_at", "submitted_by"])
    engagement = intake.engagement
    activity_record(
        engagement=engagement, actor=actor, verb="intake.submitted", summary="Intake form submitted"
    )
    checklist_mark_event(
        engagement=engagement, event="intake_submitted", actor=actor, note="Intake form submitted"
    )
    return intake


@transaction.atomic
def intake_reopen(*, intake: IntakeForm, actor: User, reason: str) -> IntakeForm:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say what needs changing.")
    if not intake.is_submitted:
        raise ValidationError("The intake form is not submitted.")
    intake.submitted_at = None
    intake.submitted_by = None
    intake.save(update_fields=["submitted_at", "submitted_by"])
    activity_record(
        engagement=intake.engagement,
        actor=actor,
        verb="intake.reopened",
        summary=f"Intake form reopened for changes: {reason[:200]}",
    )
    return intake


@transaction.atomic
def intake_upload(
    *, engagement: Engagement, uploaded: Any, actor: User, max_uncompressed: int
) -> IntakeUpload:
    """Check the customer list (``engagements.customer_list``) and keep the file for import.

    Refused whole, with the rows named, when any row is unreadable: nothing half-stored.
    """
    content = uploaded.read()
    try:
        summary = inspect_customer_list(
            content, filename=uploaded.name, max_uncompressed=max_uncompressed
        )
    except CustomerListError as exc:
        raise ValidationError(exc.problems) from exc
    record = IntakeUpload(
        engagement=engagement,
        original_name=uploaded.name[:255],
        size=len(content),
        sha256=_sha256(content),
        rows=summary.rows,
        columns=list(summary.columns),
        name_column=summary.name_column,
        value_column=summary.value_column,
        total_value=summary.total_value,
        uploaded_by=actor,
    )
    record.file.save(uploaded.name, ContentFile(content), save=False)
    record.save()
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="intake.customer_list",
        summary=f"Customer list uploaded: {uploaded.name} ({summary.rows} customers)",
        data={"upload": record.pk},
    )
    checklist_mark_event(
        engagement=engagement,
        event="intake_customer_list",
        actor=actor,
        note=f"{uploaded.name}: {summary.rows} customers",
    )
    return record


def intake_customer_list(*, engagement: Engagement) -> IntakeUpload | None:
    """The customer list most recently uploaded with the intake form (for the account import:
    ``upload.file`` is the file as the customer sent it; ``name_column`` and ``value_column``
    say which columns hold the customer name and the contract value)."""
    return (
        IntakeUpload.objects.filter(engagement=engagement).order_by("-uploaded_at", "-id").first()
    )


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- Stakeholders and hours ------------------------------------------------------------------


@transaction.atomic
def stakeholder_save(*, stakeholder: Stakeholder, actor: User) -> Stakeholder:
    created = stakeholder.pk is None
    stakeholder.full_clean()
    stakeholder.save()
    activity_record(
        engagement=stakeholder.engagement,
        actor=actor,
        verb="stakeholder.added" if created else "stakeholder.updated",
        summary=f"Stakeholder {'added' if created else 'updated'}: {stakeholder.name}",
        data={"stakeholder": stakeholder.pk},
    )
    return stakeholder


@transaction.atomic
def stakeholder_delete(*, stakeholder: Stakeholder, actor: User) -> None:
    engagement, name = stakeholder.engagement, stakeholder.name
    stakeholder.delete()
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="stakeholder.removed",
        summary=f"Stakeholder removed: {name}",
    )


@transaction.atomic
def hours_log(
    *,
    engagement: Engagement,
    user: User,
    date: Any,
    hours: Any,
    phase_number: int | None,
    note: str = "",
) -> HoursEntry:
    """Log hours worked on the engagement (0 < hours ≤ 24, not in the future)."""
    try:
        amount = Decimal(str(hours))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(f"Hours must be a number, got {hours!r}.") from exc
    if not (Decimal("0") < amount <= Decimal("24")):
        raise ValidationError("Hours must be more than 0 and at most 24 for one day.")
    if date > timezone.localdate():
        raise ValidationError("Hours cannot be logged for a future date.")
    if phase_number is not None and not engagement.phases.filter(number=phase_number).exists():
        raise ValidationError(f"This engagement has no phase {phase_number}.")
    entry = HoursEntry.objects.create(
        engagement=engagement,
        user=user,
        date=date,
        hours=amount,
        phase_number=phase_number,
        note=(note or "")[:300],
    )
    activity_record(
        engagement=engagement,
        actor=user,
        verb="hours.logged",
        summary=f"{amount} h logged for {date:%Y-%m-%d}" + (f": {note[:100]}" if note else ""),
        data={"entry": entry.pk},
    )
    return entry


# Activity verbs about consultancy-internal data: not shown to customer users.
INTERNAL_ACTIVITY_PREFIXES = ("hours.", "stakeholder.", "handoff.checkin_reminder")
