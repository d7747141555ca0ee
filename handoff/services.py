"""Services of the handoff app: enablement, hypercare, the maintenance schedule and its
calendar, refinement triggers, sensitive territories, handoff notes, debrief and retention.

Views, jobs, the ``check_triggers`` command and the demo call these; the documentation package
(``handoff.package``) reads :func:`rollout_date`, :func:`retention` and the schedule rows.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone
from redis.exceptions import RedisError

from engagements.models import ChecklistItem, Engagement, GateDecision, SignoffVersion, User
from engagements.services import (
    activity_record,
    checklist_mark_event,
    playbook_for,
    signoff_latest,
    signoff_publish,
)
from handoff import schedule, sensitivity, triggers
from handoff.models import (
    EXTENSION_DAYS,
    HYPERCARE_DAYS,
    AccuracyCheck,
    CalendarFeed,
    Debrief,
    HandoffNotes,
    Hypercare,
    HypercareExtension,
    HypercareIssue,
    MaintenanceOccurrence,
    OfficeHours,
    TrainingSession,
    TriggerEvaluation,
    hypercare_end,
)

# The 3a checklist group that lists the training assets (seed 000, "Training Assets to Create").
ASSET_PREFIX = "3a.asset."
# The phase-board sub-phases the handoff page links to (external handoff, project close).
HANDOFF_SUBPHASES = ("4a", "4b", "4c", "4d")
TEAM_FIELDS = ("ae", "sdr", "se", "csm")
# Seed 000: the refinement check-in is "~1 quarter after rollout"; the reminder "2 weeks before".
CHECKIN_MONTHS = 3
REMINDER_DAYS = 14


# --- Rollout and hypercare --------------------------------------------------------------------


def hypercare_get(*, engagement: Engagement) -> Hypercare:
    row = Hypercare.objects.filter(engagement=engagement).first()
    if row is None:
        row, _ = Hypercare.objects.get_or_create(engagement=engagement)
    return row


def rollout_date(*, engagement: Engagement) -> date | None:
    """The day territories went live: the hypercare page's date, else the routing settings'
    (the date accuracy audits sample from). None while neither is set."""
    own = Hypercare.objects.filter(engagement=engagement).values_list("rollout_date", flat=True)
    value = next(iter(own), None)
    if value is not None:
        return value
    from routing.models import RoutingSettings

    return (
        RoutingSettings.objects.filter(engagement=engagement)
        .values_list("rollout_date", flat=True)
        .first()
    )


@dataclass(frozen=True)
class HypercareStatus:
    rollout: date | None
    end: date | None
    extension_days: int
    state: str  # "not_set" | "upcoming" | "active" | "complete"
    day: int | None  # 1-based day of the window while active
    total_days: int
    open_issues: int
    critical_open: int

    @property
    def label(self) -> str:
        if self.state == "not_set":
            return "No rollout date"
        if self.state == "upcoming":
            return f"Starts {self.rollout:%d %b %Y}"
        if self.state == "active":
            return f"Day {self.day} of {self.total_days}"
        return f"Complete ({self.end:%d %b %Y})"


def _status(
    rollout: date | None, extension: int, today: date, open_issues: int, critical: int
) -> HypercareStatus:
    total = HYPERCARE_DAYS + extension
    end = hypercare_end(rollout, extension)
    if rollout is None:
        state, day = "not_set", None
    elif today < rollout:
        state, day = "upcoming", None
    elif today <= end:
        state, day = "active", (today - rollout).days + 1
    else:
        state, day = "complete", None
    return HypercareStatus(rollout, end, extension, state, day, total, open_issues, critical)


def hypercare_status(*, engagement: Engagement, today: date | None = None) -> HypercareStatus:
    today = today or timezone.localdate()
    extension = (
        HypercareExtension.objects.filter(engagement=engagement).aggregate(d=Sum("days"))["d"] or 0
    )
    issues = HypercareIssue.objects.filter(
        engagement=engagement, state=HypercareIssue.State.OPEN
    ).aggregate(
        n=Count("id"), critical=Count("id", filter=Q(severity=HypercareIssue.Severity.CRITICAL))
    )
    return _status(
        rollout_date(engagement=engagement), extension, today, issues["n"], issues["critical"]
    )


@transaction.atomic
def hypercare_rollout_set(
    *, engagement: Engagement, rollout: date | None, actor: User | None
) -> Hypercare:
    row = hypercare_get(engagement=engagement)
    if row.rollout_date == rollout:
        return row
    row.rollout_date = rollout
    row.updated_at = timezone.now()
    row.save(update_fields=["rollout_date", "updated_at"])
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="handoff.rollout_set",
        summary=f"Rollout date set to {rollout:%d %b %Y}" if rollout else "Rollout date cleared",
    )
    return row


def hypercare_extend(*, decision: GateDecision, days: int = EXTENSION_DAYS) -> HypercareExtension:
    """Extend the window for an "extend hypercare" gate decision (once per decision)."""
    if decision.decision != GateDecision.Decision.EXTEND_HYPERCARE:
        raise ValueError(f"Decision {decision.pk} is not an extension of hypercare.")
    row, created = HypercareExtension.objects.get_or_create(
        decision=decision,
        defaults={"engagement_id": decision.engagement_id, "days": days, "reason": decision.note},
    )
    if created:
        activity_record(
            engagement=decision.engagement,
            actor=decision.actor,
            verb="handoff.hypercare_extended",
            summary=f"Hypercare extended by {days} days",
        )
    return row


@transaction.atomic
def office_hours_add(
    *, engagement: Engagement, values: Mapping[str, Any], actor: User | None
) -> OfficeHours:
    row = OfficeHours.objects.create(
        engagement=engagement,
        day=values["day"],
        attendees=values["attendees"].strip(),
        topics=values["topics"].strip(),
        notes=(values.get("notes") or "").strip(),
        created_by=actor,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="handoff.office_hours",
        summary=f"Office hours of {row.day:%d %b %Y} logged",
    )
    # The 3c item "Weekly office hours" is ticked by the same event a held office-hours
    # meeting sends.
    checklist_mark_event(
        engagement=engagement,
        event="meeting_held:office_hours",
        actor=actor,
        note=f"Office hours logged for {row.day:%d %b %Y}",
    )
    return row


@transaction.atomic
def issue_report(
    *, engagement: Engagement, values: Mapping[str, Any], actor: User | None
) -> HypercareIssue:
    kind = values["kind"]
    account_id = (values.get("account_id") or "").strip()
    if kind == HypercareIssue.Kind.MISROUTED and not account_id:
        raise ValidationError({"account_id": "A misrouted account needs its CRM account id."})
    issue = HypercareIssue.objects.create(
        engagement=engagement,
        kind=kind,
        severity=values["severity"],
        summary=values["summary"].strip(),
        account_id=account_id,
        reported_on=values.get("reported_on") or timezone.localdate(),
        reported_by=actor,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="handoff.issue_reported",
        summary=f"Hypercare issue ({issue.get_severity_display().lower()}): {issue.summary[:150]}",
    )
    return issue


@transaction.atomic
def issue_resolve(*, issue: HypercareIssue, resolution: str, actor: User | None) -> HypercareIssue:
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": "Say how the issue was resolved."})
    issue = HypercareIssue.objects.select_for_update().get(pk=issue.pk)
    if issue.state == HypercareIssue.State.RESOLVED:
        raise ValidationError("This issue is already resolved.")
    issue.state = HypercareIssue.State.RESOLVED
    issue.resolution = resolution
    issue.resolved_at = timezone.now()
    issue.resolved_by = actor
    issue.save(update_fields=["state", "resolution", "resolved_at", "resolved_by"])
    activity_record(
        engagement=issue.engagement,
        actor=actor,
        verb="handoff.issue_resolved",
        summary=f"Hypercare issue resolved: {issue.summary[:150]}",
    )
    return issue


@transaction.atomic
def accuracy_check_add(
    *, engagement: Engagement, values: Mapping[str, Any], actor: User | None
) -> AccuracyCheck:
    sampled, correct = int(values["sampled"]), int(values["correct"])
    if sampled < 1:
        raise ValidationError({"sampled": "Sample at least one account."})
    if correct > sampled:
        raise ValidationError(
            {"correct": f"Correct ({correct}) cannot exceed the accounts sampled ({sampled})."}
        )
    check = AccuracyCheck.objects.create(
        engagement=engagement,
        day=values["day"],
        sampled=sampled,
        correct=correct,
        note=(values.get("note") or "").strip(),
        created_by=actor,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="handoff.accuracy_check",
        summary=f"Routing accuracy check: {correct} of {sampled} correct ({check.accuracy:.1f} %)",
    )
    from routing.models import RoutingAudit

    if sampled >= RoutingAudit.MIN_SAMPLE:
        # The 3c item "sample 50+ accounts created since rollout" is this check (an audit of a
        # CRM export ticks it too, routing.services.audit_run).
        checklist_mark_event(
            engagement=engagement,
            event="accuracy_checked",
            actor=actor,
            note=f"Accuracy check of {check.day:%d %b %Y}: {correct} of {sampled} correct",
        )
    return check


def accuracy_checks(*, engagement: Engagement) -> list[triggers.AccuracyCheck]:
    """Manual checks and finished routing audits, oldest first (two queries)."""
    from routing.services import routing_accuracy_checks

    rows = [
        triggers.AccuracyCheck(day, compared, matches, "audit")
        for day, compared, matches in routing_accuracy_checks(engagement=engagement)
    ]
    rows += [
        triggers.AccuracyCheck(c.day, c.sampled, c.correct, "manual")
        for c in AccuracyCheck.objects.filter(engagement=engagement).order_by("day", "id")
    ]
    rows.sort(key=lambda c: c.day)
    return rows


# --- Enablement -------------------------------------------------------------------------------


@transaction.atomic
def trainings_generate(*, engagement: Engagement, actor: User | None) -> int:
    """One planned session per training type of the playbook that has none yet; returns how
    many were created (0 on a rerun)."""
    existing = set(
        engagement.training_sessions.exclude(audience_slug="").values_list(
            "audience_slug", flat=True
        )
    )
    created = 0
    for position, kind in enumerate(playbook_for(engagement).training_types):
        if kind.slug in existing:
            continue
        TrainingSession.objects.create(
            engagement=engagement,
            audience_slug=kind.slug,
            audience=kind.audience,
            who=kind.who,
            focus=kind.focus,
            minutes=kind.minutes,
            position=position,
        )
        created += 1
    if created:
        activity_record(
            engagement=engagement,
            actor=actor,
            verb="handoff.trainings_generated",
            summary=f"{created} training sessions planned from the playbook",
        )
    return created


TRAINING_FIELDS = ("day", "state", "minutes", "recording_url", "attendees", "notes")


@transaction.atomic
def training_update(
    *, session: TrainingSession, values: Mapping[str, Any], actor: User | None
) -> TrainingSession:
    state = values.get("state", session.state)
    if state in (
        TrainingSession.State.SCHEDULED,
        TrainingSession.State.DELIVERED,
    ) and not values.get("day"):
        raise ValidationError({"day": "A scheduled or delivered session needs its date."})
    if state == TrainingSession.State.DELIVERED and not (values.get("attendees") or "").strip():
        raise ValidationError({"attendees": "Say who attended the delivered session."})
    for name in TRAINING_FIELDS:
        if name in values:
            value = values[name]
            setattr(session, name, value.strip() if isinstance(value, str) else value)
    session.updated_at = timezone.now()
    session.save(update_fields=[*TRAINING_FIELDS, "updated_at"])
    activity_record(
        engagement=session.engagement,
        actor=actor,
        verb="handoff.training_updated",
        summary=f"{session.audience} training: {session.get_state_display().lower()}",
    )
    if session.state == TrainingSession.State.DELIVERED and session.audience_slug:
        # The 3b item of this audience ("Sales Directors: territory explanation …").
        checklist_mark_event(
            engagement=session.engagement,
            event=f"training_delivered:{session.audience_slug}",
            actor=actor,
            note=f"{session.audience} training delivered {session.day:%d %b %Y}",
        )
    return session


def training_assets(*, engagement: Engagement) -> list[ChecklistItem]:
    """The training-assets checklist: the playbook's 3a "Training assets to create" items
    (ticked on the phase board or the enablement page; one record, not a copy)."""
    return list(
        ChecklistItem.objects.filter(engagement=engagement, key__startswith=ASSET_PREFIX)
        .select_related("done_by")
        .order_by("position")
    )


# --- Maintenance schedule ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleResult:
    created: int
    kept_done: int
    removed: int
    total: int


@transaction.atomic
def maintenance_generate(
    *, engagement: Engagement, actor: User | None, months: int = schedule.HORIZON_MONTHS
) -> ScheduleResult:
    """Dated occurrences for ``months`` from rollout, owned per the engagement type.

    Regenerating (after the rollout date or the engagement type changed) replaces the open
    occurrences and keeps every done one with its findings; a rerun changes nothing.
    """
    start = rollout_date(engagement=engagement)
    if start is None:
        raise ValidationError(
            "Set the rollout date first (hypercare page): the schedule counts from it."
        )
    playbook = playbook_for(engagement)
    owner = playbook.maintenance_owner_for(engagement.type) or "architect"
    wanted = schedule.occurrences(playbook.cadences, start=start, owner=owner, months=months)
    existing = {
        (o.task_slug, o.due): o for o in MaintenanceOccurrence.objects.filter(engagement=engagement)
    }
    wanted_keys = {o.key for o in wanted}
    stale = [o.pk for key, o in existing.items() if key not in wanted_keys and not o.done]
    MaintenanceOccurrence.objects.filter(pk__in=stale).delete()
    new, updates = [], []
    for o in wanted:
        row = existing.get(o.key)
        if row is None:
            new.append(
                MaintenanceOccurrence(
                    engagement=engagement,
                    cadence=o.cadence,
                    cadence_name=o.cadence_name,
                    task_slug=o.task_slug,
                    task=o.task,
                    check_text=o.check,
                    red_flag=o.red_flag,
                    action=o.action,
                    owner=o.owner,
                    due=o.due,
                )
            )
        elif not row.done and row.owner != o.owner:
            row.owner = o.owner
            updates.append(row)
    MaintenanceOccurrence.objects.bulk_create(new)
    MaintenanceOccurrence.objects.bulk_update(updates, ["owner"])
    calendar_feed_get(engagement=engagement)  # the schedule's secret calendar link
    kept = sum(1 for key, o in existing.items() if o.done)
    total = MaintenanceOccurrence.objects.filter(engagement=engagement).count()
    if new or stale or updates:
        activity_record(
            engagement=engagement,
            actor=actor,
            verb="handoff.schedule_generated",
            summary=f"Maintenance schedule: {len(new)} occurrences added, {len(stale)} removed "
            f"(owner: {owner})",
        )
    if total:
        # The 4a items "Monthly tasks …", "Quarterly tasks …", "Maintenance owner set …": the
        # schedule documents them.
        checklist_mark_event(
            engagement=engagement,
            event="maintenance_scheduled",
            actor=actor,
            note=f"Maintenance schedule generated: {total} dated tasks, owner {owner}",
        )
    return ScheduleResult(len(new), kept, len(stale), total)


@transaction.atomic
def maintenance_done(
    *,
    occurrence: MaintenanceOccurrence,
    findings: str,
    red_flag_hit: bool,
    actor: User | None,
) -> MaintenanceOccurrence:
    findings = (findings or "").strip()
    if not findings:
        raise ValidationError({"findings": "Write down what the check found."})
    occurrence.done = True
    occurrence.done_at = timezone.now()
    occurrence.done_by = actor
    occurrence.findings = findings
    occurrence.red_flag_hit = red_flag_hit
    occurrence.save(update_fields=["done", "done_at", "done_by", "findings", "red_flag_hit"])
    activity_record(
        engagement=occurrence.engagement,
        actor=actor,
        verb="handoff.maintenance_done",
        summary=f"{occurrence.task} ({occurrence.due:%d %b %Y}) done"
        + (" — red flag hit" if red_flag_hit else ""),
    )
    return occurrence


# --- Retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    engagement_type: str
    steps: tuple[str, ...]
    checkin: date | None  # dedicated engagements only
    reminder: date | None


def retention(*, engagement: Engagement, rollout: date | None = None) -> Retention:
    """The retention path of the engagement's type; for dedicated ones the refinement
    check-in a quarter after rollout and its reminder two weeks before."""
    steps = playbook_for(engagement).retention_paths.get(engagement.type, ())
    checkin = reminder = None
    if engagement.type == Engagement.Type.DEDICATED:
        rollout = rollout or rollout_date(engagement=engagement)
        if rollout is not None:
            checkin, reminder = checkin_dates(rollout)
    return Retention(engagement.type, tuple(steps), checkin, reminder)


def checkin_dates(rollout: date) -> tuple[date, date]:
    """(check-in, reminder) of a dedicated engagement that rolled out on ``rollout``."""
    checkin = schedule.add_months(rollout, CHECKIN_MONTHS)
    return checkin, checkin - timedelta(days=REMINDER_DAYS)


# Activity verb of the reminder (internal prep: customers do not see it, see
# engagements.services.INTERNAL_ACTIVITY_PREFIXES).
CHECKIN_REMINDER_VERB = "handoff.checkin_reminder"


@dataclass(frozen=True)
class CheckinDue:
    engagement_id: int
    checkin: date
    reminder: date
    days_left: int

    @property
    def text(self) -> str:
        """Seed 000's internal prep, as the architect's to-do line."""
        when = (
            "today"
            if self.days_left == 0
            else f"on {self.checkin:%a %d %b %Y} (in {self.days_left} "
            f"day{'s' if self.days_left != 1 else ''})"
        )
        return (
            f"Refinement check-in {when}: pull the territory balance reports, routing accuracy "
            "and rep feedback; decide whether you handle it or it needs a deeper engagement; "
            "prepare the materials"
        )


def checkins_due(*, engagements: list[Engagement], today: date | None = None) -> list[CheckinDue]:
    """Dedicated engagements whose refinement check-in is due for preparation: from the
    reminder (two weeks before) to the check-in day itself. One query (none when no engagement
    is dedicated): the rollout dates of all of them, as :func:`rollout_date` reads one."""
    from django.db.models import OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from routing.models import RoutingSettings

    today = today or timezone.localdate()
    dedicated = [e.pk for e in engagements if e.type == Engagement.Type.DEDICATED]
    if not dedicated:
        return []
    own = Hypercare.objects.filter(engagement=OuterRef("pk")).values("rollout_date")[:1]
    routed = RoutingSettings.objects.filter(engagement=OuterRef("pk")).values("rollout_date")[:1]
    rows = (
        Engagement.objects.filter(pk__in=dedicated)
        .annotate(rollout=Coalesce(Subquery(own), Subquery(routed)))
        .exclude(rollout=None)
        .order_by("pk")
        .values_list("pk", "rollout")
    )
    due = []
    for pk, rollout in rows:
        checkin, reminder = checkin_dates(rollout)
        if reminder <= today <= checkin:
            due.append(CheckinDue(pk, checkin, reminder, (checkin - today).days))
    return due


def checkin_due_items(engagements: list[Engagement], roles: Mapping[int, str]):
    """The architect's "What is due" lines (``engagements.dashboard.provide_due``): the
    check-ins to prepare, for the engagements where the user is the architect."""
    from engagements.models import Role

    mine = [e for e in engagements if roles.get(e.pk) == Role.ARCHITECT]
    return [(d.engagement_id, "checkin", d.text) for d in checkins_due(engagements=mine)]


@transaction.atomic
def checkin_reminders_record(*, today: date | None = None) -> list[CheckinDue]:
    """The daily job's ping (seed 000, "System reminder: refinement check-in in 2 weeks"): an
    activity line on each dedicated engagement whose reminder date has come, once per check-in
    date; a day the job did not run is caught up on the next. Returns the reminders recorded."""
    dedicated = list(Engagement.objects.filter(type=Engagement.Type.DEDICATED))
    due = checkins_due(engagements=dedicated, today=today)
    if not due:
        return []
    from engagements.models import ActivityEvent

    sent = {
        (pk, data.get("checkin"))
        for pk, data in ActivityEvent.objects.filter(
            engagement_id__in=[d.engagement_id for d in due], verb=CHECKIN_REMINDER_VERB
        ).values_list("engagement_id", "data")
    }
    by_id = {e.pk: e for e in dedicated}
    recorded = []
    for d in due:
        if (d.engagement_id, d.checkin.isoformat()) in sent:
            continue
        activity_record(
            engagement=by_id[d.engagement_id],
            actor=None,
            verb=CHECKIN_REMINDER_VERB,
            summary=f"Reminder: {d.text}.",
            data={"checkin": d.checkin.isoformat(), "reminder": d.reminder.isoformat()},
        )
        recorded.append(d)
    return recorded


# --- The calendar feed ------------------------------------------------------------------------


def calendar_feed_get(*, engagement: Engagement) -> CalendarFeed:
    row = CalendarFeed.objects.filter(engagement=engagement).first()
    if row is None:
        row, _ = CalendarFeed.objects.get_or_create(engagement=engagement)
    return row


@transaction.atomic
def calendar_feed_regenerate(*, engagement: Engagement, actor: User | None) -> CalendarFeed:
    row = calendar_feed_get(engagement=engagement)
    row.regenerate()
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="handoff.calendar_regenerated",
        summary="Maintenance calendar link regenerated (the old link stopped working)",
    )
    return row


def engagement_for_feed_token(token: str) -> Engagement | None:
    """The engagement whose calendar token is ``token`` (compared in constant time)."""
    if not token or len(token) > 64:
        return None
    row = (
        CalendarFeed.objects.select_related("engagement__organization").filter(token=token).first()
    )
    if row is None or not hmac.compare_digest(row.token, token):
        return None
    return row.engagement


def _ics_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> list[str]:
    """RFC 5545 §3.1: lines longer than 75 octets continue on lines starting with a space."""
    data = line.encode()
    if len(data) <= 75:
        return [line]
    out, current, limit = [], b"", 75
    for char in line:
        piece = char.encode()
        if len(current) + len(piece) > limit:
            out.append(current.decode())
            current, limit = b"", 74
        current += piece
    out.append(current.decode())
    return [out[0], *(" " + part for part in out[1:])]


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    day: date
    summary: str
    description: str


def calendar_events(*, engagement: Engagement) -> list[CalendarEvent]:
    """The maintenance occurrences, the refinement check-in and its reminder, as events."""
    host = "handoff.territory-portal"
    events = [
        CalendarEvent(
            uid=f"maintenance-{o.pk}-{o.task_slug}-{o.due:%Y%m%d}@{host}",
            day=o.due,
            summary=f"{engagement.organization.name}: {o.task}" + (" (done)" if o.done else ""),
            description=(
                f"{o.cadence_name}. Check: {o.check_text}\nRed flag: {o.red_flag}"
                + (f"\nAction: {o.action}" if o.action else "")
                + f"\nOwner: {o.owner}"
                + (f"\nFindings: {o.findings}" if o.done and o.findings else "")
            ),
        )
        for o in MaintenanceOccurrence.objects.filter(engagement=engagement).order_by(
            "due", "cadence", "task_slug"
        )
    ]
    path = retention(engagement=engagement)
    if path.checkin is not None:
        events.append(
            CalendarEvent(
                uid=f"checkin-{engagement.pk}-{path.checkin:%Y%m%d}@{host}",
                day=path.checkin,
                summary=f"{engagement.organization.name}: refinement check-in",
                description="Review how territories perform: balance drift, routing accuracy, "
                "rep feedback; activate growth-ready cuts if needed.",
            )
        )
        events.append(
            CalendarEvent(
                uid=f"checkin-reminder-{engagement.pk}-{path.reminder:%Y%m%d}@{host}",
                day=path.reminder,
                summary=f"{engagement.organization.name}: refinement check-in in 2 weeks",
                description="Internal prep: pull territory balance reports, routing accuracy and "
                "rep feedback; decide whether the Architect handles the check-in or it needs a "
                "deeper engagement; prepare materials.",
            )
        )
    return events


def calendar_ics(*, engagement: Engagement, now: datetime | None = None) -> str:
    """The engagement's maintenance calendar as iCalendar text (RFC 5545), all-day events."""
    stamp = (now or timezone.now()).astimezone(UTC)
    dtstamp = stamp.strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Territory Design Portal//Maintenance schedule//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_text(f'{engagement.organization.name} · territory maintenance')}",
    ]
    for event in calendar_events(engagement=engagement):
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{dtstamp}",
            f"DTSTART;VALUE=DATE:{event.day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{event.day + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_ics_text(event.summary)}",
            f"DESCRIPTION:{_ics_text(event.description)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _fold(line))


# --- Refinement triggers ----------------------------------------------------------------------


def roster_changes(*, engagement: Engagement) -> list[triggers.RosterChange]:
    """Reps hired or gone, dated. Hired: the roster's start dates (``territories.Rep``; the
    customer adds a new hire there). Gone: a person taken off a territory in the territory
    object (the routing change log) who is on no live territory any more. Two queries + one."""
    from routing.models import TerritoryChange
    from routing.services import territory_records_live
    from territories.models import Rep

    today = timezone.localdate()
    changes = [
        triggers.RosterChange(day, name, "hired")
        for name, day in Rep.objects.filter(
            engagement=engagement, start_date__isnull=False
        ).values_list("name", "start_date")
    ]
    on_territory = {
        getattr(record, field).strip().casefold()
        for record in territory_records_live(engagement=engagement, as_of=today)
        if record.active
        for field in TEAM_FIELDS
        if getattr(record, field).strip()
    }
    for at, diff in TerritoryChange.objects.filter(
        engagement=engagement, action="territory_updated"
    ).values_list("at", "changes"):
        for field in TEAM_FIELDS:
            pair = (diff or {}).get(field)
            if not pair or len(pair) != 2:
                continue
            before, after = (str(v or "").strip() for v in pair)
            if before and before != after and before.casefold() not in on_territory:
                changes.append(triggers.RosterChange(timezone.localdate(at), before, "departed"))
    return changes


def territory_values(*, engagement: Engagement) -> tuple[list[triggers.TerritoryValue], str]:
    """Current value per territory of the approved map (accounts routed as approved), and a
    note of the source; empty when no run is approved."""
    from territories.design import drift_check

    drift = drift_check(engagement=engagement)
    if drift is None:
        return [], "no approved territory map"
    rows = [
        triggers.TerritoryValue(
            key=t["key"],
            label=t["label"],
            segment=t["pod"],
            segment_label=t["pod_label"],
            value=t["current_value"],
            count=t["current_count"],
        )
        for t in drift["territories"]
    ]
    return rows, f"approved run {drift['run_id']} with today's accounts"


@transaction.atomic
def triggers_check(*, engagement: Engagement, today: date | None = None) -> list[TriggerEvaluation]:
    """Evaluate the refinement triggers on live data; store the latest result per trigger."""
    today = today or timezone.localdate()
    territories, territory_source = territory_values(engagement=engagement)
    checks = accuracy_checks(engagement=engagement)
    results = triggers.evaluate(
        territories=territories,
        changes=roster_changes(engagement=engagement),
        checks=checks,
        today=today,
    )
    sources = {
        "value-drift": territory_source,
        "balance-variance": territory_source,
        "team-change": "roster start dates and departures in the territory object's change log",
        "routing-accuracy": f"{len(checks)} accuracy checks (audits and manual)",
    }
    now = timezone.now()
    previous = {e.slug: e.fired for e in TriggerEvaluation.objects.filter(engagement=engagement)}
    rows = [
        _store(engagement, result, sources[result.slug], now, previous.get(result.slug))
        for result in results
    ]
    return rows


def _store(engagement: Engagement, result: triggers.TriggerResult, source: str, now, previous):
    row, _ = TriggerEvaluation.objects.update_or_create(
        engagement=engagement,
        slug=result.slug,
        defaults={
            "name": result.name,
            "fired": result.fired,
            "value": result.value,
            "threshold": result.threshold,
            "unit": result.unit,
            "detail": result.detail,
            "source": source,
            "evaluated_at": now,
        },
    )
    if result.fired and not previous:
        activity_record(
            engagement=engagement,
            actor=None,
            verb="handoff.trigger_fired",
            summary=f"Refinement trigger fired: {result.name} — {result.detail[:250]}",
        )
    return row


@transaction.atomic
def trigger_accuracy_refresh(*, engagement: Engagement) -> TriggerEvaluation:
    """Re-evaluate only the routing-accuracy trigger (after an audit finished)."""
    checks = accuracy_checks(engagement=engagement)
    previous = (
        TriggerEvaluation.objects.filter(engagement=engagement, slug="routing-accuracy")
        .values_list("fired", flat=True)
        .first()
    )
    return _store(
        engagement,
        triggers.routing_accuracy(checks),
        f"{len(checks)} accuracy checks (audits and manual)",
        timezone.now(),
        previous,
    )


def triggers_latest(*, engagement: Engagement) -> list[TriggerEvaluation]:
    return list(TriggerEvaluation.objects.filter(engagement=engagement).order_by("id"))


def engagements_to_check() -> list[Engagement]:
    """Engagements the daily check looks at: those with an approved territory map or a
    rollout date (before that, no trigger has anything to measure)."""
    from routing.models import RoutingSettings
    from territories.models import BalancingRun

    ids = set(
        BalancingRun.objects.filter(approved_at__isnull=False).values_list(
            "engagement_id", flat=True
        )
    )
    ids |= set(
        RoutingSettings.objects.filter(rollout_date__isnull=False).values_list(
            "engagement_id", flat=True
        )
    )
    ids |= set(
        Hypercare.objects.filter(rollout_date__isnull=False).values_list("engagement_id", flat=True)
    )
    return list(Engagement.objects.filter(pk__in=ids).select_related("organization").order_by("pk"))


# --- Sensitive territories --------------------------------------------------------------------


@dataclass(frozen=True)
class Sensitive:
    concentration: list[sensitivity.Concentration]
    split_states: list[sensitivity.SplitState]
    borderline: list[sensitivity.Borderline]
    basis_label: str
    run_number: int | None


# Kept under the run and the data version it read: any change of those makes a new key.
SENSITIVE_CACHE_SECONDS = 24 * 3600


def sensitive_territories(*, engagement: Engagement, limit: int = 50) -> Sensitive:
    """Concentration risk, split states and borderline accounts on the approved map.

    Routing the whole universe by the approved map costs about 0.2 s at 15,000 accounts, too
    much for every view of the handoff page (it was the slowest page under load): the answer is
    cached under the approved run (and its last hand edit) and ``territories.design.data_version``
    (the accounts, valuation and roster it reads). Without Redis it is computed each time.
    """
    from territories.design import approved_run, data_version

    run = approved_run(engagement=engagement)
    if run is None:
        return Sensitive([], [], [], "", None)
    key = (
        # No spaces in a cache key (memcached refuses them; Django warns): the edit time as a
        # timestamp.
        f"handoff:sensitive:{engagement.pk}:{run.pk}:"
        f"{run.edited_at.timestamp() if run.edited_at else ''}:"
        f"{data_version(engagement=engagement)}:{limit}"
    )
    try:
        found = cache.get(key)
    except RedisError:
        found = None
    if found is not None:
        return found
    result = _sensitive_compute(engagement=engagement, run=run, limit=limit)
    with contextlib.suppress(RedisError):
        cache.set(key, result, SENSITIVE_CACHE_SECONDS)
    return result


def _sensitive_compute(*, engagement: Engagement, run, limit: int) -> Sensitive:
    from territories import geo
    from territories.design import accounts_on_map
    from territories.hierarchy import HierarchySpec, basis_label
    from territories.models import RunAtom, RunTerritory

    spec = HierarchySpec.from_json(run.hierarchy)
    territories = list(
        RunTerritory.objects.filter(run=run)
        .select_related("pod")
        .order_by("pod__position", "index")
    )
    label = {t.key: t.label for t in territories}
    values = {t.key: float(t.value) for t in territories}
    by_atom = {}
    splits = []
    pod_label = {t.pod.key: t.pod.label for t in territories}
    for pod_key, kind, atom, key in RunAtom.objects.filter(run=run).values_list(
        "pod__key", "kind", "atom", "territory__key"
    ):
        by_atom[(pod_key, atom)] = key
        if kind == RunAtom.Kind.UNIT:
            state = geo.unit_state(atom)
            if state:
                splits.append((pod_label.get(pod_key, pod_key), state, label.get(key, key)))
    frame, keys, value = accounts_on_map(
        engagement=engagement, run=run, spec=spec, territories=territories, by_atom=by_atom
    )
    accounts: list[sensitivity.AccountValue] = []
    measures: list[tuple[str, str, float | None]] = []
    if not frame.empty:
        ids = frame["external_id"].astype(str).tolist()
        names = frame["name"].astype(str).tolist() if "name" in frame else ids
        for i, key in enumerate(keys.tolist()):
            if key:
                accounts.append(
                    sensitivity.AccountValue(ids[i], names[i], key, label.get(key, key), value[i])
                )
        if spec.segment_basis in frame:
            basis = frame[spec.segment_basis].astype(float).tolist()
            measures = [
                (ids[i], names[i], None if basis[i] != basis[i] else basis[i])
                for i in range(len(frame))
            ]
    thresholds = [(b.label, b.minimum) for b in spec.bands if b.minimum]
    return Sensitive(
        concentration=sensitivity.concentration_risks(accounts, values)[:limit],
        split_states=sensitivity.split_states(splits),
        borderline=sensitivity.borderline_accounts(measures, thresholds)[:limit],
        basis_label=basis_label(spec.segment_basis),
        run_number=run.number,
    )


# --- Handoff notes and debrief ----------------------------------------------------------------


@transaction.atomic
def handoff_notes_save(*, engagement: Engagement, text: str, actor: User | None) -> HandoffNotes:
    row, _ = HandoffNotes.objects.get_or_create(engagement=engagement)
    row.text = (text or "").strip()
    row.updated_by = actor
    row.updated_at = timezone.now()
    row.save(update_fields=["text", "updated_by", "updated_at"])
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="handoff.notes_saved",
        summary="Internal handoff notes updated",
    )
    return row


@transaction.atomic
def debrief_save(
    *, engagement: Engagement, values: Mapping[str, str], actor: User | None
) -> Debrief:
    row, _ = Debrief.objects.get_or_create(engagement=engagement)
    for name in ("went_well", "improve", "lessons"):
        setattr(row, name, (values.get(name) or "").strip())
    if not (row.went_well or row.improve or row.lessons):
        raise ValidationError("Write at least one part of the debrief.")
    row.updated_by = actor
    row.updated_at = timezone.now()
    row.save(update_fields=["went_well", "improve", "lessons", "updated_by", "updated_at"])
    activity_record(
        engagement=engagement, actor=actor, verb="handoff.debrief_saved", summary="Debrief saved"
    )
    return row


def handoff_checklists(*, engagement: Engagement) -> list[dict[str, Any]]:
    """The phase-board sub-phases 4a–4d with their items' progress (one query), for the
    handoff page's links."""
    rows = (
        ChecklistItem.objects.filter(
            engagement=engagement, subphase__code__in=HANDOFF_SUBPHASES, required=True
        )
        .values("subphase__code", "subphase__name", "condition", "done")
        .order_by("subphase__position")
    )
    out: dict[str, dict[str, Any]] = {}
    options = engagement.options
    for row in rows:
        if row["condition"] and row["condition"] not in options:
            continue
        entry = out.setdefault(
            row["subphase__code"],
            {"code": row["subphase__code"], "name": row["subphase__name"], "done": 0, "total": 0},
        )
        entry["total"] += 1
        entry["done"] += int(row["done"])
    return list(out.values())


# --- Gate sign-offs: enablement (3d) and project close (4d) -----------------------------------
#
# The texts the customer approver signs at the Enablement and Handoff gates, built from the
# engagement's data like the other subjects (ICP matrix, hierarchy, QA …). Publishing is
# refused while the data contradicts what the text asks the customer to confirm (training not
# delivered, hypercare still running, the close checklist open); when the data changes after
# publishing, the pages show it and publishing again makes a new version that needs a new
# sign-off (``engagements.services.signoff_publish``).

ENABLEMENT_SUBJECT = "enablement"
PROJECT_CLOSE_SUBJECT = "project_close"
CHECKPOINT_SUBPHASE = "3d"  # seed 000: the seven enablement sign-off checks
CLOSE_SUBPHASE = "4d"  # seed 000: archive checklist and retention path


@dataclass(frozen=True)
class GateSignoff:
    subject: str
    title: str
    text: str  # exactly what publishing would ask the customer to approve
    problems: tuple[str, ...]  # why it cannot be published yet; empty when it can


def _day(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value else "no date"


def _one_line(value: str) -> str:
    return " ".join((value or "").split())


def _required_items(engagement: Engagement, code: str) -> list[ChecklistItem]:
    """The required items of sub-phase ``code`` that apply to this engagement, in order."""
    items = ChecklistItem.objects.filter(
        engagement=engagement, subphase__code=code, required=True
    ).order_by("position")
    return [item for item in items if item.applies_to(engagement)]


def _session_line(session: TrainingSession) -> str:
    who = session.who.strip()
    name = session.audience + (f" ({who})" if who and who != session.audience else "")
    if session.state == TrainingSession.State.DELIVERED:
        parts = [f"delivered {_day(session.day)}"]
        if session.minutes:
            parts.append(f"{session.minutes} min")
        parts.append(
            f"recording {session.recording_url}" if session.recording_url else "no recording"
        )
        line = f"- {name}: {', '.join(parts)}; attendees: {_one_line(session.attendees)}"
    elif session.state == TrainingSession.State.CANCELLED:
        line = f"- {name}: cancelled" + (
            f" ({_one_line(session.notes)})" if session.notes.strip() else ""
        )
    else:
        line = f"- {name}: {session.get_state_display().lower()}, not delivered" + (
            f" (planned for {_day(session.day)})" if session.day else ""
        )
    return line


def enablement_signoff(*, engagement: Engagement, today: date | None = None) -> GateSignoff:
    """The enablement sign-off as the data stands: training sessions delivered per audience
    with their dates, the training-assets checklist, the hypercare window and its state, and
    the seed's seven checks (3d) the customer confirms by approving."""
    customer = engagement.organization.name
    sessions = list(engagement.training_sessions.all())
    assets = training_assets(engagement=engagement)
    status = hypercare_status(engagement=engagement, today=today)
    checks = _required_items(engagement, CHECKPOINT_SUBPHASE)
    problems: list[str] = []

    delivered = [s for s in sessions if s.state == TrainingSession.State.DELIVERED]
    pending = [
        s
        for s in sessions
        if s.state not in (TrainingSession.State.DELIVERED, TrainingSession.State.CANCELLED)
    ]
    lines = [f"Enablement sign-off — {customer}: {engagement.name}", "", "Training sessions (3b):"]
    lines += [_session_line(s) for s in sessions] or ["- none planned"]
    lines.append(f"{len(delivered)} of {len(sessions)} sessions delivered.")
    if not sessions:
        problems.append("No training session is planned: plan the playbook's sessions first.")
    elif pending:
        problems.append(
            "Training not delivered yet: "
            + ", ".join(f"{s.audience} ({s.get_state_display().lower()})" for s in pending)
            + ". Deliver each session, or cancel it when it was combined with another."
        )
    elif not delivered:
        problems.append("No training session was delivered.")

    lines += ["", "Training assets (3a):"]
    lines += [f"- {'done' if a.done else 'open'}: {a.text}" for a in assets] or ["- none listed"]
    open_assets = [a.text for a in assets if a.required and not a.done]
    if open_assets:
        problems.append("Training assets not created yet: " + "; ".join(open_assets) + ".")

    lines += ["", "Hypercare (3c):"]
    if status.state == "not_set":
        lines.append("No rollout date: hypercare has not started.")
        problems.append("Set the rollout date (hypercare page): hypercare has not started.")
    else:
        extension = (
            f"{HYPERCARE_DAYS} days + {status.extension_days} days extension"
            if status.extension_days
            else f"{HYPERCARE_DAYS} days"
        )
        state = {"complete": "complete", "active": "still open"}.get(
            status.state, "not started yet"
        )
        lines.append(
            f"Rollout {_day(status.rollout)}; window of {status.total_days} days ({extension}) "
            f"to {_day(status.end)}: {state}."
        )
        if status.state != "complete":
            problems.append(
                f"Hypercare window still open (ends {_day(status.end)}): publish the "
                "enablement sign-off once it is complete."
            )
    issues = HypercareIssue.objects.filter(engagement=engagement).aggregate(
        n=Count("id"), resolved=Count("id", filter=Q(state=HypercareIssue.State.RESOLVED))
    )
    critical = f"{status.critical_open} critical" if status.critical_open else "none critical"
    lines.append(
        f"Office hours held: {engagement.office_hours.count()}. Issues: {issues['n']} reported, "
        f"{issues['resolved']} resolved, {status.open_issues} open ({critical})."
    )
    if status.critical_open:
        n = status.critical_open
        problems.append(f"{n} critical hypercare issue{'s' if n != 1 else ''} open: resolve first.")
    checks_done = accuracy_checks(engagement=engagement)
    if checks_done:
        last = checks_done[-1]
        lines.append(
            f"Latest routing accuracy check ({last.source}, {_day(last.day)}): {last.correct} "
            f"of {last.sampled} accounts correct ({last.accuracy:.1f} %)."
        )
    else:
        lines.append("No routing accuracy check recorded.")

    lines += [
        "",
        f"Validation checkpoint ({CHECKPOINT_SUBPHASE}). By approving, {customer} confirms:",
    ]
    lines += [f"{n}. {item.text}" for n, item in enumerate(checks, start=1)]
    return GateSignoff(
        subject=ENABLEMENT_SUBJECT,
        title="Enablement: team trained, hypercare complete",
        text="\n".join(lines),
        problems=tuple(problems),
    )


def _package_lines(engagement: Engagement) -> list[str]:
    """The delivered documentation package: the latest version built in the portal, with the
    SHA-256 of its zip (recorded at build) and of the manifest.json inside it."""
    import hashlib
    import zipfile

    from handoff.package import MANIFEST, package_read_member

    package = engagement.document_packages.order_by("-version").first()
    if package is None:
        return ["Documentation package: none was built in the portal."]
    lines = [
        f"Documentation package delivered: version {package.version}, built "
        f"{_day(timezone.localtime(package.built_at).date())}, {len(package.files)} files.",
        f"Zip SHA-256: {package.sha256}",
    ]
    try:
        manifest = package_read_member(package, MANIFEST)
    except (OSError, KeyError, StopIteration, ValueError, zipfile.BadZipFile):
        lines.append("manifest.json: the zip is not readable on the server.")
    else:
        lines.append(f"manifest.json SHA-256: {hashlib.sha256(manifest).hexdigest()}")
    return lines


def project_close_signoff(*, engagement: Engagement) -> GateSignoff:
    """The project-close sign-off as the data stands: the delivered documentation package
    (version and hashes), the maintenance schedule, the close checklist (4d) and the
    retention path of the engagement's type."""
    customer = engagement.organization.name
    problems: list[str] = []
    lines = [f"Project close — {customer}: {engagement.name}", ""]
    lines += _package_lines(engagement)

    schedule_rows = MaintenanceOccurrence.objects.filter(engagement=engagement).aggregate(
        n=Count("id"), first=Min("due"), last=Max("due"), owner=Max("owner")
    )
    lines.append("")
    if schedule_rows["n"]:
        lines.append(
            f"Maintenance schedule (4a): {schedule_rows['n']} dated tasks from "
            f"{_day(schedule_rows['first'])} to {_day(schedule_rows['last'])}, owned by the "
            f"{schedule_rows['owner']}."
        )
    else:
        lines.append("Maintenance schedule (4a): not generated in the portal.")

    items = _required_items(engagement, CLOSE_SUBPHASE)
    lines += ["", f"Project close checklist ({CLOSE_SUBPHASE}):"]
    lines += [f"- {'done' if i.done else 'open'}: {i.text}" for i in items]
    open_items = [i.text for i in items if not i.done]
    if open_items:
        problems.append(
            f"Finish the project close checklist ({CLOSE_SUBPHASE}) first: "
            + "; ".join(open_items)
            + "."
        )

    path = retention(engagement=engagement)
    lines += ["", f"Retention path — {engagement.get_type_display()}:"]
    lines += [f"{n}. {step}" for n, step in enumerate(path.steps, start=1)]
    if path.checkin is not None:
        lines.append(
            f"Refinement check-in: {_day(path.checkin)} (internal reminder {_day(path.reminder)})."
        )
    lines += [
        "",
        f"By approving, {customer} confirms the project is complete: the customer owns the "
        "territory system with the documentation and maintenance schedule above, and the "
        "project is closed.",
    ]
    return GateSignoff(
        subject=PROJECT_CLOSE_SUBJECT,
        title="Project close: handoff complete, project archived",
        text="\n".join(lines),
        problems=tuple(problems),
    )


def gate_signoff_changed(*, engagement: Engagement, signoff: GateSignoff) -> bool | None:
    """Whether the text as it stands differs from the latest published version (None: never
    published)."""
    latest = signoff_latest(engagement=engagement, subject=signoff.subject)
    if latest is None:
        return None
    return latest.text != signoff.text


def _gate_signoff_publish(
    engagement: Engagement, signoff: GateSignoff, actor: User | None
) -> SignoffVersion:
    if signoff.problems:
        raise ValidationError(list(signoff.problems))
    return signoff_publish(
        engagement=engagement,
        subject=signoff.subject,
        title=signoff.title,
        text=signoff.text,
        actor=actor,
    )


def enablement_publish(*, engagement: Engagement, actor: User | None) -> SignoffVersion:
    """Publish the enablement sign-off for the customer approver (no new version when the text
    did not change); ``ValidationError`` lists what must happen first."""
    return _gate_signoff_publish(engagement, enablement_signoff(engagement=engagement), actor)


def project_close_publish(*, engagement: Engagement, actor: User | None) -> SignoffVersion:
    """Publish the project-close sign-off for the customer approver (no new version when the
    text did not change); ``ValidationError`` lists what must happen first."""
    return _gate_signoff_publish(engagement, project_close_signoff(engagement=engagement), actor)


# --- Dashboard providers (one query each) -----------------------------------------------------


def hypercare_statuses(
    *, engagement_ids: list[int], today: date | None = None
) -> dict[int, HypercareStatus]:
    """``hypercare_status`` of several engagements in ONE query (rollout from the hypercare
    page or the routing settings, extensions, open and critical open issues)."""
    from django.db.models import OuterRef, Subquery

    from routing.models import RoutingSettings

    today = today or timezone.localdate()
    open_issues = HypercareIssue.objects.filter(
        engagement=OuterRef("pk"), state=HypercareIssue.State.OPEN
    ).values("engagement")
    rows = (
        Engagement.objects.filter(pk__in=engagement_ids)
        .annotate(
            own_rollout=Subquery(
                Hypercare.objects.filter(engagement=OuterRef("pk")).values("rollout_date")[:1]
            ),
            routing_rollout=Subquery(
                RoutingSettings.objects.filter(engagement=OuterRef("pk")).values("rollout_date")[:1]
            ),
            extension=Subquery(
                HypercareExtension.objects.filter(engagement=OuterRef("pk"))
                .values("engagement")
                .annotate(total=Sum("days"))
                .values("total")[:1]
            ),
            open_issues=Subquery(open_issues.annotate(n=Count("id")).values("n")[:1]),
            critical_open=Subquery(
                open_issues.filter(severity=HypercareIssue.Severity.CRITICAL)
                .annotate(n=Count("id"))
                .values("n")[:1]
            ),
        )
        .values_list(
            "pk", "own_rollout", "routing_rollout", "extension", "open_issues", "critical_open"
        )
    )
    return {
        pk: _status(own or routed, extension or 0, today, n_open or 0, critical or 0)
        for pk, own, routed, extension, n_open, critical in rows
    }


def hypercare_gate_conditions(engagement_ids: list[int]) -> dict[int, list[str]]:
    """What live hypercare data says still blocks the Enablement gate (seed 000, 3d: "30-day
    hypercare period complete", "No critical routing issues outstanding"), besides the items
    ticked by hand. Registered in ``HandoffConfig.ready``; one query. Extending hypercare
    stays possible: only Proceed waits for these."""
    found: dict[int, list[str]] = {}
    for pk, status in hypercare_statuses(engagement_ids=engagement_ids).items():
        messages = []
        if status.state == "not_set":
            messages.append("Hypercare has not started: no rollout date is set")
        elif status.state in ("upcoming", "active"):
            messages.append(f"Hypercare window still open (ends {status.end:%d %b %Y})")
        if status.critical_open:
            n = status.critical_open
            messages.append(f"{n} critical hypercare issue{'s' if n != 1 else ''} open")
        if messages:
            found[pk] = messages
    return found


def hypercare_cells(engagement_ids: list[int]):
    """Dashboard column "Hypercare": state and day of the window, open and critical issues.
    One query."""
    from engagements.dashboard import Cell

    cells = {}
    for pk, status in hypercare_statuses(engagement_ids=engagement_ids).items():
        if status.state == "not_set":
            continue
        level = {"active": "warn", "complete": "ok", "upcoming": ""}[status.state]
        if status.state == "active" and not status.open_issues:
            level = "ok"
        text = status.label
        if status.open_issues:
            text += f" · {status.open_issues} open"
            if status.critical_open:
                text += f" ({status.critical_open} critical)"
        if status.critical_open:
            level = "bad"
        cells[pk] = Cell(
            text=text,
            sort=status.day if status.day is not None else -1,
            level=level,
            title=f"Rollout {status.rollout:%d %b %Y}, window to {status.end:%d %b %Y}"
            + (f" (extended {status.extension_days} days)" if status.extension_days else ""),
        )
    return cells


def trigger_cells(engagement_ids: list[int]):
    """Dashboard column "Refinement triggers": the fired ones by name. One query."""
    from engagements.dashboard import Cell

    found: dict[int, list[tuple[str, str]]] = {}
    checked: set[int] = set()
    for engagement_id, name, fired, detail in TriggerEvaluation.objects.filter(
        engagement_id__in=engagement_ids
    ).values_list("engagement_id", "name", "fired", "detail"):
        checked.add(engagement_id)
        if fired:
            found.setdefault(engagement_id, []).append((name, detail))
    cells = {}
    for engagement_id in checked:
        fired = found.get(engagement_id, [])
        if fired:
            cells[engagement_id] = Cell(
                text=", ".join(name for name, _ in fired),
                sort=len(fired),
                level="bad",
                title=" ".join(detail for _, detail in fired),
            )
        else:
            cells[engagement_id] = Cell(text="None fired", sort=0, level="ok")
    return cells
