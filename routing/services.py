"""Work across rows of the routing app: the territory object (generation from the approved map,
edits, the change log), the routing configuration the engine evaluates, and routing itself.

"Never cached stale": every change of the territory object bumps ``RoutingSettings.version``
(and ``changed_at``) in the same transaction; ``routing_config`` caches configurations per
process keyed by (engagement, version, changed_at, day), so the next routed record after a change
is evaluated against a configuration built from the database after that change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from engagements.exports import csv_write, xlsx_write
from engagements.models import Engagement, User
from engagements.services import activity_record, checklist_mark_event, signoff_publish
from engagements.units import megabytes
from routing import engine, qa, salesforce, tables
from routing.models import (
    NamedAccountOverride,
    QACase,
    QARun,
    RoutingAudit,
    RoutingBatch,
    RoutingSettings,
    TerritoryAccount,
    TerritoryChange,
    TerritoryRecord,
)
from territories import geo, ingest
from territories.models import BalancingRun
from territories.segments import Band

Progress = Callable[[float, str], None]


def _no_progress(pct: float, message: str = "") -> None:
    return None


def _actor(user: User | None) -> User | None:
    return user if user is not None and user.is_authenticated else None


# --- Settings, version and change log ------------------------------------------------------------


def routing_settings_get(*, engagement: Engagement) -> RoutingSettings:
    row = RoutingSettings.objects.filter(engagement=engagement).first()
    if row is None:
        row, _ = RoutingSettings.objects.get_or_create(engagement=engagement)
    return row


def _bump(engagement: Engagement) -> RoutingSettings:
    """Bump the territory-object version; call inside the transaction that made the change."""
    row = routing_settings_get(engagement=engagement)
    RoutingSettings.objects.filter(pk=row.pk).update(
        version=F("version") + 1, changed_at=timezone.now()
    )
    row.refresh_from_db(fields=["version", "changed_at"])
    return row


def _log(
    *,
    engagement: Engagement,
    actor: User | None,
    action: str,
    subject: str,
    summary: str,
    version: int,
    territory: TerritoryRecord | None = None,
    changes: dict[str, Any] | None = None,
) -> TerritoryChange:
    change = TerritoryChange.objects.create(
        engagement=engagement,
        actor=_actor(actor),
        action=action,
        subject=subject[:200],
        territory=territory,
        changes=changes or {},
        summary=summary[:500],
        version=version,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb=f"routing.{action}",
        summary=summary,
        data={"change": change.pk, "version": version},
    )
    return change


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _diff(instance, values: Mapping[str, Any]) -> dict[str, list]:
    changes = {}
    for name, new in values.items():
        old = getattr(instance, name)
        if old != new:
            changes[name] = [_jsonable(old), _jsonable(new)]
    return changes


# --- The routing configuration ------------------------------------------------------------------


def _bands(hierarchy: Mapping[str, Any]) -> tuple[Band, ...]:
    return tuple(
        Band(
            label=str(b["label"]),
            minimum=None if b.get("minimum") is None else float(b["minimum"]),
            inclusive=bool(b.get("inclusive", True)),
        )
        for b in hierarchy.get("bands", [])
    )


def _pods(hierarchy: Mapping[str, Any]) -> tuple[engine.Pod, ...]:
    return tuple(
        engine.Pod(
            key=str(p["key"]),
            label=str(p.get("label", "")),
            segments=frozenset(s for s in p.get("segments", []) if s),
            regions=frozenset(s for s in p.get("regions", []) if s),
            states=frozenset(s for s in p.get("states", []) if s),
            industries=frozenset(engine.industry_key(s) for s in p.get("industries", []) if s),
        )
        for p in hierarchy.get("pods", [])
    )


def territory_records_live(*, engagement: Engagement, as_of: date) -> list[TerritoryRecord]:
    """Territory records whose effective dates include ``as_of`` (active or not), one per key:
    the newest generation wins if a hand edit made two overlap."""
    rows = engagement.territory_records.filter(
        Q(effective_from__isnull=True) | Q(effective_from__lte=as_of),
        Q(effective_to__isnull=True) | Q(effective_to__gte=as_of),
    ).order_by("key", "-generation", "-pk")
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.key not in seen:
            seen.add(row.key)
            out.append(row)
    return out


def routing_config_build(
    *,
    engagement: Engagement,
    settings_row: RoutingSettings | None = None,
    as_of: date | None = None,
) -> engine.RoutingConfig:
    """The engine's configuration from the database (four queries), never cached."""
    row = settings_row or routing_settings_get(engagement=engagement)
    as_of = as_of or timezone.localdate()
    records = territory_records_live(engagement=engagement, as_of=as_of)
    accounts: dict[int, list[str]] = {}
    for territory_id, external_id in TerritoryAccount.objects.filter(
        territory__in=[r.pk for r in records]
    ).values_list("territory_id", "external_id"):
        accounts.setdefault(territory_id, []).append(external_id)
    overrides = tuple(
        engine.NamedOverride(
            external_id=o.external_id.strip(),
            domain=engine.normalize_domain(o.domain),
            territory=o.territory_key,
            owner=o.owner.strip(),
        )
        for o in engagement.named_overrides.filter(active=True).order_by("pk")
    )
    hierarchy = row.hierarchy or {}
    return engine.RoutingConfig(
        segment_basis=hierarchy.get("segment_basis", "annual_revenue"),
        bands=_bands(hierarchy),
        pods=_pods(hierarchy),
        territories=tuple(r.rule(accounts=accounts.get(r.pk, ())) for r in records),
        overrides=overrides,
        fallbacks={level: row.fallback_for(level) for level in row.fallbacks},
        default_queue=row.default_queue,
        granularity_by_state=row.granularity_by_state,
        as_of=as_of,
        version=row.version,
    )


_CACHE_SIZE = 64
_cache: OrderedDict[tuple, engine.RoutingConfig] = OrderedDict()
_cache_lock = threading.Lock()


def routing_config(
    *, engagement: Engagement, settings_row: RoutingSettings | None = None
) -> engine.RoutingConfig:
    """The configuration for routing now, cached per process by version.

    The key includes ``changed_at`` as well as the version so that a bump inside a transaction
    that was rolled back (a QA team-update case) can never alias a later real change.
    """
    row = settings_row or routing_settings_get(engagement=engagement)
    today = timezone.localdate()
    key = (*row.cache_key, today)
    with _cache_lock:
        config = _cache.get(key)
        if config is not None:
            _cache.move_to_end(key)
            return config
    config = routing_config_build(engagement=engagement, settings_row=row, as_of=today)
    with _cache_lock:
        _cache[key] = config
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return config


def route_record(*, engagement: Engagement, record: Mapping[str, Any]) -> engine.Decision:
    """Route one record against the current territory object."""
    return engine.route_record(record, routing_config(engagement=engagement))


# --- Generation from the approved map ------------------------------------------------------------


def _approved_map(engagement: Engagement):
    """The contract with Territories II (``territories.services.approved_map``)."""
    from territories.services import approved_map

    return approved_map(engagement=engagement)


def _split_units(units: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    """(whole states, sub-state units, ids that are not units) of a territory's units."""
    states, subs, bad = [], [], []
    for uid in units:
        try:
            kind = geo.unit_kind(uid)
        except ValueError:
            bad.append(uid)
            continue
        if kind == "state":
            states.append(uid)
        elif kind != "unknown":
            subs.append(uid)
    return sorted(set(states)), sorted(set(subs)), bad


def _criterion(values) -> list[str]:
    """A pod criterion as a list; empty means any (the hierarchy's "" also means any)."""
    values = [str(v).strip() for v in values]
    return [] if not values or "" in values else values


def _hierarchy_snapshot(hierarchy) -> tuple[dict[str, Any], list[str]]:
    """The parts of the approved HierarchySpec the engine evaluates, as JSON, and notes.

    The engine cuts each state at one granularity; if two pods cut a state differently the
    finest wins and the note says so (territories of the coarser pod still match by state).
    """
    order = {g: i for i, g in enumerate(geo.GRANULARITIES)}
    granularity: dict[str, str] = {}
    notes: list[str] = []
    pods = []
    for pod in hierarchy.pods:
        for state, value in dict(pod.granularity_by_state).items():
            if value == "state":
                continue
            current = granularity.get(state)
            if current and current != value:
                notes.append(
                    f"{state} is cut by {current} in one pod and by {value} in pod {pod.key}; "
                    f"routing uses {max(current, value, key=order.get)}."
                )
                value = max(current, value, key=order.get)
            granularity[state] = value
        pods.append(
            {
                "key": pod.key,
                "label": pod.label,
                "segments": _criterion(pod.segments),
                "regions": _criterion(pod.regions),
                "states": _criterion(pod.states),
                "industries": _criterion(pod.industries),
                "atom": pod.atom,
                "seats": pod.seats,
                "granularity_by_state": dict(pod.granularity_by_state),
            }
        )
    snapshot = {
        "cuts": list(hierarchy.cuts),
        "segment_basis": hierarchy.segment_basis,
        "bands": [
            {"label": b.label, "minimum": b.minimum, "inclusive": bool(b.inclusive)}
            for b in hierarchy.bands
        ],
        "pods": pods,
        "granularity_by_state": dict(sorted(granularity.items())),
    }
    return snapshot, notes


@dataclass(frozen=True)
class GenerationResult:
    generation: int
    territories: int
    listed_accounts: int
    overrides: int
    closed: int
    notes: tuple[str, ...]


@transaction.atomic
def territory_object_generate(
    *,
    engagement: Engagement,
    actor: User | None,
    effective_from: date | None = None,
    force: bool = False,
) -> GenerationResult:
    """Generate the territory object from the approved balancing run and its hierarchy.

    A new generation of territory records starts ``effective_from`` (today by default); the
    previous generation's records end the day before and stay as history. SDR, SE and CSM of a
    territory whose key carries over are kept (the approved map names only the AE). Overrides
    from the previous map are deactivated and replaced; hand-made ones are kept. Regenerating
    from the run already generated from needs ``force`` (it discards edits made since).
    """
    approved = _approved_map(engagement)
    if approved is None:
        raise ValidationError(
            "No balancing run is approved yet: approve a run in Territories first."
        )
    row = RoutingSettings.objects.select_for_update().filter(engagement=engagement).first()
    row = row or routing_settings_get(engagement=engagement)
    if row.generation and row.source_run_id == approved.run_id and not force:
        raise ValidationError(
            f"The territory object was already generated from run {approved.run_id}. "
            "Regenerating discards the edits made since; confirm to do it anyway."
        )
    start = effective_from or timezone.localdate()
    snapshot, notes = _hierarchy_snapshot(approved.hierarchy)
    pods = {p["key"]: p for p in snapshot["pods"]}
    previous = {
        r.key: r
        for r in engagement.territory_records.filter(generation=row.generation, generation__gt=0)
    }
    now = timezone.now()
    closed = (
        engagement.territory_records.filter(generation__gt=0)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=start))
        .update(effective_to=start - timedelta(days=1), updated_at=now)
    )
    generation = row.generation + 1
    named_ids = {(n[0] or "").strip() for n in approved.named_accounts}
    named_home: dict[str, str] = {}
    records, lists = [], []
    for territory in approved.territories:
        pod = pods.get(territory.pod, {})
        states, units, bad = _split_units(territory.units)
        if bad:
            notes.append(f"{territory.key}: ignored unknown units {', '.join(bad[:5])}.")
        for external_id in territory.accounts:
            if external_id in named_ids:
                named_home.setdefault(external_id, territory.key[:60])
        before = previous.get(territory.key)
        record = TerritoryRecord(
            engagement=engagement,
            key=territory.key[:60],
            name=(territory.label or territory.key)[:200],
            pod=territory.pod,
            segments=pod.get("segments", []),
            regions=pod.get("regions", []),
            industries=pod.get("industries", []),
            states=states,
            units=units,
            ae=territory.rep or "",
            sdr=before.sdr if before else "",
            se=before.se if before else "",
            csm=before.csm if before else "",
            effective_from=start,
            generation=generation,
            source_run_id=approved.run_id,
            created_at=now,
            updated_at=now,
        )
        records.append(record)
        # Account pods route by list. Named accounts sit in their owner's territory in the
        # run; they route by their override, so they are not listed.
        listed = (
            {
                a.strip()
                for a in territory.accounts
                if a and a.strip() and a.strip() not in named_ids
            }
            if pod.get("atom") == "account"
            else set()
        )
        lists.append(sorted(listed))
    TerritoryRecord.objects.bulk_create(records)
    saved = {
        r.key: r
        for r in engagement.territory_records.filter(generation=generation).only("pk", "key")
    }
    TerritoryAccount.objects.bulk_create(
        [
            TerritoryAccount(territory_id=saved[record.key].pk, external_id=external_id[:100])
            for record, ids in zip(records, lists, strict=True)
            for external_id in ids
        ],
        batch_size=2000,
    )
    engagement.named_overrides.filter(
        source=NamedAccountOverride.Source.APPROVED_MAP, active=True
    ).update(active=False, updated_at=now)
    overrides = [
        NamedAccountOverride(
            engagement=engagement,
            external_id=(external_id or "").strip()[:100],
            domain=engine.normalize_domain(domain)[:200],
            owner=(owner or "").strip()[:150],
            territory_key=named_home.get((external_id or "").strip(), ""),
            source=NamedAccountOverride.Source.APPROVED_MAP,
            note=f"Named account of run {approved.run_id}",
            created_at=now,
            updated_at=now,
        )
        for external_id, domain, owner in approved.named_accounts
        if (external_id or "").strip() or engine.normalize_domain(domain)
    ]
    NamedAccountOverride.objects.bulk_create(overrides)
    RoutingSettings.objects.filter(pk=row.pk).update(
        hierarchy=snapshot,
        source_run_id=approved.run_id,
        source_approved_at=approved.approved_at,
        source_approved_by=approved.approved_by[:200],
        generation=generation,
        generated_at=now,
    )
    row = _bump(engagement)
    listed = sum(len(ids) for ids in lists)
    _log(
        engagement=engagement,
        actor=actor,
        action="generated",
        subject=f"run {approved.run_id}",
        summary=(
            f"Territory object generated from run {approved.run_id}: {len(records)} territories "
            f"effective {start:%d %b %Y}, {len(overrides)} named accounts"
            + (f", {closed} earlier records ended" if closed else "")
        ),
        version=row.version,
        changes={"generation": [generation - 1, generation], "notes": notes},
    )
    return GenerationResult(generation, len(records), listed, len(overrides), closed, tuple(notes))


# --- Edits ------------------------------------------------------------------------------------------

TERRITORY_FIELDS: tuple[str, ...] = (
    "key",
    "name",
    "pod",
    "segments",
    "regions",
    "industries",
    "states",
    "units",
    "ae",
    "sdr",
    "se",
    "csm",
    "priority",
    "active",
    "effective_from",
    "effective_to",
)


def _check_territory(engagement: Engagement, territory: TerritoryRecord, values) -> None:
    key = values.get("key", territory.key)
    clash = engagement.territory_records.filter(key=key, generation=territory.generation)
    if territory.pk:
        clash = clash.exclude(pk=territory.pk)
    if clash.exists():
        raise ValidationError({"key": f"Another territory of this generation has the key {key}."})
    start, end = values.get("effective_from"), values.get("effective_to")
    if start and end and end < start:
        raise ValidationError({"effective_to": "The last day is before the first day."})
    granularity = routing_settings_get(engagement=engagement).granularity_by_state
    for uid in values.get("units", []):
        state = geo.unit_state(uid)
        wanted = granularity.get(state, "state")
        if geo.unit_kind(uid) != wanted:
            raise ValidationError(
                {
                    "units": (
                        f"{geo.unit_label(uid)}: {geo.STATE_NAME[state]} is routed by "
                        f"{wanted if wanted != 'state' else 'whole state'}, so its territories "
                        f"list {'states' if wanted == 'state' else wanted + ' units'}."
                    )
                }
            )


@transaction.atomic
def territory_save(
    *,
    engagement: Engagement,
    territory: TerritoryRecord | None,
    values: Mapping[str, Any],
    accounts: list[str] | None,
    actor: User | None,
) -> TerritoryRecord:
    """Create or change a territory record (and its account list); logs every changed field and
    bumps the version, so the next routed record sees the change."""
    values = {k: v for k, v in values.items() if k in TERRITORY_FIELDS}
    creating = territory is None
    territory = territory or TerritoryRecord(engagement=engagement)
    _check_territory(engagement, territory, values)
    changes = _diff(territory, values) if not creating else {}
    for name, value in values.items():
        setattr(territory, name, value)
    if accounts is not None:
        accounts = sorted({a.strip()[:100] for a in accounts if a.strip()})
        before = (
            sorted(territory.account_list.values_list("external_id", flat=True))
            if territory.pk
            else []
        )
        if before != accounts:
            added = sorted(set(accounts) - set(before))
            removed = sorted(set(before) - set(accounts))
            changes["account_list"] = [
                f"{len(before)} accounts",
                f"{len(accounts)} accounts (+{len(added)} −{len(removed)})",
            ]
    if not creating and not changes:
        return territory
    territory.updated_at = timezone.now()
    territory.save()
    if "key" in changes:
        # Named accounts and fallbacks refer to territories by key: follow the rename.
        before, after = changes["key"]
        moved = engagement.named_overrides.filter(territory_key=before).update(
            territory_key=after, updated_at=territory.updated_at
        )
        row = routing_settings_get(engagement=engagement)
        fallbacks = {
            level: ({"territory": after} if value.get("territory") == before else value)
            for level, value in row.fallbacks.items()
        }
        renamed_fallbacks = fallbacks != row.fallbacks
        if renamed_fallbacks:
            row.fallbacks = fallbacks
            row.save(update_fields=["fallbacks"])
        if moved or renamed_fallbacks:
            changes["references"] = [before, after]
    if accounts is not None:
        territory.account_list.exclude(external_id__in=accounts).delete()
        existing = set(territory.account_list.values_list("external_id", flat=True))
        TerritoryAccount.objects.bulk_create(
            [
                TerritoryAccount(territory=territory, external_id=a)
                for a in accounts
                if a not in existing
            ]
        )
    row = _bump(engagement)
    if creating:
        summary = f"Territory {territory.key} ({territory.name}) added"
    else:
        parts = [f"{name} {before!r} → {after!r}" for name, (before, after) in changes.items()]
        summary = f"Territory {territory.key}: " + "; ".join(parts)
    _log(
        engagement=engagement,
        actor=actor,
        action="territory_created" if creating else "territory_updated",
        subject=territory.key,
        territory=territory,
        changes=changes,
        summary=summary,
        version=row.version,
    )
    return territory


@transaction.atomic
def territory_delete(*, territory: TerritoryRecord, actor: User | None) -> None:
    """Delete a territory added by hand; generated ones are ended or deactivated instead."""
    if territory.generation:
        raise ValidationError(
            "Generated territories are kept as history: deactivate it or set its last day."
        )
    engagement = territory.engagement
    key, name = territory.key, territory.name
    territory.delete()
    row = _bump(engagement)
    _log(
        engagement=engagement,
        actor=actor,
        action="territory_deleted",
        subject=key,
        summary=f"Territory {key} ({name}) deleted",
        version=row.version,
    )


OVERRIDE_FIELDS = ("external_id", "domain", "territory_key", "owner", "note", "active")


@transaction.atomic
def override_save(
    *,
    engagement: Engagement,
    override: NamedAccountOverride | None,
    values: Mapping[str, Any],
    actor: User | None,
) -> NamedAccountOverride:
    values = {k: v for k, v in values.items() if k in OVERRIDE_FIELDS}
    if "domain" in values:
        values["domain"] = engine.normalize_domain(values["domain"])
    if "external_id" in values:
        values["external_id"] = values["external_id"].strip()
    merged = {name: values.get(name, getattr(override, name, "")) for name in OVERRIDE_FIELDS}
    if not merged["external_id"] and not merged["domain"]:
        raise ValidationError({"external_id": "Give an external id, a domain, or both."})
    if not merged["territory_key"] and not merged["owner"]:
        raise ValidationError({"owner": "Give an owner, a territory, or both."})
    if (
        merged["territory_key"]
        and not engagement.territory_records.filter(key=merged["territory_key"]).exists()
    ):
        raise ValidationError(
            {"territory_key": f"No territory has the key {merged['territory_key']}."}
        )
    creating = override is None
    override = override or NamedAccountOverride(engagement=engagement)
    changes = {} if creating else _diff(override, values)
    if not creating and not changes:
        return override
    for name, value in values.items():
        setattr(override, name, value)
    override.updated_at = timezone.now()
    override.save()
    row = _bump(engagement)
    summary = (
        f"Named account {override.label} added"
        if creating
        else f"Named account {override.label}: "
        + "; ".join(f"{k} {a!r} → {b!r}" for k, (a, b) in changes.items())
    )
    _log(
        engagement=engagement,
        actor=actor,
        action="override_created" if creating else "override_updated",
        subject=override.label,
        changes=changes,
        summary=summary,
        version=row.version,
    )
    return override


@transaction.atomic
def override_delete(*, override: NamedAccountOverride, actor: User | None) -> None:
    engagement, label = override.engagement, override.label
    override.delete()
    row = _bump(engagement)
    _log(
        engagement=engagement,
        actor=actor,
        action="override_deleted",
        subject=label,
        summary=f"Named account {label} deleted",
        version=row.version,
    )


@transaction.atomic
def routing_settings_update(
    *,
    engagement: Engagement,
    default_queue: str,
    fallbacks: Mapping[str, engine.Fallback],
    rollout_date: date | None,
    actor: User | None,
) -> RoutingSettings:
    """Change the fallbacks, the default queue or the rollout date (logged, version bumped)."""
    row = routing_settings_get(engagement=engagement)
    keys = set(engagement.territory_records.values_list("key", flat=True))
    stored = {}
    for level, fallback in fallbacks.items():
        if level not in engine.FALLBACK_LEVELS:
            raise ValidationError({level: f"Unknown fallback level {level}."})
        if fallback.territory and fallback.territory not in keys:
            raise ValidationError({level: f"No territory has the key {fallback.territory}."})
        if fallback.territory:
            stored[level] = {"territory": fallback.territory}
        elif fallback.queue.strip():
            stored[level] = {"queue": fallback.queue.strip()[:120]}
    if not default_queue.strip():
        raise ValidationError(
            {"default_queue": "Name the queue that takes what nothing else does."}
        )
    values = {
        "default_queue": default_queue.strip()[:120],
        "fallbacks": stored,
        "rollout_date": rollout_date,
    }
    changes = _diff(row, values)
    if not changes:
        return row
    for name, value in values.items():
        setattr(row, name, value)
    row.save(update_fields=list(values))
    row = _bump(engagement)
    _log(
        engagement=engagement,
        actor=actor,
        action="settings_updated",
        subject="settings",
        changes=changes,
        summary="Routing settings changed: " + ", ".join(changes),
        version=row.version,
    )
    return row


# --- Exports and the tech spec -----------------------------------------------------------------


def territory_rows(*, engagement: Engagement, as_of: date | None = None) -> list[dict[str, Any]]:
    """The live territory records as plain dicts (with ``has_accounts``), for exports."""
    records = territory_records_live(engagement=engagement, as_of=as_of or timezone.localdate())
    listed = set(
        TerritoryAccount.objects.filter(territory__in=[r.pk for r in records])
        .values_list("territory_id", flat=True)
        .distinct()
    )
    rows = []
    for r in sorted(records, key=lambda r: (r.pod, r.priority, r.key)):
        row = {name: getattr(r, name) for name in TERRITORY_FIELDS}
        row["has_accounts"] = r.pk in listed
        rows.append(row)
    return rows


def territory_export(*, engagement: Engagement) -> tuple[list[str], list[list[Any]]]:

    rows = territory_rows(engagement=engagement)
    return salesforce.territory_header(), [salesforce.territory_row(r) for r in rows]


def override_export(*, engagement: Engagement) -> tuple[list[str], list[list[Any]]]:

    rows = [
        [o.external_id, o.domain, o.territory_key, o.owner, o.note, "true" if o.active else "false"]
        for o in engagement.named_overrides.order_by("pk")
    ]
    return list(salesforce.OVERRIDE_HEADER), rows


def account_list_export(*, engagement: Engagement) -> tuple[list[str], list[list[Any]]]:

    records = territory_records_live(engagement=engagement, as_of=timezone.localdate())
    rows = TerritoryAccount.objects.filter(territory__in=[r.pk for r in records]).order_by(
        "territory__key", "external_id"
    )
    return list(salesforce.ACCOUNT_LIST_HEADER), [
        [external_id, key] for external_id, key in rows.values_list("external_id", "territory__key")
    ]


def tech_spec(*, engagement: Engagement) -> dict[str, Any]:
    """The tech spec as plain data: object schema, evaluation order, edge-case rules, build
    sequence (the handoff package renders it as the Tech Spec document)."""

    row = routing_settings_get(engagement=engagement)
    config = routing_config(engagement=engagement, settings_row=row)
    records = territory_records_live(engagement=engagement, as_of=config.as_of)
    spec = salesforce.tech_spec(
        config=config,
        cuts=row.hierarchy.get("cuts", []),
        territories=len(records),
        overrides=len(config.overrides),
        listed_accounts=TerritoryAccount.objects.filter(
            territory__in=[r.pk for r in records]
        ).count(),
    )
    spec["source"] = {
        "run_id": row.source_run_id,
        "approved_at": row.source_approved_at.isoformat() if row.source_approved_at else None,
        "approved_by": row.source_approved_by,
        "generated_at": row.generated_at.isoformat() if row.generated_at else None,
    }
    return spec


# --- QA suite -------------------------------------------------------------------------------------

QA_SUBJECT = "engineering_qa"
QA_EXPECTATIONS = (
    "expect_territory",
    "expect_owner",
    "expect_segment",
    "expect_unit",
    "expect_fallback",
)


@dataclass(frozen=True)
class QAGenerated:
    added: int
    kept_edited: int
    removed: int


@transaction.atomic
def qa_generate(*, engagement: Engagement, actor: User | None) -> QAGenerated:
    """(Re)generate the QA cases from the territory object. Cases edited by hand and cases
    added by hand are kept; the other generated cases are replaced."""

    config = routing_config(engagement=engagement)
    specs = qa.generate(config)
    edited = set(
        engagement.qa_cases.filter(edited=True)
        .exclude(generated_key="")
        .values_list("generated_key", flat=True)
    )
    removed, _ = engagement.qa_cases.filter(edited=False).exclude(generated_key="").delete()
    fresh = [s for s in specs if s.key not in edited]
    QACase.objects.bulk_create(
        [
            QACase(
                engagement=engagement,
                category=s.category,
                name=s.name[:200],
                record=s.record,
                expect_territory=s.expect_territory,
                expect_owner=s.expect_owner,
                expect_segment=s.expect_segment,
                expect_unit=s.expect_unit,
                expect_fallback=s.expect_fallback,
                setup=s.setup,
                generated_key=s.key[:200],
                position=(i + 1) * 10,
            )
            for i, s in enumerate(specs)
            if s.key not in edited
        ]
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="routing.qa_generated",
        summary=f"QA suite generated: {len(fresh)} cases"
        + (f", {len(edited)} edited cases kept" if edited else ""),
    )
    return QAGenerated(len(fresh), len(edited), removed)


def qa_case_save(*, case, values: Mapping[str, Any], actor: User | None):
    """Save a case edited (or added) by hand; a generated case becomes "edited" and is kept
    when the suite is regenerated."""

    creating = case.pk is None
    for name, value in values.items():
        setattr(case, name, value)
    if not creating and case.generated_key:
        case.edited = True
    if creating:
        last = QACase.objects.filter(engagement=case.engagement).order_by("-position").first()
        case.position = (last.position if last else 0) + 10
    case.save()
    activity_record(
        engagement=case.engagement,
        actor=actor,
        verb="routing.qa_case_saved",
        summary=f"QA case {'added' if creating else 'edited'}: {case.name}",
        data={"case": case.pk},
    )
    return case


def _team_update_decision(engagement: Engagement, case) -> tuple[engine.Decision, str]:
    """Apply the case's team change through the real edit path, route through the real
    (cached) configuration path, then roll the change back."""
    setup = case.setup or {}
    key, role, name = setup.get("territory", ""), setup.get("role", "ae"), setup.get("name", "")
    if role not in engine.TEAM_ROLES or not key or not name:
        raise ValidationError("A team-update case needs territory, role and name in its setup.")
    record = next(
        (
            r
            for r in territory_records_live(engagement=engagement, as_of=timezone.localdate())
            if r.key == key
        ),
        None,
    )
    if record is None:
        raise ValidationError(f"No territory {key} is effective today.")
    before = getattr(record, role)
    with transaction.atomic():
        territory_save(
            engagement=engagement, territory=record, values={role: name}, accounts=None, actor=None
        )
        decision = engine.route_record(case.record, routing_config(engagement=engagement))
        transaction.set_rollback(True)
    return decision, before


def qa_run(
    *, engagement: Engagement, user: User | None, job=None, progress: Progress = _no_progress
):
    """Run every case against the territory object as it stands; store the run (one per job:
    re-running the job replaces its run)."""

    row = routing_settings_get(engagement=engagement)
    config = routing_config(engagement=engagement, settings_row=row)
    cases = list(engagement.qa_cases.all())
    results = []
    for i, case in enumerate(cases):
        expect = {name: getattr(case, name) for name in QA_EXPECTATIONS}
        note = ""
        try:
            if case.category == case.Category.TEAM_UPDATE:
                decision, before = _team_update_decision(engagement, case)
                note = f"AE before the change: {before or '(none)'}"
            else:
                decision = engine.route_record(case.record, config)
        except ValidationError as exc:
            results.append(
                {
                    "case": case.pk,
                    "category": case.category,
                    "name": case.name,
                    "passed": False,
                    "failures": exc.messages,
                    "expected": expect,
                    "actual": {},
                    "trace": [],
                    "note": "",
                }
            )
            continue
        outcome = qa.check(decision, expect)
        results.append(
            {
                "case": case.pk,
                "category": case.category,
                "name": case.name,
                "passed": outcome.passed,
                "failures": list(outcome.failures),
                "expected": expect,
                "actual": outcome.actual,
                "trace": [] if outcome.passed else [s.as_dict() for s in decision.trace],
                "summary": decision.summary(),
                "note": note,
            }
        )
        if i % 50 == 0:
            progress(100 * i / max(len(cases), 1), f"Case {i + 1:,} of {len(cases):,}")
    passed = sum(1 for r in results if r["passed"])
    with transaction.atomic():
        run = QARun.objects.filter(job=job).first() if job is not None else None
        run = run or QARun(engagement=engagement, job=job)
        run.created_by = _actor(user)
        run.created_at = timezone.now()
        run.config_version = config.version
        run.total = len(results)
        run.passed = passed
        run.results = results
        run.save()
        activity_record(
            engagement=engagement,
            actor=user,
            verb="routing.qa_run",
            summary=f"QA suite run: {passed} of {len(results)} cases passed",
            data={"run": run.pk},
        )
    return run


def qa_latest(*, engagement: Engagement) -> dict[str, Any] | None:
    """The latest QA run as plain data (for the handoff package's Test Documentation)."""

    run = QARun.objects.filter(engagement=engagement).first()
    if run is None:
        return None
    labels = dict(QACase.Category.choices)
    by_category: dict[str, dict[str, int]] = {}
    for result in run.results:
        bucket = by_category.setdefault(
            labels.get(result["category"], result["category"]), {"passed": 0, "total": 0}
        )
        bucket["total"] += 1
        bucket["passed"] += int(result["passed"])
    return {
        "run": run.pk,
        "at": run.created_at.isoformat(),
        "config_version": run.config_version,
        "current": run.config_version == routing_settings_get(engagement=engagement).version,
        "total": run.total,
        "passed": run.passed,
        "failed": run.failed,
        "by_category": by_category,
        "cases": [
            {
                "category": labels.get(r["category"], r["category"]),
                "name": r["name"],
                "passed": r["passed"],
                "failures": r["failures"],
                "expected": {k: v for k, v in r["expected"].items() if v},
                "actual": r["actual"],
            }
            for r in run.results
        ],
    }


def qa_signoff_text(*, engagement: Engagement) -> str:
    latest = qa_latest(engagement=engagement)
    if latest is None:
        raise ValidationError("Run the QA suite first.")
    if not latest["current"]:
        raise ValidationError(
            "The territory object changed since the last QA run: run the suite again first."
        )
    if latest["failed"]:
        raise ValidationError(
            f"{latest['failed']} QA case(s) fail: every case must pass before the sign-off."
        )
    row = routing_settings_get(engagement=engagement)
    # The run's number within the engagement (what its pages show), not its database id.
    run_number = (
        BalancingRun.objects.filter(pk=row.source_run_id).values_list("number", flat=True).first()
        if row.source_run_id
        else None
    )
    lines = [
        f"Engineering QA — routing for {engagement.name}",
        "",
        f"Territory object version {latest['config_version']}"
        + (f", generated from balancing run {run_number}" if run_number else "")
        + ".",
        # No run id here: re-running the same suite on the same object version with the same
        # results is the same statement, and must not ask the customer to sign again.
        f"QA suite: all {latest['total']} test cases passed.",
        "",
    ]
    for category, counts in latest["by_category"].items():
        lines.append(f"{category}: {counts['passed']} of {counts['total']} passed")
    lines += ["", "Cases:"]
    for case in latest["cases"]:
        expected = ", ".join(
            f"{k.removeprefix('expect_')} {v}" for k, v in case["expected"].items()
        )
        lines.append(
            f"- [{case['category']}] {case['name']} — expected {expected or 'an owner'}: passed"
        )
    lines += [
        "",
        "By approving, the customer confirms the built routing matches the tech spec, all test "
        "cases pass, and the customer has tested it.",
    ]
    return "\n".join(lines)


def qa_publish(*, engagement: Engagement, actor: User | None):
    """Publish the QA results for the customer's engineering sign-off (subject engineering_qa)."""

    return signoff_publish(
        engagement=engagement,
        subject=QA_SUBJECT,
        title="Engineering QA: routing tested and approved",
        text=qa_signoff_text(engagement=engagement),
        actor=actor,
    )


# --- Bulk routing of files -----------------------------------------------------------------------


def _read_upload_table(path, name: str):
    """(layout, text frame) of a stored CSV/XLSX through the project's safe reader."""

    table, _ = ingest.inspect_file(
        path,
        name=name,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES,
        preview_rows=1,
    )
    raw = ingest.read_table(path, table, max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES)
    return table, raw


def route_table(
    *, path, name: str, config: engine.RoutingConfig, progress: Progress = _no_progress
) -> tuple[list[str], list[list[Any]], dict[str, Any], str]:
    """Route every row of a CSV/XLSX file: (header, rows, summary, format of the file).

    Raises ValidationError when the file is unreadable or has no routing column.
    """

    try:
        table, raw = _read_upload_table(path, name)
    except ingest.FileRejected as exc:
        raise ValidationError(str(exc)) from exc
    mapping = ingest.auto_map(table.headers)
    if not tables.routing_fields_mapped(mapping):
        raise ValidationError(
            "No column of the file is a routing field: name at least one of "
            + ", ".join(ingest.FIELD_LABELS[f] for f in tables.ROUTING_FIELDS)
            + f" (found: {', '.join(table.headers)})."
        )
    progress(20, f"Routing {len(raw):,} rows")
    records = tables.records_from_table(raw, mapping)
    routed = engine.route_frame(records, config)
    progress(70, "Writing the result")
    header, rows = tables.result_table(raw, routed)
    summary = tables.route_summary(routed)
    summary["mapping"] = {h: t for h, t in mapping.items() if t in tables.ROUTING_FIELDS}
    return header, rows, summary, table.format


def batch_create(*, engagement: Engagement, upload, user: User | None):
    """Store an uploaded file to route in bulk (checked readable and routable first)."""

    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"The file is {megabytes(upload.size)} MB, over the "
            f"{megabytes(settings.MAX_UPLOAD_BYTES)} MB upload limit."
        )

    batch = RoutingBatch(
        engagement=engagement,
        original_name=Path(upload.name or "upload").name[:255],
        created_by=_actor(user),
    )
    batch.file.save(batch.original_name, upload, save=False)
    try:
        table, _ = ingest.inspect_file(
            batch.file.path,
            name=batch.original_name,
            max_bytes=settings.MAX_UPLOAD_BYTES,
            max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES,
            preview_rows=1,
        )
        mapping = ingest.auto_map(table.headers)
        if not tables.routing_fields_mapped(mapping):
            raise ingest.FileRejected(
                "No column is a routing field: name at least one of "
                + ", ".join(ingest.FIELD_LABELS[f] for f in tables.ROUTING_FIELDS)
                + f" (the file has: {', '.join(table.headers)})."
            )
    except ingest.FileRejected as exc:
        batch.file.delete(save=False)
        raise ValidationError(str(exc)) from exc
    batch.layout = table.as_dict()
    batch.mapping = mapping
    batch.save()
    activity_record(
        engagement=engagement,
        actor=user,
        verb="routing.batch_uploaded",
        summary=f"Uploaded {batch.original_name} to route in bulk",
        data={"batch": batch.pk},
    )
    return batch


def batch_start(*, batch, user: User | None):
    from engagements.tracking import job_start
    from routing import jobs

    with transaction.atomic():
        job = job_start(
            engagement=batch.engagement,
            func=jobs.batch_route,
            title=f"Route {batch.original_name}",
            user=user,
            params={"batch": batch.pk},
            dedupe_key=f"routing.batch.{batch.pk}",
        )
        type(batch).objects.filter(pk=batch.pk).update(job=job)
        batch.job = job
    return job


def result_write(path, header, rows, fmt: str) -> None:

    if fmt == "xlsx":
        xlsx_write(path, [("Routed", header, rows)])
    else:
        csv_write(path, header, rows)


def batch_run(*, batch, progress: Progress = _no_progress):
    """Route the batch's file and store the result file (replacing an earlier result)."""

    row = routing_settings_get(engagement=batch.engagement)
    config = routing_config(engagement=batch.engagement, settings_row=row)
    header, rows, summary, fmt = route_table(
        path=batch.file.path, name=batch.original_name, config=config, progress=progress
    )
    suffix = ".xlsx" if fmt == "xlsx" else ".csv"
    stem = Path(batch.original_name).stem[:80]
    folder = Path(settings.MEDIA_ROOT) / "routing" / str(batch.engagement_id) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f"batch-{batch.pk}{suffix}"
    result_write(scratch, header, rows, fmt)
    with transaction.atomic():
        if batch.result_file:
            batch.result_file.delete(save=False)
        with scratch.open("rb") as handle:
            batch.result_file.save(f"{stem}-routed{suffix}", File(handle), save=False)
        batch.rows = len(rows)
        batch.summary = summary
        batch.config_version = config.version
        batch.save(update_fields=["result_file", "rows", "summary", "config_version"])
    scratch.unlink(missing_ok=True)
    return batch


# --- Routing accuracy audit ----------------------------------------------------------------------


def audit_create(
    *,
    engagement: Engagement,
    upload,
    user: User | None,
    rollout_date: date | None,
    sample_size: int = 50,
):
    """Store a CRM export to audit; it needs an owner column and a created-date column."""

    rollout = rollout_date or routing_settings_get(engagement=engagement).rollout_date
    if rollout is None:
        raise ValidationError(
            {"rollout_date": "Set the rollout date: the audit samples accounts created since."}
        )
    if sample_size < RoutingAudit.MIN_SAMPLE:
        raise ValidationError(
            {"sample_size": f"Sample at least {RoutingAudit.MIN_SAMPLE} accounts (seed 000)."}
        )
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(
            {
                "file": f"The file is {megabytes(upload.size)} MB, over the {megabytes(settings.MAX_UPLOAD_BYTES)} MB upload limit."
            }
        )
    audit = RoutingAudit(
        engagement=engagement,
        original_name=Path(upload.name or "upload").name[:255],
        rollout_date=rollout,
        sample_size=sample_size,
        seed=int(timezone.now().timestamp()) % 1_000_000,
        created_by=_actor(user),
    )
    audit.file.save(audit.original_name, upload, save=False)
    try:
        table, _ = ingest.inspect_file(
            audit.file.path,
            name=audit.original_name,
            max_bytes=settings.MAX_UPLOAD_BYTES,
            max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES,
            preview_rows=1,
        )
        mapping = ingest.auto_map(table.headers)
        created = tables.find_created_column(table.headers)
        problems = []
        if "current_owner" not in mapping.values():
            problems.append("an owner column (e.g. “Account Owner”)")
        if created is None:
            problems.append("a created-date column (e.g. “Created Date”)")
        if not tables.routing_fields_mapped(mapping):
            problems.append("routing columns (state, postal code, revenue …)")
        if problems:
            raise ingest.FileRejected(
                "The CRM export needs "
                + " and ".join(problems)
                + f"; its columns are: {', '.join(table.headers)}."
            )
    except ingest.FileRejected as exc:
        audit.file.delete(save=False)
        raise ValidationError({"file": str(exc)}) from exc
    audit.layout = table.as_dict()
    audit.mapping = mapping
    audit.created_column = created
    audit.save()
    activity_record(
        engagement=engagement,
        actor=user,
        verb="routing.audit_uploaded",
        summary=f"Uploaded {audit.original_name} for a routing accuracy audit",
        data={"audit": audit.pk},
    )
    return audit


def audit_start(*, audit, user: User | None):
    from engagements.tracking import job_start
    from routing import jobs

    with transaction.atomic():
        job = job_start(
            engagement=audit.engagement,
            func=jobs.audit_run,
            title=f"Routing accuracy audit of {audit.original_name}",
            user=user,
            params={"audit": audit.pk},
            dedupe_key=f"routing.audit.{audit.pk}",
        )
        type(audit).objects.filter(pk=audit.pk).update(job=job)
        audit.job = job
    return job


def audit_run(*, audit, progress: Progress = _no_progress):
    """Compare the CRM owners of a sample with the engine's answers; store the outcome
    (replacing an earlier outcome of the same audit)."""

    progress(10, "Reading the CRM export")
    try:
        _, raw = _read_upload_table(audit.file.path, audit.original_name)
    except ingest.FileRejected as exc:
        raise ValidationError(str(exc)) from exc
    records = tables.records_from_table(raw, audit.mapping)
    created = tables.parse_dates(raw[audit.created_column].to_numpy())
    config = routing_config(engagement=audit.engagement)
    progress(40, "Routing the sample")
    outcome = tables.audit(
        records,
        created,
        config,
        rollout=audit.rollout_date,
        sample_size=audit.sample_size,
        seed=audit.seed,
    )
    with transaction.atomic():
        audit.rows = outcome.rows
        audit.eligible = outcome.eligible
        audit.compared = outcome.compared
        audit.matches = outcome.matches
        audit.accuracy = outcome.accuracy
        audit.mismatches = outcome.mismatches
        audit.notes = outcome.notes
        audit.config_version = config.version
        audit.finished_at = timezone.now()
        audit.save()
        if audit.below_threshold:
            activity_record(
                engagement=audit.engagement,
                actor=None,
                verb="routing.accuracy_below_threshold",
                summary=(
                    f"Routing accuracy {audit.accuracy:.1f} % is below {audit.THRESHOLD:.0f} %: "
                    "refinement trigger"
                ),
                data={"audit": audit.pk, "accuracy": audit.accuracy},
            )
        if audit.conclusive:
            # Seed 000, 3c: "sample 50+ accounts created since rollout, verify correct
            # assignment" — this audit did.
            checklist_mark_event(
                engagement=audit.engagement,
                event="accuracy_checked",
                actor=audit.created_by,
                note=f"Routing audit {audit.pk}: {audit.matches} of {audit.compared} correct",
            )
    return audit


def routing_accuracy_latest(*, engagement: Engagement) -> float | None:
    """Accuracy (per cent) of the latest finished audit, or None; the refinement trigger
    "routing accuracy below 90 %" reads it."""

    row = (
        RoutingAudit.objects.filter(engagement=engagement, finished_at__isnull=False)
        .exclude(accuracy__isnull=True)
        .order_by("-finished_at", "-pk")
        .values_list("accuracy", flat=True)
        .first()
    )
    return row


def routing_accuracy_checks(*, engagement: Engagement) -> list[tuple[date, int, int]]:
    """Every finished audit as (day, accounts compared, matching), oldest first: the shape of
    the handoff app's accuracy samples, so the refinement trigger can read audits as checks."""
    rows = (
        RoutingAudit.objects.filter(engagement=engagement, finished_at__isnull=False)
        .exclude(accuracy__isnull=True)
        .order_by("finished_at", "pk")
        .values_list("finished_at", "compared", "matches")
    )
    return [(timezone.localdate(at), compared, matches) for at, compared, matches in rows]
