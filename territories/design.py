"""Territory design services: the segmentation hierarchy, balancing runs (job, results, manual
edits, approval and sign-off), the approved map, the growth-ready plan, quota and equity, and
the drift check. Views and jobs call these; the algorithms live in the pure modules
``hierarchy``, ``runs``, ``planning`` and the ``balancing`` engine.

Plain-data entry points other apps use (handoff documents, routing, triggers):
``run_report(run=)``, ``map_layers_data(run=)``, ``growth_plan(run=)``, ``equity_report(run=)``,
``hierarchy_diagram(engagement=)``, ``drift_check(engagement=)`` and, in ``territories.services``,
``approved_map(engagement=)``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.utils import timezone

from engagements.models import Assumption, Engagement, Job, Meeting, SignoffVersion, User
from engagements.services import (
    activity_record,
    assumption_register,
    signoff_latest,
    signoff_publish,
    territory_design_blockers,
)
from territories import geo, runs
from territories.balancing import BalancingError, metrics_for
from territories.hierarchy import (
    HierarchyError,
    HierarchySpec,
    PodSpec,
    default_spec,
    pod_for_seat,
    split_proposals,
)
from territories.models import (
    ACCOUNT_CARRYING_ROLES,
    Account,
    BalancingRun,
    Hierarchy,
    PlannedHire,
    Rep,
    RunAtom,
    RunEdit,
    RunMap,
    RunPod,
    RunTerritory,
    ValuationSummary,
)

Progress = Callable[[float, str], None]


def _no_progress(progress: float, message: str = "") -> None:
    return None


# --- The hierarchy --------------------------------------------------------------------------------

CUT_ORDER_KEY = "hierarchy.cut_order"
PODS_KEY = "hierarchy.pods"
GRANULARITY_KEY = "geography.split_states"
HIERARCHY_SUBJECT = "hierarchy"
MAP_SUBJECT = "territory_map"


def roster(*, engagement: Engagement) -> list[Rep]:
    """The active, account-carrying members of the team: the people who can hold a seat."""
    return [
        r
        for r in Rep.objects.filter(engagement=engagement, active=True).order_by("name")
        if r.role in ACCOUNT_CARRYING_ROLES
    ]


def _scheme(engagement: Engagement):
    from territories import services

    return services.model_inputs(engagement=engagement)["scheme"]


def hierarchy_get(*, engagement: Engagement) -> Hierarchy:
    """The engagement's hierarchy; an unsaved starting proposal when none was saved yet (one pod
    per size segment, seats from the roster — see ``hierarchy.default_spec``)."""
    row = Hierarchy.objects.filter(engagement=engagement).first()
    if row is not None:
        return row
    spec = default_spec(
        scheme=_scheme(engagement),
        reps=[(r.name, r.segment, r.home_state) for r in roster(engagement=engagement)],
    )
    return Hierarchy(engagement=engagement, spec=spec.to_json())


def hierarchy_spec(*, engagement: Engagement, hierarchy: Hierarchy | None = None) -> HierarchySpec:
    """The hierarchy as it applies now: its pods and cuts, with the segment bands in use
    (the segment definition, corrections from meetings included)."""
    hierarchy = hierarchy or hierarchy_get(engagement=engagement)
    spec = HierarchySpec.from_json(hierarchy.spec)
    scheme = _scheme(engagement)
    return replace(spec, segment_basis=scheme.basis, bands=scheme.bands)


def _named_rules(text_or_rows: Any) -> list[dict[str, str]]:
    """Named-account rules from the editor's text ("external id or domain, owner" per line) or
    from stored rows; ValidationError naming the line."""
    if isinstance(text_or_rows, str):
        rows = []
        for number, line in enumerate(text_or_rows.splitlines(), start=1):
            if not line.strip():
                continue
            match, sep, owner = line.partition(",")
            if not sep or not match.strip():
                raise ValidationError(
                    f"Named accounts, line {number}: write “external id or domain, owner”."
                )
            rows.append({"match": match.strip()[:200], "owner": owner.strip()[:150]})
        return rows
    return [{"match": str(r["match"]), "owner": str(r.get("owner", ""))} for r in text_or_rows]


def named_rules_text(rows: Sequence[Mapping[str, str]]) -> str:
    return "\n".join(f"{r['match']}, {r['owner']}" for r in rows)


def _check_people(spec: HierarchySpec, team: Sequence[Rep], named: Sequence[Mapping[str, str]]):
    names = {r.name for r in team}
    problems = []
    seen: dict[str, str] = {}
    for pod in spec.pods:
        for rep in pod.reps:
            if rep not in names:
                problems.append(
                    f"Pod “{pod.label}”: {rep} is not an active account executive or account "
                    "manager on the team roster."
                )
            elif rep in seen:
                problems.append(f"{rep} holds a seat in both “{seen[rep]}” and “{pod.label}”.")
            seen.setdefault(rep, pod.label)
    for row in named:
        if row["owner"] and row["owner"] not in names:
            problems.append(
                f"Named account {row['match']}: the owner “{row['owner']}” is not on the team roster."
            )
    return problems


def _register_hierarchy(engagement: Engagement, spec: HierarchySpec, actor: User | None) -> None:
    """The hierarchy's cut order, pods and geographic granularity are assumptions (SPEC §3): a
    change sends the changed one back to ASSUMED."""
    C = Assumption.Category
    cuts = spec.describe()[0]
    assumption_register(
        engagement=engagement,
        key=CUT_ORDER_KEY,
        category=C.HIERARCHY,
        statement=cuts,
        value=list(spec.cuts),
        source="territories",
        actor=actor,
    )
    assumption_register(
        engagement=engagement,
        key=PODS_KEY,
        category=C.HIERARCHY,
        statement="Pods: "
        + "; ".join(
            f"{p.label} ({p.criteria_text()}) {p.seats} seat{'s' if p.seats != 1 else ''}"
            for p in spec.pods
        ),
        value=[
            {"key": p.key, "seats": p.seats, "atom": p.atom, "criteria": p.criteria_text()}
            for p in spec.pods
        ],
        source="territories",
        actor=actor,
    )
    splits = {p.key: p.split_states for p in spec.pods if p.atom == "unit" and p.split_states}
    if splits:
        parts = []
        for pod in spec.pods:
            for state, granularity in splits.get(pod.key, {}).items():
                parts.append(f"{geo.STATE_NAME[state]} by {granularity} ({pod.label})")
        statement = "Split below state level: " + "; ".join(parts)
    else:
        statement = "No state is split below state level"
    assumption_register(
        engagement=engagement,
        key=GRANULARITY_KEY,
        category=C.GEOGRAPHY,
        statement=_statement(statement),
        value=splits,
        source="territories",
        actor=actor,
    )


def _statement(text: str) -> str:
    return text if len(text) <= 500 else text[:499] + "…"


@transaction.atomic
def hierarchy_save(
    *,
    engagement: Engagement,
    spec: HierarchySpec,
    named_accounts: Any = None,
    split_share: float | None = None,
    actor: User | None,
    summary: str = "Hierarchy saved",
) -> Hierarchy:
    """Save the hierarchy after checking it (every problem in one ValidationError), register
    its assumptions, and log it."""
    spec = replace(spec, segment_basis=_scheme(engagement).basis, bands=_scheme(engagement).bands)
    problems = spec.problems()
    row = Hierarchy.objects.select_for_update().filter(engagement=engagement).first()
    row = row or Hierarchy(engagement=engagement)
    named = _named_rules(named_accounts) if named_accounts is not None else row.named_accounts
    problems += _check_people(spec, roster(engagement=engagement), named)
    if split_share is not None and not 0.05 <= split_share <= 5:
        problems.append("The split share must be between 5 % and 500 % of a territory's target.")
    if problems:
        raise ValidationError(problems)
    row.spec = spec.to_json()
    row.named_accounts = named
    if split_share is not None:
        row.split_share = split_share
    row.updated_at = timezone.now()
    row.updated_by = actor if actor is not None and actor.is_authenticated else None
    row.save()
    _register_hierarchy(engagement, spec, actor)
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="hierarchy.saved",
        summary=f"{summary}: {len(spec.pods)} pods, {spec.seats} seats",
        data={"pods": [p.key for p in spec.pods]},
    )
    return row


def hierarchy_seats_from_roster(*, engagement: Engagement, actor: User | None) -> Hierarchy:
    """Give every pod the roster members whose segment and home state it takes (first matching
    pod), in name order; a pod keeps at least its current number of seats."""
    hierarchy = hierarchy_get(engagement=engagement)
    spec = hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    members: dict[str, list[str]] = {p.key: [] for p in spec.pods}
    unplaced = []
    for rep in roster(engagement=engagement):
        pod = pod_for_seat(spec, segment=rep.segment, state=rep.home_state)
        if pod is None:
            unplaced.append(rep.name)
        else:
            members[pod.key].append(rep.name)
    pods = tuple(
        replace(p, reps=tuple(members[p.key]), seats=max(len(members[p.key]), 1)) for p in spec.pods
    )
    note = f"; no pod for {', '.join(unplaced)}" if unplaced else ""
    return hierarchy_save(
        engagement=engagement,
        spec=replace(spec, pods=pods),
        actor=actor,
        summary="Seats taken from the roster" + note,
    )


def split_accept(
    *, engagement: Engagement, pod_key: str, state: str, granularity: str, actor: User | None
) -> Hierarchy:
    """Accept a split proposal: cut ``state`` in pod ``pod_key`` to ``granularity``. The
    granularity assumption goes back to ASSUMED (it changed), for the customer to confirm."""
    if granularity not in geo.GRANULARITIES:
        raise ValidationError(f"Granularity must be one of {', '.join(geo.GRANULARITIES)}.")
    if state not in geo.STATE_FIPS:
        raise ValidationError(f"{state!r} is not a state abbreviation.")
    hierarchy = hierarchy_get(engagement=engagement)
    spec = hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    try:
        pod = spec.pod(pod_key)
    except KeyError:
        raise ValidationError(f"There is no pod {pod_key!r}.") from None
    if pod.atom != "unit":
        raise ValidationError(
            f"Pod “{pod.label}” is made of accounts: it has no geography to split."
        )
    return hierarchy_save(
        engagement=engagement,
        spec=spec.with_granularity(pod_key, state, granularity),
        actor=actor,
        summary=f"{geo.STATE_NAME[state]} split by {granularity} in {pod.label}",
    )


def hierarchy_text(*, engagement: Engagement, hierarchy: Hierarchy | None = None) -> str:
    """The exact text the customer signs for the hierarchy (seed 000: cut order, geographic
    granularity, named accounts)."""
    hierarchy = hierarchy or hierarchy_get(engagement=engagement)
    spec = hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    field_named = (
        Account.objects.filter(engagement=engagement).exclude(named_account_owner="").count()
    )
    lines = ["Segmentation hierarchy", "", *spec.describe(), ""]
    lines.append(
        f"Named accounts: {field_named:,} accounts carry a named-account owner in the CRM"
        + (
            f"; {len(hierarchy.named_accounts)} more by list ("
            + runs.digest_list(
                [f"{r['match']} → {r['owner'] or 'not named'}" for r in hierarchy.named_accounts], 8
            )
            + ")"
            if hierarchy.named_accounts
            else ""
        )
        + ". They go to their owner's territory before any other cut."
    )
    return "\n".join(lines)


def hierarchy_publish(*, engagement: Engagement, actor: User | None) -> SignoffVersion:
    """Publish the hierarchy as it stands for the customer's sign-off (no new version when the
    text did not change)."""
    hierarchy = Hierarchy.objects.filter(engagement=engagement).first()
    if hierarchy is None:
        raise ValidationError("Save the hierarchy before publishing it.")
    problems = hierarchy_spec(engagement=engagement, hierarchy=hierarchy).problems()
    if problems:
        raise ValidationError(problems)
    return signoff_publish(
        engagement=engagement,
        subject=HIERARCHY_SUBJECT,
        title="Segmentation hierarchy",
        text=hierarchy_text(engagement=engagement, hierarchy=hierarchy),
        actor=actor,
    )


def hierarchy_changed(*, engagement: Engagement, hierarchy: Hierarchy) -> bool | None:
    latest = signoff_latest(engagement=engagement, subject=HIERARCHY_SUBJECT)
    if latest is None:
        return None
    return latest.text != hierarchy_text(engagement=engagement, hierarchy=hierarchy)


@dataclass(frozen=True)
class PodPreview:
    pod: PodSpec
    accounts: int
    value: float

    @property
    def target(self) -> float:
        return self.value / self.pod.seats if self.pod.seats else 0.0

    @property
    def vacant(self) -> int:
        return max(0, self.pod.seats - len(self.pod.reps))


PREVIEW_FIELDS = (
    "external_id",
    "domain",
    "named_account_owner",
    "annual_revenue",
    "employees",
    "state",
    "postal_code",
    "city",
    "industry",
    "value",
)


def hierarchy_overview(
    *, engagement: Engagement, spec: HierarchySpec, named: Sequence[Mapping[str, str]], share: float
) -> dict[str, Any]:
    """What the editor shows: accounts and value per pod, the per-territory target, the accounts
    no pod takes, the named accounts, and the split proposals.

    The figures are what a run of ``spec`` would use (``runs.hierarchy_preview``, the rules of
    ``runs.build_inputs``): segments from the spec's bands (not the segments stored at the last
    valuation), the state from the ZIP code where the state field is blank, named accounts in
    their owner's pod. One query reading ten columns of every account (about 0.3 s per 100,000
    accounts on PostgreSQL), then vectorised work."""
    rows = Account.objects.filter(engagement=engagement).order_by("pk").values_list(*PREVIEW_FIELDS)
    frame = pd.DataFrame.from_records(list(rows), columns=list(PREVIEW_FIELDS))
    preview = runs.hierarchy_preview(spec, frame, named_rules=named)
    previews = [
        PodPreview(p, preview["accounts"][p.key], preview["value"][p.key]) for p in spec.pods
    ]
    try:
        proposals = split_proposals(
            spec, preview["unit_values"], share=share, pod_values=preview["value"]
        )
    except HierarchyError:
        proposals = []
    return {
        "pods": previews,
        "unassigned": preview["unassigned"],
        "proposals": proposals,
        "named": preview["named"],
        "named_unplaced": preview["named_unplaced"],
    }


# --- Balancing runs: start and execute -----------------------------------------------------------


@dataclass(frozen=True)
class RunParams:
    """What the architect chooses for a run (validated by :meth:`problems`)."""

    tolerance: float = 0.10
    max_share: float | None = 0.25
    seed: int = 0
    continuity: bool = True
    contiguous: bool = True
    time_limit: float = 30.0
    base_run: int | None = None

    def problems(self) -> list[str]:
        problems = []
        if not 0.01 <= self.tolerance <= 0.5:
            problems.append("Tolerance must be between 1 % and 50 %.")
        if self.max_share is not None and not 0.05 <= self.max_share <= 1:
            problems.append("The concentration limit must be between 5 % and 100 %.")
        if not 0 <= self.seed <= 2**31 - 1:
            problems.append("The seed must be a whole number from 0.")
        if not 5 <= self.time_limit <= 600:
            problems.append("The time limit must be between 5 and 600 seconds per pod.")
        return problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "tolerance": self.tolerance,
            "max_share": self.max_share,
            "seed": self.seed,
            "continuity": self.continuity,
            "contiguous": self.contiguous,
            "time_limit": self.time_limit,
            "base_run": self.base_run,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunParams:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def data_version(*, engagement: Engagement) -> str:
    """A short digest of what a run reads: the accounts (count, last change), the valuation
    and the roster. Two queries."""
    agg = Account.objects.filter(engagement=engagement).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    valued = (
        ValuationSummary.objects.filter(engagement=engagement)
        .values_list("computed_at", flat=True)
        .first()
    )
    team = list(
        Rep.objects.filter(engagement=engagement)
        .order_by("pk")
        .values_list("name", "role", "segment", "active", "home_state")
    )
    blob = json.dumps([agg["n"], str(agg["last"]), str(valued), team], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def balancing_run_start(
    *,
    engagement: Engagement,
    user: User | None,
    params: RunParams,
    name: str = "",
) -> BalancingRun:
    """Start a run of the saved hierarchy over the current accounts and roster, as a job.

    Refused (ValidationError listing every reason) while territory design is blocked — seed
    000: "We cannot proceed with territory design until segment definitions and valuation
    approaches are aligned" — or while the hierarchy has problems.
    """
    from engagements.tracking import job_start
    from territories import jobs

    problems = [b.message for b in territory_design_blockers(engagement=engagement)]
    if problems:
        raise ValidationError(["Territory design cannot start yet: " + "; ".join(problems) + "."])
    hierarchy = Hierarchy.objects.filter(engagement=engagement).first()
    if hierarchy is None:
        raise ValidationError("Save the hierarchy before balancing.")
    spec = hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    problems = spec.problems() + params.problems()
    if (
        params.base_run is not None
        and not engagement.balancing_runs.filter(
            pk=params.base_run, status=BalancingRun.Status.SUCCEEDED
        ).exists()
    ):
        problems.append("The run to start from is not a finished run of this engagement.")
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        Engagement.objects.select_for_update().filter(pk=engagement.pk).values_list("pk").first()
        number = (engagement.balancing_runs.aggregate(m=Max("number"))["m"] or 0) + 1
        run = BalancingRun.objects.create(
            engagement=engagement,
            number=number,
            name=(name or "").strip()[:120],
            params=params.as_dict(),
            hierarchy=spec.to_json(),
            named_accounts=list(hierarchy.named_accounts),
            created_by=user if user is not None and user.is_authenticated else None,
        )
        run.job = job_start(
            engagement=engagement,
            func=jobs.balancing_run,
            title=f"Balance territories ({run.title})",
            user=user,
            params={"run": run.pk},
        )
        run.save(update_fields=["job"])
    activity_record(
        engagement=engagement,
        actor=user,
        verb="run.started",
        summary=f"{run.title} started: tolerance ±{100 * params.tolerance:g} %, "
        + ("continuity from the current owners" if params.continuity else "greenfield")
        + (f", from run {params.base_run}'s assignment and locks" if params.base_run else ""),
        data={"run": run.pk},
    )
    return run


RUN_FIELDS = (
    "id",
    "external_id",
    "name",
    "domain",
    "industry",
    "employees",
    "annual_revenue",
    "state",
    "city",
    "postal_code",
    "current_owner",
    "named_account_owner",
    "segment",
    "tier",
    "value",
)


def run_frame(*, engagement: Engagement) -> pd.DataFrame:
    """The accounts a run reads, one query."""
    rows = Account.objects.filter(engagement=engagement).order_by("pk").values_list(*RUN_FIELDS)
    return pd.DataFrame.from_records(list(rows), columns=list(RUN_FIELDS))


def _base_assignment(run: BalancingRun, inputs: runs.RunInputs) -> runs.RunInputs:
    """Start from another run: its territories are the owners, its locks stay locked."""
    base = {
        (pod, atom): (index, locked)
        for pod, atom, index, locked in RunAtom.objects.filter(
            run_id=run.params["base_run"]
        ).values_list("pod__key", "atom", "territory__index", "locked")
    }
    pods = []
    for atoms in inputs.pods:
        owner = atoms.owner.copy()
        locked = atoms.locked.copy()
        for i, atom in enumerate(atoms.atom.tolist()):
            if atoms.kind[i] == "named":
                continue
            hit = base.get((atoms.pod.key, atom))
            if hit is not None and hit[0] < atoms.pod.seats:
                owner[i] = hit[0]
                locked[i] = hit[1]
            else:
                owner[i] = -1
        pods.append(replace(atoms, owner=owner, locked=locked))
    return replace(inputs, pods=tuple(pods))


class RunFailed(Exception):
    """A run that cannot complete; the message is for the user."""


def balancing_run_execute(*, run: BalancingRun, progress: Progress = _no_progress) -> BalancingRun:
    """Do the run: load the accounts, build one problem per pod, balance, write the results in
    one transaction (replacing any earlier results of this run), precompute the page.

    ``progress(percent, message)`` is called between steps, outside any transaction. On
    failure the run is marked failed with the reason, whatever it wrote is removed, and the
    exception propagates. A worker killed mid-run is found by ``jobs_sweep``, which does the
    same through ``balancing_run_lost``.
    """
    BalancingRun.objects.filter(pk=run.pk).update(status=BalancingRun.Status.RUNNING, message="")
    run.status = BalancingRun.Status.RUNNING
    try:
        return _execute(run, progress)
    except Exception as exc:
        message = (
            str(exc)
            if isinstance(exc, (RunFailed, runs.RunInputError, BalancingError, HierarchyError))
            else f"{exc.__class__.__name__}: {exc}"
        )
        # Results written before the failure (the maps failed, say) are half a run: removed.
        run.fail(message)
        raise


def balancing_run_lost(job: Job) -> None:
    """The sweep failed a balancing job (its worker died): fail its run and remove any results
    the run had written. Registered with ``engagements.tracking.on_job_lost``."""
    for run in BalancingRun.objects.filter(job=job):
        run.fail(job.error or "The balancing job failed.")


def _execute(run: BalancingRun, progress: Progress) -> BalancingRun:
    engagement = run.engagement
    params = RunParams.from_dict(run.params)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress(2, "Loading the accounts")
    frame = run_frame(engagement=engagement)
    if frame.empty:
        raise RunFailed("There are no accounts to balance: import the account universe first.")
    version = data_version(engagement=engagement)
    timings["load"] = time.perf_counter() - t0
    t = time.perf_counter()
    progress(8, "Cutting the universe into pods and geographic units")
    spec = HierarchySpec.from_json(run.hierarchy).check()
    inputs = runs.build_inputs(
        spec, frame, named_rules=run.named_accounts, segments=spec.segment_labels
    )
    if params.base_run:
        inputs = _base_assignment(run, inputs)
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    total = sum(p.n for p in inputs.pods) or 1
    done = 0
    results = []
    for atoms in inputs.pods:
        base, weight = 15 + 65 * done / total, 65 * atoms.n / total
        label = atoms.pod.label

        def report(fraction: float, message: str, base=base, weight=weight, label=label) -> None:
            progress(base + weight * fraction, f"{label}: {message}")

        try:
            result = runs.balance_pod(
                atoms,
                tolerance=params.tolerance,
                max_share=params.max_share,
                seed=params.seed,
                continuity=params.continuity or params.base_run is not None,
                contiguous=params.contiguous,
                time_limit=params.time_limit,
                progress=report,
            )
        except BalancingError as exc:
            raise RunFailed(f"Pod “{label}”: {exc}") from exc
        results.append(result)
        done += atoms.n
    timings["engine"] = time.perf_counter() - t
    t = time.perf_counter()
    progress(82, f"Writing {sum(p.n for p in inputs.pods):,} atoms")
    _write_results(run, spec, inputs, results, params=params, version=version, timings=timings)
    timings["write"] = time.perf_counter() - t
    t = time.perf_counter()
    progress(95, "Drawing the territory maps")
    maps_refresh(run=run)
    timings["maps"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    summary = {**run.summary, "timings": {k: round(v, 3) for k, v in timings.items()}}
    BalancingRun.objects.filter(pk=run.pk).update(
        status=BalancingRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        seconds=timings["total"],
        summary=summary,
    )
    run.refresh_from_db()
    activity_record(
        engagement=engagement,
        actor=run.created_by,
        verb="run.finished",
        summary=f"{run.title} finished: value within ±{run.metrics.get('value', {}).get('max_dev_pct', 0):.1f} % "
        f"of the pod means, {run.metrics.get('territories', 0)} territories",
        data={"run": run.pk},
    )
    return run


def _colours(spec: HierarchySpec, layers: list[list[str]]) -> dict[str, list[str]]:
    """Territory colours per pod: one palette per map, so neighbours on a map differ; pods
    without a map get their own palette."""
    by_pod = {p.key: p for p in spec.pods}
    colours: dict[str, list[str]] = {}
    for keys in layers:
        palette = geo.territory_palette(sum(by_pod[k].seats for k in keys))
        start = 0
        for key in keys:
            colours[key] = palette[start : start + by_pod[key].seats]
            start += by_pod[key].seats
    for pod in spec.pods:
        colours.setdefault(pod.key, geo.territory_palette(pod.seats))
    return colours


def _layers(inputs: runs.RunInputs) -> list[list[str]]:
    pods = []
    for atoms in inputs.pods:
        if atoms.pod.atom != "unit":
            continue
        states = {
            geo.unit_state(u)
            for u, k in zip(atoms.atom.tolist(), atoms.kind.tolist(), strict=True)
            if k == "unit" and geo.is_known_unit(u)
        }
        pods.append((atoms.pod.key, atoms.pod.label, sorted(states)))
    return runs.map_layers(pods)


def _write_results(run, spec, inputs, results, *, params, version, timings) -> None:
    layers = _layers(inputs)
    colours = _colours(spec, layers)
    pod_metrics = []
    with transaction.atomic():
        # Re-running a run replaces its results, never adds to them.
        run.delete_results()
        pods = []
        for position, (atoms, result) in enumerate(zip(inputs.pods, results, strict=True)):
            arrays = runs.pod_arrays(atoms, result)
            metrics = runs.pod_metrics(result.metrics, method=result.method, notes=result.notes)
            pod_metrics.append(metrics)
            pods.append(
                RunPod(
                    run=run,
                    position=position,
                    key=atoms.pod.key,
                    label=atoms.pod.label,
                    atom=atoms.pod.atom,
                    seats=atoms.pod.seats,
                    atoms=atoms.n,
                    accounts=int(atoms.count.sum()),
                    value=float(atoms.value.sum()),
                    metrics=metrics,
                    bounds=runs.bounds_to_json(result.bounds),
                    extra_names=list(atoms.extra_names),
                    data=arrays.pack(),
                )
            )
        pods = RunPod.objects.bulk_create(pods)
        territories = []
        for pod, atoms, result in zip(pods, inputs.pods, results, strict=True):
            arrays = runs.pod_arrays(atoms, result)
            figures = runs.territory_figures(
                arrays, result.metrics, atoms.extra_names, atoms.pod.seats
            )
            keys, labels = runs.territory_keys(atoms.pod), runs.territory_labels(atoms.pod)
            for i, row in enumerate(figures):
                territories.append(
                    RunTerritory(
                        run=run,
                        pod=pod,
                        index=i,
                        key=keys[i],
                        label=labels[i],
                        rep=runs.territory_rep(atoms.pod, i),
                        color=colours[atoms.pod.key][i],
                        atoms=row["atoms"],
                        count=row["count"],
                        value=row["value"],
                        metrics=row,
                    )
                )
        territories = RunTerritory.objects.bulk_create(territories)
        ids: dict[int, np.ndarray] = {}
        for territory in territories:
            ids.setdefault(territory.pod_id, np.zeros(territory.pod.seats, dtype=np.int64))[
                territory.index
            ] = territory.pk
        _write_atoms(run, pods, inputs, results, ids)
        run.metrics = runs.overall_metrics(pod_metrics)
        run.data_version = version
        run.summary = {
            "accounts": inputs.accounts,
            "value": inputs.value,
            "unvalued": inputs.unvalued,
            "unassigned": inputs.unassigned,
            "named": [list(n) for n in inputs.named],
            "named_unplaced": [list(n) for n in inputs.named_unplaced],
            "layers": layers,
            "engine_seconds": round(sum(r.seconds for r in results), 3),
        }
        run.edited_at = None
        run.save(update_fields=["metrics", "data_version", "summary", "edited_at"])


ATOM_COLUMNS = (
    "run_id",
    "pod_id",
    "territory_id",
    "index",
    "kind",
    "atom",
    "label",
    "count",
    "value",
    "owner_id",
    "moved_from_id",
    "locked",
)


def _atom_rows(run, pods, inputs, results, ids):
    for pod, atoms, result in zip(pods, inputs.pods, results, strict=True):
        tids = ids[pod.pk]
        territory = tids[result.assignment].tolist()
        owner = np.where(atoms.owner >= 0, tids[np.maximum(atoms.owner, 0)], 0).tolist()
        yield from zip(
            [run.pk] * atoms.n,
            [pod.pk] * atoms.n,
            territory,
            range(atoms.n),
            atoms.kind.tolist(),
            atoms.atom.tolist(),
            [str(x)[:300] for x in atoms.label.tolist()],
            atoms.count.tolist(),
            atoms.value.tolist(),
            [o or None for o in owner],
            [None] * atoms.n,
            atoms.locked.tolist(),
            strict=True,
        )


def _write_atoms(run, pods, inputs, results, ids) -> None:
    """Every atom in one bulk step, whatever their number: one ``COPY`` on PostgreSQL, one
    ``executemany`` of a single prepared ``INSERT`` elsewhere (SQLite). Not ``bulk_create``:
    on SQLite it cuts the rows into statements of 999 parameters (83 atoms each)."""
    rows = _atom_rows(run, pods, inputs, results, ids)
    quote = connection.ops.quote_name
    table = quote(RunAtom._meta.db_table)
    columns = ", ".join(quote(c) for c in ATOM_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(ATOM_COLUMNS))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


# --- Maps -------------------------------------------------------------------------------------------


def map_layers_data(
    *, run: BalancingRun, layers: Sequence[Sequence[str]] | None = None
) -> list[dict[str, Any]]:
    """Per map of the run: title, pod keys, ``assignment`` (unit id -> territory key) and
    ``legend`` (``geo.LegendRow`` per territory) — what ``geo.render_us_map_svg`` draws, for
    the page and for the PDF documents. Two queries."""
    layers = [list(x) for x in (layers if layers is not None else run.summary.get("layers", []))]
    wanted = [k for keys in layers for k in keys]
    if not wanted:
        return []
    territories = list(
        RunTerritory.objects.filter(run=run, pod__key__in=wanted)
        .select_related("pod")
        .order_by("pod__position", "index")
    )
    units = RunAtom.objects.filter(
        run=run, pod__key__in=wanted, kind=RunAtom.Kind.UNIT
    ).values_list("pod__key", "atom", "territory__key")
    by_pod: dict[str, dict[str, str]] = {}
    for pod_key, atom, key in units:
        by_pod.setdefault(pod_key, {})[atom] = key
    out = []
    for keys in layers:
        legend = [
            geo.LegendRow(
                key=t.key,
                label=f"{t.label} · {t.rep}" if t.rep else f"{t.label} · vacant",
                color=t.color,
                count=t.count,
                value=t.value,
            )
            for t in territories
            if t.pod.key in keys
        ]
        assignment: dict[str, str] = {}
        for key in keys:
            assignment.update(by_pod.get(key, {}))
        labels = [t.pod.label for t in territories if t.pod.key in keys]
        out.append(
            {
                "title": " and ".join(dict.fromkeys(labels)) + " territories",
                "pods": keys,
                "assignment": assignment,
                "legend": legend,
            }
        )
    return out


def maps_refresh(*, run: BalancingRun, pod_key: str | None = None) -> None:
    """(Re)draw the run's maps — only the one holding ``pod_key`` when given."""
    layers = run.summary.get("layers", [])
    if pod_key is not None:
        layers = [keys for keys in layers if pod_key in keys]
    for data in map_layers_data(run=run, layers=layers):
        position = run.summary["layers"].index(data["pods"])
        svg = geo.render_us_map_svg(
            assignment=data["assignment"],
            legend=data["legend"],
            title=f"{run.title}: {data['title']}",
            width=None,
            svg_id=f"map-{run.pk}-{position}",
        )
        RunMap.objects.update_or_create(
            run=run,
            position=position,
            defaults={"title": data["title"], "pods": data["pods"], "svg": svg},
        )


# --- Manual edits -------------------------------------------------------------------------------


def _editable(run: BalancingRun) -> None:
    if run.status != BalancingRun.Status.SUCCEEDED:
        raise ValidationError("Only a finished run can be edited.")
    if run.is_approved:
        raise ValidationError(
            "This run is approved: it is the territory map sent for sign-off. Withdraw the "
            "approval to edit it, or start a new run from it."
        )


def _refresh_pod(run: BalancingRun, pod: RunPod, arrays: runs.PodArrays) -> None:
    """Recompute the pod's figures from its arrays (``metrics_for`` with the stored bounds: no
    sort, O(n)), then the run's overall figures. A fixed number of queries."""
    tolerance = float(run.params.get("tolerance", 0.10))
    metrics = metrics_for(
        arrays.problem(pod.seats),
        arrays.assignment,
        tolerance=tolerance,
        bounds=runs.bounds_from_json(pod.bounds),
    )
    pod.metrics = runs.pod_metrics(
        metrics, method=pod.metrics.get("method", ""), notes=pod.metrics.get("notes", [])
    )
    pod.data = arrays.pack()
    pod.save(update_fields=["metrics", "data"])
    figures = runs.territory_figures(arrays, metrics, pod.extra_names, pod.seats)
    territories = list(RunTerritory.objects.filter(pod=pod).order_by("index"))
    for territory in territories:
        row = figures[territory.index]
        territory.atoms, territory.count, territory.value = row["atoms"], row["count"], row["value"]
        territory.metrics = row
    RunTerritory.objects.bulk_update(territories, ["atoms", "count", "value", "metrics"])
    all_pods = list(
        RunPod.objects.filter(run=run).order_by("position").values_list("metrics", flat=True)
    )
    run.metrics = runs.overall_metrics(all_pods)
    run.edited_at = timezone.now()
    run.save(update_fields=["metrics", "edited_at"])
    if pod.atom == "unit":
        maps_refresh(run=run, pod_key=pod.key)


@transaction.atomic
def run_atom_move(
    *, run: BalancingRun, atom: RunAtom, territory: RunTerritory, actor: User | None
) -> RunAtom:
    """Move one atom to another territory of its pod by hand; the figures follow at once."""
    _editable(run)
    atom = RunAtom.objects.select_for_update().select_related("territory").get(pk=atom.pk, run=run)
    if territory.run_id != run.pk or territory.pod_id != atom.pod_id:
        raise ValidationError("An atom can only move to another territory of its own pod.")
    if atom.kind == RunAtom.Kind.NAMED:
        raise ValidationError(
            f"{atom.label} is a named account: it stays with its owner. Change the named "
            "accounts in the hierarchy instead."
        )
    if atom.locked:
        raise ValidationError(f"{atom.label} is locked in {atom.territory.label}; unlock it first.")
    if territory.pk == atom.territory_id:
        return atom
    pod = RunPod.objects.select_for_update().get(pk=atom.pod_id)
    arrays = runs.PodArrays.unpack(pod.data)
    arrays.assignment[atom.index] = territory.index
    source = atom.territory
    engine_territory = atom.moved_from_id or atom.territory_id
    atom.moved_from_id = None if engine_territory == territory.pk else engine_territory
    atom.territory = territory
    atom.save(update_fields=["territory", "moved_from"])
    _refresh_pod(run, pod, arrays)
    RunEdit.objects.create(
        run=run,
        atom=atom,
        action=RunEdit.Action.MOVE,
        from_label=source.label,
        to_label=territory.label,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    activity_record(
        engagement=run.engagement,
        actor=actor,
        verb="run.atom_moved",
        summary=f"{run.title}: {atom.label} moved from {source.label} to {territory.label}",
        data={"run": run.pk, "atom": atom.atom},
    )
    return atom


@transaction.atomic
def run_atom_lock(*, run: BalancingRun, atom: RunAtom, locked: bool, actor: User | None) -> RunAtom:
    """Lock an atom where it is (a run started from this one keeps it there), or unlock it."""
    _editable(run)
    atom = RunAtom.objects.select_for_update().select_related("territory").get(pk=atom.pk, run=run)
    if atom.kind == RunAtom.Kind.NAMED:
        raise ValidationError(f"{atom.label} is a named account: it is always locked to its owner.")
    if atom.locked == locked:
        return atom
    pod = RunPod.objects.select_for_update().get(pk=atom.pod_id)
    arrays = runs.PodArrays.unpack(pod.data)
    arrays.locked[atom.index] = locked
    atom.locked = locked
    atom.save(update_fields=["locked"])
    _refresh_pod(run, pod, arrays)
    RunEdit.objects.create(
        run=run,
        atom=atom,
        action=RunEdit.Action.LOCK if locked else RunEdit.Action.UNLOCK,
        from_label=atom.territory.label,
        to_label=atom.territory.label,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    activity_record(
        engagement=run.engagement,
        actor=actor,
        verb="run.atom_locked" if locked else "run.atom_unlocked",
        summary=f"{run.title}: {atom.label} {'locked in' if locked else 'unlocked from'} {atom.territory.label}",
        data={"run": run.pk, "atom": atom.atom},
    )
    return atom


# --- Approval, sign-off and meetings ---------------------------------------------------------------


def approved_map_text(*, run: BalancingRun) -> str:
    """The text the customer signs for the territory map: per territory its label, rep, count,
    value and a digest of its units or accounts, and the SHA-256 of the full assignment (so the
    signature covers every atom, not only what fits on a page)."""
    params = RunParams.from_dict(run.params)
    pods = list(RunPod.objects.filter(run=run).defer("data").order_by("position"))
    territories = list(RunTerritory.objects.filter(run=run).order_by("pod__position", "index"))
    members: dict[int, list[tuple[str, str]]] = {}
    lines_for_sha = []
    for pod_key, territory_id, atom, kind, territory_key in (
        RunAtom.objects.filter(run=run)
        .order_by("territory_id", "-value", "atom")
        .values_list("pod__key", "territory_id", "atom", "kind", "territory__key")
    ):
        members.setdefault(territory_id, []).append((atom, kind))
        lines_for_sha.append((pod_key, atom, territory_key))
    value = run.metrics.get("value", {})
    count = run.metrics.get("count", {})
    lines = [
        f"Balanced territory map: {run.title} of {run.engagement.name}",
        "",
        f"{run.summary.get('accounts', 0):,} accounts, {geo.format_usd(run.summary.get('value', 0))} "
        f"of potential; {run.metrics.get('territories', 0)} territories in {len(pods)} pods; "
        f"target ±{100 * params.tolerance:g} % of the pod mean on count and value.",
        f"Balance: value within ±{value.get('max_dev_pct') or 0:.1f} % of the pod means "
        f"(lower bound {value.get('lower_bound_max_dev_pct') or 0:.1f} %), account count within "
        f"±{count.get('max_dev_pct') or 0:.1f} %.",
        f"Named accounts: {len(run.summary.get('named', [])):,}, each with its owner first.",
    ]
    for pod in pods:
        kind = "accounts" if pod.atom == "account" else "geographic units"
        lines += ["", f"{pod.label} ({pod.seats} territories of {kind}):"]
        for t in (t for t in territories if t.pod_id == pod.pk):
            atoms = members.get(t.pk, [])
            units = [a for a, k in atoms if k == RunAtom.Kind.UNIT]
            accounts = [a for a, k in atoms if k != RunAtom.Kind.UNIT]
            parts = [
                f"- {t.label} ({t.key}): {t.rep or 'vacant'}; {t.count:,} accounts; "
                f"{geo.format_usd(t.value)}"
            ]
            if units:
                parts.append(f"units: {runs.digest_list(units)}")
            if accounts:
                parts.append(f"accounts: {runs.digest_list(accounts, 8)}")
            lines.append("; ".join(parts))
    lines += [
        "",
        f"Assignment SHA-256 (pod, atom, territory for every atom): {runs.assignment_sha256(lines_for_sha)}",
    ]
    return "\n".join(lines)


@transaction.atomic
def run_approve(*, run: BalancingRun, actor: User | None) -> SignoffVersion:
    """Make ``run`` the engagement's territory map (replacing an earlier approval) and publish
    it for the customer's sign-off. After a manual edit the edited state is what is approved.
    The growth-ready plan and the equity report's suggested moves are (re)computed as jobs."""
    from engagements.tracking import job_start
    from territories import jobs

    if run.status != BalancingRun.Status.SUCCEEDED:
        raise ValidationError("Only a finished run can be approved.")
    Engagement.objects.select_for_update().filter(pk=run.engagement_id).values_list("pk").first()
    BalancingRun.objects.filter(engagement_id=run.engagement_id).exclude(pk=run.pk).update(
        approved_at=None, approved_by=None
    )
    run.approved_at = timezone.now()
    run.approved_by = actor if actor is not None and actor.is_authenticated else None
    run.save(update_fields=["approved_at", "approved_by"])
    version = signoff_publish(
        engagement=run.engagement,
        subject=MAP_SUBJECT,
        title="Balanced territory map",
        text=approved_map_text(run=run),
        actor=actor,
    )
    activity_record(
        engagement=run.engagement,
        actor=actor,
        verb="run.approved",
        summary=f"{run.title} approved as the territory map; published for sign-off (version {version.version})",
        data={"run": run.pk, "version": version.pk},
    )
    job_start(
        engagement=run.engagement,
        func=jobs.growth_plan_compute,
        title=f"Plan the growth cuts of {run.title}",
        user=actor,
        params={"run": run.pk},
        dedupe_key=f"territories.growth.{run.pk}",
    )
    rebalancing_plan_start(run=run, user=actor)
    return version


@transaction.atomic
def run_withdraw(*, run: BalancingRun, actor: User | None) -> BalancingRun:
    """Withdraw the approval (the run becomes editable again; its published text stays in the
    sign-off history)."""
    if not run.is_approved:
        return run
    run.approved_at = None
    run.approved_by = None
    run.save(update_fields=["approved_at", "approved_by"])
    activity_record(
        engagement=run.engagement,
        actor=actor,
        verb="run.withdrawn",
        summary=f"{run.title} is no longer the approved territory map",
        data={"run": run.pk},
    )
    return run


def run_link_meeting(
    *, run: BalancingRun, meeting: Meeting, shown: bool, actor: User | None
) -> BalancingRun:
    """Record that a balancing review showed this run (or undo it)."""
    if meeting.engagement_id != run.engagement_id:
        raise ValidationError("That meeting belongs to another engagement.")
    if meeting.kind != "balancing_review":
        raise ValidationError(
            "Runs are shown in balancing reviews; pick a balancing review meeting."
        )
    if shown:
        run.shown_in.add(meeting)
    else:
        run.shown_in.remove(meeting)
    activity_record(
        engagement=run.engagement,
        actor=actor,
        verb="run.shown" if shown else "run.unshown",
        summary=f"{run.title} {'shown in' if shown else 'unlinked from'} {meeting.title}",
        data={"run": run.pk, "meeting": meeting.pk},
    )
    return run


def meeting_runs(meeting: Meeting):
    """The meeting page's "Balancing runs shown" block (registered with
    ``engagements.related``): the runs a balancing review showed, each linked, in one query.
    Other meetings get the block only when a run is linked to them."""
    from django.urls import reverse

    from engagements.related import Link, LinkGroup

    rows = list(
        BalancingRun.objects.filter(shown_in=meeting)
        .order_by("number")
        .values_list("pk", "number", "name", "approved_at", "status", "metrics")
    )
    if not rows and meeting.kind != "balancing_review":
        return []
    links = []
    for pk, number, name, approved_at, status, metrics in rows:
        value = (metrics or {}).get("value") or {}
        if approved_at is not None:
            note = f"approved {approved_at:%d %b %Y}"
        elif status == BalancingRun.Status.SUCCEEDED and value.get("max_dev_pct") is not None:
            note = f"value within ±{value['max_dev_pct']:.1f} % of the pod means"
        else:
            note = dict(BalancingRun.Status.choices).get(status, status).lower()
        links.append(
            Link(
                title=f"Run {number}" + (f" · {name}" if name else ""),
                url=reverse("design:run_detail", args=[meeting.engagement_id, pk]),
                note=note,
            )
        )
    return [
        LinkGroup(
            key="balancing-runs",
            heading="Balancing runs shown",
            links=tuple(links),
            empty="No run is linked to this review yet: link it from the run's page.",
        )
    ]


# --- Reports -----------------------------------------------------------------------------------------


def run_flags(
    *, run: BalancingRun, territories: Sequence[RunTerritory], pods: Sequence[RunPod]
) -> dict[str, Any]:
    """The seeds' flags over stored figures (no query): per territory and per pod."""
    params = RunParams.from_dict(run.params)
    limit = params.max_share if params.max_share is not None else 0.5
    by_territory = {
        t.pk: runs.territory_flags(t.metrics, tolerance=params.tolerance, max_share=limit)
        for t in territories
    }
    by_pod = {
        p.pk: runs.pod_flags([{"value": t.value} for t in territories if t.pod_id == p.pk])
        for p in pods
    }
    return {"territories": by_territory, "pods": by_pod}


def run_report(*, run: BalancingRun) -> dict[str, Any]:
    """Everything about a finished run as plain data (for the PDF documents and exports):
    parameters, overall and per-pod balance with lower bounds and gaps, per territory figures
    and flags, and the maps' SVG. Four queries."""
    pods = list(RunPod.objects.filter(run=run).defer("data").order_by("position"))
    territories = list(RunTerritory.objects.filter(run=run).order_by("pod__position", "index"))
    maps = list(RunMap.objects.filter(run=run).order_by("position"))
    flags = run_flags(run=run, territories=territories, pods=pods)
    return {
        "run": {
            "id": run.pk,
            "number": run.number,
            "title": run.title,
            "status": run.status,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
            "approved_at": run.approved_at,
            "approved_by": run.approved_by.get_full_name() if run.approved_by else "",
            "data_version": run.data_version,
            "edited_at": run.edited_at,
        },
        "params": dict(run.params),
        "summary": dict(run.summary),
        "metrics": dict(run.metrics),
        "pods": [
            {
                "key": p.key,
                "label": p.label,
                "atom": p.atom,
                "seats": p.seats,
                "atoms": p.atoms,
                "accounts": p.accounts,
                "value": p.value,
                "metrics": p.metrics,
                "flags": [f.__dict__ for f in flags["pods"][p.pk]],
                "territories": [
                    {
                        "key": t.key,
                        "label": t.label,
                        "rep": t.rep,
                        "color": t.color,
                        "atoms": t.atoms,
                        "count": t.count,
                        "value": t.value,
                        **t.metrics,
                        "flags": [f.__dict__ for f in flags["territories"][t.pk]],
                    }
                    for t in territories
                    if t.pod_id == p.pk
                ],
            }
            for p in pods
        ],
        "maps": [{"title": m.title, "pods": m.pods, "svg": m.svg} for m in maps],
    }


def runs_compare(*, left: BalancingRun, right: BalancingRun) -> dict[str, Any]:
    """Two runs side by side: their overall and per-pod balance, territories aligned by key,
    and how many atoms sit in a differently named territory (one join query)."""

    def pods_of(run):
        return {p.key: p for p in RunPod.objects.filter(run=run).defer("data").order_by("position")}

    def territories_of(run):
        return {t.key: t for t in RunTerritory.objects.filter(run=run).select_related("pod")}

    lp, rp = pods_of(left), pods_of(right)
    lt, rt = territories_of(left), territories_of(right)
    keys = list(dict.fromkeys([*lt, *rt]))
    # Atoms present in both runs whose territory key differs.
    other = RunAtom.objects.filter(run=right, pod__key=OuterRef("pod__key"), atom=OuterRef("atom"))
    differs = (
        RunAtom.objects.filter(run=left)
        .annotate(
            both=Exists(other),
            same=Exists(other.filter(territory__key=OuterRef("territory__key"))),
        )
        .filter(both=True, same=False)
    )
    return {
        "pods": [
            {"key": k, "left": lp.get(k), "right": rp.get(k)} for k in dict.fromkeys([*lp, *rp])
        ],
        "territories": [{"key": k, "left": lt.get(k), "right": rt.get(k)} for k in keys],
        "differing_atoms": differs.count(),
    }


# --- The approved map (the contract with routing) ---------------------------------------------------


def approved_run(*, engagement: Engagement) -> BalancingRun | None:
    return (
        BalancingRun.objects.filter(engagement=engagement, approved_at__isnull=False)
        .select_related("approved_by")
        .first()
    )


def approved_map(*, engagement: Engagement):
    """The approved run as the routing contract's ``ApprovedMap`` (None when none is approved).
    Three queries; every atom is listed (the units of unit pods, the accounts of account pods
    and the named accounts of each territory)."""
    from territories.hierarchy import HierarchySpec
    from territories.services import ApprovedMap, ApprovedTerritory

    run = approved_run(engagement=engagement)
    if run is None:
        return None
    units: dict[int, list[str]] = {}
    accounts: dict[int, list[str]] = {}
    for territory_id, kind, atom in (
        RunAtom.objects.filter(run=run)
        .order_by("territory_id", "atom")
        .values_list("territory_id", "kind", "atom")
    ):
        (units if kind == RunAtom.Kind.UNIT else accounts).setdefault(territory_id, []).append(atom)
    territories = tuple(
        ApprovedTerritory(
            key=t.key,
            label=t.label,
            pod=t.pod.key,
            rep=t.rep,
            units=tuple(units.get(t.pk, ())),
            accounts=tuple(accounts.get(t.pk, ())),
            count=t.count,
            value=t.value,
        )
        for t in RunTerritory.objects.filter(run=run)
        .select_related("pod")
        .order_by("pod__position", "index")
    )
    approver = run.approved_by
    return ApprovedMap(
        engagement_id=engagement.pk,
        run_id=run.pk,
        approved_at=run.approved_at,
        approved_by=(approver.get_full_name() or approver.username) if approver else "",
        hierarchy=HierarchySpec.from_json(run.hierarchy),
        named_accounts=tuple(tuple(n) for n in run.summary.get("named", [])),
        territories=territories,
    )


# --- Plan settings: conversion rates, quota share, growth -------------------------------------------

QUOTA_SHARE_KEY = "quota.share"
GROWTH_KEY = "growth.account_growth"
RAMP_KEY = "growth.ramp_months"


def conversion_key(segment: str) -> str:
    from territories.hierarchy import slugify

    return f"quota.conversion_rate.{slugify(segment)}"


def default_conversion(segments: Sequence[str]) -> dict[str, float]:
    """Seed 003's examples: enterprise converts at about 15 %, SMB at about 40 %; segments in
    between at 25 %. Registered ASSUMED until the customer's history confirms or corrects them."""
    out = {}
    for index, segment in enumerate(segments):
        if len(segments) == 1:
            out[segment] = 0.25
        elif index == 0:
            out[segment] = 0.15
        elif index == len(segments) - 1:
            out[segment] = 0.40
        else:
            out[segment] = 0.25
    return out


def plan_settings_get(*, engagement: Engagement):
    from territories.models import PlanSettings

    row = PlanSettings.objects.filter(engagement=engagement).first() or PlanSettings(
        engagement=engagement
    )
    segments = _scheme(engagement).labels
    defaults = default_conversion(segments)
    row.conversion_rates = {
        s: float((row.conversion_rates or {}).get(s, defaults[s])) for s in segments
    }
    return row


def _corrections(engagement: Engagement, keys: Sequence[str]) -> dict[str, Any]:
    """The corrected value of each of ``keys`` a meeting corrected, in one query."""
    return {
        row["key"]: row["corrected_value"]
        for row in Assumption.objects.filter(
            engagement=engagement, key__in=list(keys), state=Assumption.State.CORRECTED
        ).values("key", "corrected_value")
    }


def plan_inputs(*, engagement: Engagement) -> dict[str, Any]:
    """The plan parameters in use: the settings, except where a meeting corrected them."""
    row = plan_settings_get(engagement=engagement)
    keys = {s: conversion_key(s) for s in row.conversion_rates}
    corrected = _corrections(engagement, [*keys.values(), QUOTA_SHARE_KEY, GROWTH_KEY, RAMP_KEY])
    warnings: list[str] = []
    rates = {}
    for segment, rate in row.conversion_rates.items():
        value = corrected.get(keys[segment], rate)
        try:
            value = float(value)
            if not 0 <= value <= 1:
                raise ValueError
        except (TypeError, ValueError):
            warnings.append(
                f"The corrected conversion rate of {segment} is not a fraction; using {rate:g}."
            )
            value = rate
        rates[segment] = value
    share = corrected.get(QUOTA_SHARE_KEY, row.quota_share)
    growth = corrected.get(GROWTH_KEY, row.account_growth)
    ramp = corrected.get(RAMP_KEY, [row.new_hire_months, row.ramping_months])
    try:
        share, growth = float(share), float(growth)
        new_hire_months, ramping_months = (int(x) for x in ramp)
    except (TypeError, ValueError):
        warnings.append("A corrected plan parameter cannot be read; the settings are used.")
        share, growth = row.quota_share, row.account_growth
        new_hire_months, ramping_months = row.new_hire_months, row.ramping_months
    return {
        "rates": rates,
        "quota_share": share,
        "account_growth": growth,
        "new_hire_months": new_hire_months,
        "ramping_months": ramping_months,
        "warnings": warnings,
        "settings": row,
    }


def plan_assumptions_sync(*, engagement: Engagement, actor: User | None = None) -> None:
    """Register the plan parameters (idempotent; a changed value goes back to ASSUMED)."""
    row = plan_settings_get(engagement=engagement)
    C = Assumption.Category
    for segment, rate in row.conversion_rates.items():
        assumption_register(
            engagement=engagement,
            key=conversion_key(segment),
            category=C.VALUATION,
            statement=f"{segment} accounts convert at {100 * rate:g} % (historical conversion rate; "
            "realistic potential = value × rate)",
            value=rate,
            source="territories",
            actor=actor,
        )
    items = [
        (
            QUOTA_SHARE_KEY,
            C.OTHER,
            f"Quota is suggested at {100 * row.quota_share:g} % of a territory's realistic potential",
            row.quota_share,
        ),
        (
            GROWTH_KEY,
            C.COVERAGE,
            f"Accounts needing coverage grow {100 * row.account_growth:g} % a year (runway)",
            row.account_growth,
        ),
        (
            RAMP_KEY,
            C.COVERAGE,
            f"A hire is a new hire for {row.new_hire_months} months, then ramping for "
            f"{row.ramping_months} months, then ramped (runway)",
            [row.new_hire_months, row.ramping_months],
        ),
    ]
    for key, category, statement, value in items:
        assumption_register(
            engagement=engagement,
            key=key,
            category=category,
            statement=statement,
            value=value,
            source="territories",
            actor=actor,
        )


@transaction.atomic
def plan_settings_update(
    *,
    engagement: Engagement,
    conversion_rates: Mapping[str, float],
    quota_share: float,
    account_growth: float,
    new_hire_months: int,
    ramping_months: int,
    actor: User | None,
):
    from territories.models import PlanSettings

    problems = []
    for segment, rate in conversion_rates.items():
        if not 0 <= rate <= 1:
            problems.append(f"Conversion rate of {segment}: give a percentage from 0 to 100.")
    if not 0.5 <= quota_share <= 1:
        problems.append("Quota share: seed 003 suggests 70–80 %; give 50–100 %.")
    if not -0.5 <= account_growth <= 5:
        problems.append("Account growth: give −50 % to 500 % a year.")
    if not (0 <= new_hire_months <= 24 and 0 <= ramping_months <= 36):
        problems.append("Ramp months: new hire 0–24, ramping 0–36.")
    if problems:
        raise ValidationError(problems)
    row, _ = PlanSettings.objects.get_or_create(engagement=engagement)
    row.conversion_rates = dict(conversion_rates)
    row.quota_share = quota_share
    row.account_growth = account_growth
    row.new_hire_months = new_hire_months
    row.ramping_months = ramping_months
    row.updated_at = timezone.now()
    row.save()
    plan_assumptions_sync(engagement=engagement, actor=actor)
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="plan.updated",
        summary="Quota and growth parameters changed",
    )
    return row


# --- Growth-ready plan --------------------------------------------------------------------------------


def growth_plan_compute(*, run: BalancingRun, progress: Progress = _no_progress):
    """Plan the pre-planned cut of every planned hire, in start-date order (``growth_cut`` per
    pod, from the run's assignment), and store it on the run (replacing an earlier plan)."""
    from territories import planning
    from territories.balancing import Problem, growth_cut
    from territories.models import GrowthPlan

    if run.status != BalancingRun.Status.SUCCEEDED:
        raise ValidationError("Plan growth cuts from a finished run.")
    spec = HierarchySpec.from_json(run.hierarchy)
    params = RunParams.from_dict(run.params)
    hires = [
        h
        for h in PlannedHire.objects.filter(engagement=run.engagement).order_by("start_date", "id")
        if h.carries_accounts
    ]
    placed: dict[str, list[PlannedHire]] = {}
    unplaced = []
    for hire in hires:
        pod = pod_for_seat(spec, segment=hire.segment, state=hire.home_state)
        if pod is None:
            unplaced.append(
                {
                    "hire": hire.title,
                    "reason": f"no pod takes {hire.segment or 'unsegmented'} hires"
                    + (f" based in {hire.home_state}" if hire.home_state else ""),
                }
            )
        else:
            placed.setdefault(pod.key, []).append(hire)
    pods = {p.key: p for p in RunPod.objects.filter(run=run, key__in=list(placed))}
    steps_of: dict[int, dict[str, Any]] = {}
    notes = []
    for number, (pod_key, pod_hires) in enumerate(placed.items()):
        pod = pods[pod_key]
        progress(100 * number / max(len(placed), 1), f"Cutting {pod.label}")
        arrays = runs.PodArrays.unpack(pod.data)
        # Units without accounts carry nothing: they stay where they are (growth cuts are not
        # contiguous), and leaving them out keeps the engine's search to the atoms that count.
        live = np.flatnonzero(arrays.measures[:, 0] > 0)
        locked = arrays.locked[live]
        problem = Problem(
            arrays.measures[live],
            runs.MEASURES,
            territories=pod.seats,
            owner=arrays.assignment[live],
            locked=locked if locked.any() else None,
            segment_names=(pod.label,),
        )
        try:
            result = growth_cut(
                problem,
                arrays.assignment[live],
                add=len(pod_hires),
                tolerance=params.tolerance,
                seed=params.seed,
                time_limit=params.time_limit,
            )
        except BalancingError as exc:
            for hire in pod_hires:
                unplaced.append({"hire": hire.title, "reason": f"{pod.label}: {exc}"})
            continue
        final = arrays.assignment.copy()
        final[live] = result.assignment
        cut_steps = [
            planning.CutStep(
                s.new_territory, live[s.atoms], s.max_dev_pct, s.spread_pct, s.within_tolerance
            )
            for s in result.steps
        ]
        stepped = {int(i) for s in cut_steps for i in s.atoms}
        moved = np.flatnonzero(final != arrays.assignment)
        repair = [int(i) for i in moved if int(i) not in stepped]
        if repair:
            notes.append(
                f"{pod.label}: besides the moves into the new territories, the cuts move "
                f"{len(repair):,} atom{'s' if len(repair) != 1 else ''} between existing territories "
                f"to keep every territory within ±{100 * params.tolerance:g} %."
            )
        wanted = sorted(stepped)
        labels, ids = {}, {}
        for index, atom, label in RunAtom.objects.filter(pod=pod, index__in=wanted).values_list(
            "index", "atom", "label"
        ):
            labels[index], ids[index] = label, atom
        territories = list(RunTerritory.objects.filter(pod=pod).order_by("index"))
        # New territories come after the pod's seats, in hire order; a later cut can take
        # from an earlier new territory.
        holders = [t.rep or f"{t.label} (vacant)" for t in territories] + [
            h.title for h in pod_hires
        ]
        new_labels = [f"{pod.label} {pod.seats + j + 1}" for j in range(len(pod_hires))]
        labels_of = [t.label for t in territories] + new_labels
        described = planning.describe_cuts(
            measures=arrays.measures,
            start=arrays.assignment,
            steps=cut_steps,
            holders=holders,
            new_names=[h.title for h in pod_hires],
            atom_labels=labels,
            atom_ids=ids,
            kind=pod.atom,
        )
        for j, (hire, step) in enumerate(zip(pod_hires, described, strict=True)):
            step.update(
                {
                    "hire_id": hire.pk,
                    "start_date": hire.start_date.isoformat(),
                    "pod": pod.key,
                    "pod_label": pod.label,
                    "territory_label": new_labels[j],
                    "pod_step": j + 1,
                }
            )
            for donor in step["donors"]:
                donor["label"] = labels_of[donor["territory"]]
            steps_of[hire.pk] = step
    steps = [steps_of[h.pk] for h in hires if h.pk in steps_of]
    for number, step in enumerate(steps, start=1):
        step["step"] = number
    with transaction.atomic():
        plan, _ = GrowthPlan.objects.update_or_create(
            run=run,
            defaults={
                "steps": steps,
                "unplaced": unplaced,
                "inputs": {
                    "hires": [
                        [h.pk, h.title, h.start_date.isoformat(), h.segment, h.home_state]
                        for h in hires
                    ],
                    "edited_at": run.edited_at.isoformat() if run.edited_at else None,
                    "notes": notes,
                },
                "computed_at": timezone.now(),
            },
        )
    return plan


def growth_plan_start(*, run: BalancingRun, user: User | None):
    from engagements.tracking import job_start
    from territories import jobs

    if run.status != BalancingRun.Status.SUCCEEDED:
        raise ValidationError("Plan growth cuts from a finished run.")
    return job_start(
        engagement=run.engagement,
        func=jobs.growth_plan_compute,
        title=f"Plan the growth cuts of {run.title}",
        user=user,
        params={"run": run.pk},
        dedupe_key=f"territories.growth.{run.pk}",
    )


def _seats(engagement: Engagement) -> list:
    from territories import planning

    today = timezone.localdate()
    seats = []
    for rep in roster(engagement=engagement):
        tenure = (
            (today - rep.start_date).days / 30.44
            if rep.start_date
            else (0.0 if rep.ramp_state == "new_hire" else 3.0)
        )
        seats.append(planning.SeatPlan(rep.segment, rep.ramp_state, tenure, rep.name))
    for hire in PlannedHire.objects.filter(engagement=engagement).order_by("start_date"):
        if hire.carries_accounts:
            seats.append(
                planning.SeatPlan(
                    hire.segment, "new_hire", -(hire.start_date - today).days / 30.44, hire.title
                )
            )
    return seats


def runway(*, engagement: Engagement, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Months until the team (with its planned hires) no longer covers the market; see
    ``planning.runway`` for the formula and ``docs/territory-design.md``."""
    from territories import planning, services

    inputs = inputs or plan_inputs(engagement=engagement)
    overview = services.coverage_overview(engagement=engagement)
    need = {
        row["segment"]: float(row["reps_needed_exact"])
        for row in overview["headcount"]
        if row["segment"] != "No segment"
    }
    result = planning.runway(
        need_now=need,
        seats=_seats(engagement),
        capacity=overview["capacity_in_use"],
        growth=float(inputs["account_growth"]),
        new_hire_months=int(inputs["new_hire_months"]),
        ramping_months=int(inputs["ramping_months"]),
    )
    result["account_growth"] = inputs["account_growth"]
    return result


def growth_plan(*, run: BalancingRun) -> dict[str, Any]:
    """The growth-ready plan of a run as plain data: steps in hire order (each with its donors'
    plain statements and the balance after it), what every rep gives up over the plan
    (``losses``), a plain statement for every existing rep — what they give up and keep, or
    that they keep everything (``statements``) —, the hires no pod takes, and the runway.
    ``stale`` when the run or the hires changed since."""
    from territories import planning
    from territories.models import GrowthPlan

    plan = GrowthPlan.objects.filter(run=run).first()
    data: dict[str, Any] = {
        "plan": plan,
        "steps": [],
        "losses": [],
        "statements": [],
        "hire_losses": [],
        "unplaced": [],
        "notes": [],
    }
    if plan is not None:
        hires = [
            [h.pk, h.title, h.start_date.isoformat(), h.segment, h.home_state]
            for h in PlannedHire.objects.filter(engagement=run.engagement).order_by(
                "start_date", "id"
            )
            if h.carries_accounts
        ]
        edited = run.edited_at.isoformat() if run.edited_at else None
        holdings = [
            {
                "pod": pod,
                "territory": index,
                "label": label,
                "holder": rep or f"{label} (vacant)",
                "accounts": count,
                "value": value,
            }
            for pod, index, label, rep, count, value in RunTerritory.objects.filter(run=run)
            .order_by("pod__position", "index")
            .values_list("pod__key", "index", "label", "rep", "count", "value")
        ]
        losses = planning.losses_by_holder(plan.steps)
        hire_names = {s["hire"] for s in plan.steps}
        data.update(
            steps=plan.steps,
            losses=losses,
            # Every existing territory's holder, those who give nothing up included.
            statements=planning.rep_statements(holdings, plan.steps),
            # A later cut can take from an earlier hire's new territory.
            hire_losses=[loss for loss in losses if loss["holder"] in hire_names],
            unplaced=plan.unplaced,
            notes=plan.inputs.get("notes", []),
            computed_at=plan.computed_at,
            stale=plan.inputs.get("hires") != hires or plan.inputs.get("edited_at") != edited,
        )
    data["runway"] = runway(engagement=run.engagement)
    return data


# --- Quota and equity ---------------------------------------------------------------------------------

REBALANCING_SCHEDULE = (
    ("Q1", "Check capacity utilization"),
    ("Q2", "Review mid-year performance and adjust accounts as needed"),
    ("Q3", "Assess territory health and plan annual rebalance"),
    ("Q4", "Implement annual rebalancing, set next year's quotas"),
)


def equity_suggestions(*, run: BalancingRun, pod: RunPod, limit: int = 25) -> dict[str, Any]:
    """The fewest moves that bring the pod's territories back into the run's band: a
    continuity run of the engine from the pod's current assignment, locks kept. Runs for up
    to the run's time limit: only the rebalancing job calls it, never a request."""
    from territories.balancing import Problem, balance

    params = RunParams.from_dict(run.params)
    arrays = runs.PodArrays.unpack(pod.data)
    problem = Problem(
        arrays.measures,
        runs.MEASURES,
        territories=pod.seats,
        owner=arrays.assignment,
        locked=arrays.locked if arrays.locked.any() else None,
        edges=arrays.edges,
    )
    result = balance(
        problem,
        tolerance=params.tolerance,
        seed=params.seed,
        time_limit=params.time_limit,
        mode="continuity",
    )
    moved = np.flatnonzero(result.assignment != arrays.assignment)
    order = moved[np.argsort(-arrays.measures[moved, 1], kind="stable")]
    labels = dict(RunTerritory.objects.filter(pod=pod).values_list("index", "label"))
    reps = dict(RunTerritory.objects.filter(pod=pod).values_list("index", "rep"))
    names = dict(
        RunAtom.objects.filter(pod=pod, index__in=order[:limit].tolist()).values_list(
            "index", "label"
        )
    )
    moves = [
        {
            "atom": names.get(int(i), str(i)),
            "accounts": int(arrays.measures[i, 0]),
            "value": float(arrays.measures[i, 1]),
            "from": labels[int(arrays.assignment[i])],
            "from_rep": reps[int(arrays.assignment[i])],
            "to": labels[int(result.assignment[i])],
            "to_rep": reps[int(result.assignment[i])],
        }
        for i in order[:limit]
    ]
    return {
        "moves": moves,
        "total": int(moved.size),
        "within_tolerance": result.metrics.within_tolerance,
        "value_max_dev_pct": result.metrics.measure("value").max_dev_pct,
    }


def _equity_rows(run: BalancingRun) -> tuple[list[RunPod], list[RunTerritory], list[dict]]:
    """The run's pods (without their arrays), territories and the rows ``planning.equity``
    reads. Two queries."""
    pods = list(RunPod.objects.filter(run=run).defer("data").order_by("position"))
    territories = list(RunTerritory.objects.filter(run=run).order_by("pod__position", "index"))
    by_pk = {p.pk: p for p in pods}
    rows = [
        {
            "pod": by_pk[t.pod_id].key,
            "pod_label": by_pk[t.pod_id].label,
            "label": t.label,
            "rep": t.rep,
            "value": t.value,
            "tiers": t.metrics.get("tiers", {}),
            "value_by_segment": t.metrics.get("value_by_segment", {}),
        }
        for t in territories
    ]
    return pods, territories, rows


def _rebalancing_state(run: BalancingRun) -> dict[str, Any]:
    """What the suggested moves depend on: the run's results (finished, edited by hand) and
    the data the run was balanced on."""
    return {
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "edited_at": run.edited_at.isoformat() if run.edited_at else None,
        "data_version": data_version(engagement=run.engagement),
    }


def rebalancing_plan_compute(
    *, run: BalancingRun, progress: Progress = _no_progress, job: Job | None = None
):
    """Run the engine on every pod of ``run`` that needs rebalancing (seed 003: a territory
    more than 20 % from its pod's mean, or the pod's potential range over 20 %) and store the
    suggested moves for the equity report, replacing earlier ones. The flags depend on the
    territories' potential only, never on the quota parameters, so changing those does not
    make the moves stale."""
    from territories import planning
    from territories.models import RebalancingPlan

    if run.status != BalancingRun.Status.SUCCEEDED:
        raise ValidationError("Suggest moves for a finished run.")
    state = _rebalancing_state(run)
    _, _, rows = _equity_rows(run)
    # Quota settings do not enter the rebalancing flags: any rates will do here.
    flagged = [
        p["pod"]
        for p in planning.equity(rows, rates={}, quota_share=0.75)["pods"]
        if p["rebalance"]
    ]
    suggestions: dict[str, Any] = {}
    data = {p.key: p for p in RunPod.objects.filter(run=run, key__in=flagged)}
    for number, key in enumerate(flagged):
        pod = data[key]
        progress(100 * number / len(flagged), f"Balancing {pod.label} from its current assignment")
        suggestions[key] = equity_suggestions(run=run, pod=pod)
    with transaction.atomic():
        plan, _ = RebalancingPlan.objects.update_or_create(
            run=run,
            defaults={
                "pods": suggestions,
                "inputs": {**state, "flagged": flagged},
                "computed_at": timezone.now(),
                "job": job,
            },
        )
    activity_record(
        engagement=run.engagement,
        actor=job.created_by if job is not None else None,
        verb="run.rebalancing_suggested",
        summary=f"{run.title}: suggested moves for "
        + (", ".join(data[k].label for k in flagged) if flagged else "no pod (all balanced)"),
        data={"run": run.pk},
    )
    return plan


def rebalancing_plan_start(*, run: BalancingRun, user: User | None) -> Job:
    """Queue ``rebalancing_plan_compute`` for ``run`` (one at a time per run)."""
    from engagements.tracking import job_start
    from territories import jobs

    if run.status != BalancingRun.Status.SUCCEEDED:
        raise ValidationError("Suggest moves for a finished run.")
    return job_start(
        engagement=run.engagement,
        func=jobs.rebalancing_plan_compute,
        title=f"Suggest rebalancing moves for {run.title}",
        user=user,
        params={"run": run.pk},
        dedupe_key=rebalancing_job_key(run),
    )


def rebalancing_job_key(run: BalancingRun) -> str:
    return f"territories.rebalancing.{run.pk}"


def equity_report(*, run: BalancingRun) -> dict[str, Any]:
    """Quota suggestion and equity report in seed 003's territory-plan format: header, market
    segmentation, coverage model, territory assignments (tier counts, quota, potential),
    equity metrics per pod, rebalancing needed with the suggested moves, and the rebalancing
    schedule.

    Stored figures only, in a fixed number of queries: the suggested moves come from the
    ``RebalancingPlan`` the rebalancing job wrote (``moves``: when they were computed, whether
    the run was edited or the data changed since, the job computing them now)."""
    from territories import planning, services
    from territories.models import RebalancingPlan

    engagement = run.engagement
    inputs = plan_inputs(engagement=engagement)
    _, territories, rows = _equity_rows(run)
    result = planning.equity(rows, rates=inputs["rates"], quota_share=inputs["quota_share"])
    plan = RebalancingPlan.objects.filter(run=run).first()
    stored = plan.pods if plan is not None else {}
    for pod_row in result["pods"]:
        pod_row["suggestions"] = stored.get(pod_row["pod"]) if pod_row["rebalance"] else None
    moves: dict[str, Any] = {"plan": plan, "edited": False, "data_changed": False}
    if plan is not None:
        state = _rebalancing_state(run)
        moves.update(
            computed_at=plan.computed_at,
            edited=any(plan.inputs.get(k) != state[k] for k in ("finished_at", "edited_at")),
            data_changed=plan.inputs.get("data_version") != state["data_version"],
        )
    moves["job"] = (
        Job.objects.filter(engagement=engagement, dedupe_key=rebalancing_job_key(run))
        .order_by("-created_at", "-pk")
        .first()
    )
    summary = ValuationSummary.objects.filter(engagement=engagement).first()
    coverage = services.coverage_inputs(engagement=engagement)["rules"]
    market = []
    for row in summary.market if summary else []:
        t1 = next((r for r in coverage if r.segment == row["segment"] and r.tier == "T1"), None)
        market.append(
            {
                **row,
                "growth_pct": 100 * inputs["account_growth"],
                "rep_type": t1.channel if t1 else "",
                "conversion": inputs["rates"].get(row["segment"]),
            }
        )
    coverage_rows = [
        {
            "segment": r.segment,
            "tier": r.tier,
            "touches_per_year": r.touches_per_year,
            "channel": r.channel,
            "accounts_per_rep": r.accounts_per_rep,
        }
        for r in coverage
        if r.tier in ("T1", "T2", "T3")
    ]
    fy = engagement.fiscal_year_start
    return {
        **result,
        "prepared": timezone.localdate(),
        "horizon": f"FY starting {fy:%B %Y}" if fy else "",
        "team": sum(1 for t in territories if t.rep),
        "territories_count": len(territories),
        "tam": run.summary.get("value", 0.0),
        "market": market,
        "coverage": coverage_rows,
        "schedule": REBALANCING_SCHEDULE,
        "inputs": inputs,
        "moves": moves,
    }


# --- Drift ------------------------------------------------------------------------------------------------


def accounts_on_map(
    *,
    engagement: Engagement,
    run: BalancingRun,
    spec: HierarchySpec,
    territories: Sequence[RunTerritory],
    by_atom: Mapping[tuple[str, str], str],
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Today's accounts routed by an approved run: (frame, territory key per row — "" when the
    map has no place for it —, value per row). Named accounts go to their owner's territory,
    unit pods by unit, account pods by the run's account lists (``by_atom``: (pod, atom) → key).
    Used by the drift check and the handoff's sensitive-territory report."""
    frame = run_frame(engagement=engagement).reset_index(drop=True)
    if frame.empty:
        return frame, np.array([], dtype=object), np.array([], dtype=float)
    value = pd.to_numeric(frame["value"], errors="coerce").fillna(0.0).to_numpy()
    named = runs.named_owners(frame, run.named_accounts)
    owner_territory = {t.rep: t.key for t in territories if t.rep}
    pods = runs.assign_pods(spec, frame).to_numpy(dtype=object, copy=True)
    keys = np.full(len(frame), "", dtype=object)
    for i in np.flatnonzero(named != ""):
        keys[i] = owner_territory.get(named[i], "")
        pods[i] = ""
    for pod in spec.pods:
        rows = np.flatnonzero(pods == pod.key)
        if not rows.size:
            continue
        if pod.atom == "unit":
            sub = frame.iloc[rows]
            atoms = runs.pod_unit_ids(pod, sub)
        else:
            atoms = frame["external_id"].to_numpy(dtype=object)[rows]
        keys[rows] = [by_atom.get((pod.key, a), "") for a in atoms]
    return frame, keys, value


def drift_check(*, engagement: Engagement) -> dict[str, Any] | None:
    """Current data against the approved run, for the refinement triggers (seed 000): per
    territory the approved and current count and value and the value variance; per pod the
    current max/min value ratio (2× trigger) and largest deviation from the mean (20 %).
    Accounts are routed with the approved hierarchy: named accounts to their owner, unit pods
    by unit, account pods by the approved account lists (new accounts there are "unmapped").
    None when no run is approved."""
    from territories import planning

    run = approved_run(engagement=engagement)
    if run is None:
        return None
    spec = HierarchySpec.from_json(run.hierarchy)
    territories = list(
        RunTerritory.objects.filter(run=run)
        .select_related("pod")
        .order_by("pod__position", "index")
    )
    by_atom = {
        (pod, atom): key
        for pod, atom, key in RunAtom.objects.filter(run=run).values_list(
            "pod__key", "atom", "territory__key"
        )
    }
    frame, keys, value = accounts_on_map(
        engagement=engagement, run=run, spec=spec, territories=territories, by_atom=by_atom
    )
    current: dict[str, list[float]] = {}
    unmapped = {"accounts": 0, "value": 0.0}
    if not frame.empty:
        for key, v in zip(keys.tolist(), value.tolist(), strict=True):
            if key:
                row = current.setdefault(key, [0, 0.0])
                row[0] += 1
                row[1] += v
            else:
                unmapped["accounts"] += 1
                unmapped["value"] += v
    result = planning.drift(
        [
            {
                "key": t.key,
                "label": t.label,
                "pod": t.pod.key,
                "pod_label": t.pod.label,
                "rep": t.rep,
                "count": t.count,
                "value": t.value,
            }
            for t in territories
        ],
        {k: (int(v[0]), float(v[1])) for k, v in current.items()},
    )
    result.update(run_id=run.pk, approved_at=run.approved_at, unmapped=unmapped)
    return result


# --- Dashboard ------------------------------------------------------------------------------------------


def balance_variance_cells(engagement_ids: list[int]):
    """Dashboard column "Balance variance": the approved run's (else the latest finished run's)
    worst value deviation from its pod mean and spread. One query."""
    from engagements.dashboard import Cell

    rows = (
        BalancingRun.objects.filter(
            engagement_id__in=engagement_ids, status=BalancingRun.Status.SUCCEEDED
        )
        .order_by("engagement_id", "approved_at", "number")
        .values_list("engagement_id", "number", "approved_at", "metrics")
    )
    best: dict[int, tuple] = {}
    for engagement_id, number, approved_at, metrics in rows:
        current = best.get(engagement_id)
        rank = (approved_at is not None, number)
        if current is None or rank > current[0]:
            best[engagement_id] = (rank, number, approved_at, metrics)
    cells = {}
    for engagement_id, (_, number, approved_at, metrics) in best.items():
        value = (metrics or {}).get("value") or {}
        dev, spread = value.get("max_dev_pct"), value.get("spread_pct")
        if dev is None:
            continue
        level = "ok" if dev <= 10 + 1e-9 else "warn" if dev <= 20 else "bad"
        cells[engagement_id] = Cell(
            text=f"±{dev:.1f} %",
            sort=dev,
            level=level,
            title=f"Run {number}{' (approved)' if approved_at else ' (latest)'}: value within "
            f"±{dev:.1f} % of the pod means, spread {spread or 0:.1f} %",
        )
    return cells


def hierarchy_diagram(*, engagement: Engagement, overview: Mapping[str, Any] | None = None) -> str:
    """The hierarchy pyramid (SVG) with accounts and value per pod, for the page and the
    Territory Hierarchy Document."""
    from territories.diagrams import hierarchy_diagram_svg

    hierarchy = hierarchy_get(engagement=engagement)
    spec = hierarchy_spec(engagement=engagement, hierarchy=hierarchy)
    if overview is None:
        overview = hierarchy_overview(
            engagement=engagement,
            spec=spec,
            named=hierarchy.named_accounts,
            share=hierarchy.split_share,
        )
    stats = {p.pod.key: (p.accounts, p.value) for p in overview["pods"]}
    return hierarchy_diagram_svg(spec, pod_stats=stats, named=overview["named"])


def map_downloads(engagement: Engagement, user: User) -> list:
    """The customer portal's download list: the approved territory map, once there is one.

    The portal asks once per engagement card; the approved runs of every engagement the user
    sees are read in one query on the first call and kept on the request's user object, so
    the page's query count does not grow with the number of engagements."""
    from django.urls import reverse

    from engagements.access import engagements_for
    from engagements.dashboard import Download

    cache = getattr(user, "_approved_runs", None)
    if cache is None:
        cache = {
            engagement_id: (number, approved_at)
            for engagement_id, number, approved_at in BalancingRun.objects.filter(
                engagement__in=engagements_for(user), approved_at__isnull=False
            ).values_list("engagement_id", "number", "approved_at")
        }
        user._approved_runs = cache
    if engagement.pk not in cache:
        return []
    number, approved_at = cache[engagement.pk]
    return [
        Download(
            title="Balanced territory map",
            url=reverse("design:approved_map", args=[engagement.pk]),
            description=f"Run {number}, approved {approved_at:%d %b %Y}",
        )
    ]
