"""Work across rows of the territories app: imports, the account universe and what is computed
from it (segments, tiers, values), the coverage model and the team. Views and jobs call these."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from engagements.exports import csv_bytes
from engagements.models import Assumption, Engagement, Job, User
from engagements.services import (
    activity_record,
    assumption_effective_value,
    assumption_register,
    assumptions_for,
    signoff_latest,
    signoff_publish,
)
from engagements.units import megabytes
from territories import coverage, ingest, segments, tiers, valuation
from territories.hierarchy import HierarchySpec
from territories.models import (
    Account,
    AccountImport,
    CapacitySettings,
    CoverageRule,
    DataQualitySummary,
    PlannedHire,
    Rep,
    SegmentDefinition,
    TierRule,
    ValuationSettings,
    ValuationSummary,
)
from territories.quality import STANDARD_FIELDS, quality_report

Progress = Callable[[float, str], None]


def _no_progress(progress: float, message: str = "") -> None:
    return None


_MISSING = object()


ACCOUNT_COLUMNS: tuple[str, ...] = tuple(f for f in STANDARD_FIELDS if f != "external_id")
TEXT_FIELDS: frozenset[str] = frozenset(ingest.TEXT_LIMITS)
SENSITIVITY_HEDGES: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


# --- Loading the universe ----------------------------------------------------------------------


def accounts_frame(
    *, engagement: Engagement, fields: tuple[str, ...] = STANDARD_FIELDS
) -> pd.DataFrame:
    """The engagement's accounts as a DataFrame with ``fields`` as columns (one query)."""
    rows = Account.objects.filter(engagement=engagement).order_by("pk").values_list(*fields)
    return pd.DataFrame.from_records(list(rows), columns=list(fields))


def _universe(engagement: Engagement, *, with_custom: bool) -> pd.DataFrame:
    """Everything the segment, tier and valuation steps read, typed for numpy."""
    fields = ("id", *STANDARD_FIELDS, *(("custom",) if with_custom else ()))
    frame = accounts_frame(engagement=engagement, fields=fields)
    for name in ("employees", "annual_revenue", "contract_value"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    frame["is_customer"] = frame["is_customer"].fillna(False).astype(bool)
    return frame


# --- Configuration (defaults until the architect edits them) -----------------------------------


def segment_definition_get(*, engagement: Engagement) -> SegmentDefinition:
    definition = SegmentDefinition.objects.filter(engagement=engagement).first()
    if definition is None:
        default = segments.DEFAULT_SCHEME
        definition = SegmentDefinition(
            engagement=engagement,
            basis=default.basis,
            bands=[b.as_dict() for b in default.bands],
        )
    return definition


def valuation_settings_get(*, engagement: Engagement) -> ValuationSettings:
    return ValuationSettings.objects.filter(engagement=engagement).first() or ValuationSettings(
        engagement=engagement
    )


def capacity_settings_get(*, engagement: Engagement) -> CapacitySettings:
    return CapacitySettings.objects.filter(engagement=engagement).first() or CapacitySettings(
        engagement=engagement
    )


def tier_rules_ordered(*, engagement: Engagement) -> list[TierRule]:
    rank = {t: i for i, t in enumerate(tiers.TIERS)}
    rules = list(TierRule.objects.filter(engagement=engagement))
    return sorted(rules, key=lambda r: (rank[r.tier], r.position, r.pk))


def configured_inputs(*, engagement: Engagement) -> dict[str, Any]:
    """The segment scheme, tier rules and valuation parameters as the architect set them."""
    scheme = segment_definition_get(engagement=engagement).scheme()
    rules = [r.rule() for r in tier_rules_ordered(engagement=engagement)]
    params = valuation_settings_get(engagement=engagement).params()
    return {"scheme": scheme, "rules": rules, "params": params}


def model_inputs(*, engagement: Engagement) -> dict[str, Any]:
    """What a valuation uses now: the configured inputs, except where the customer corrected an
    assumption in a meeting (the register's corrected value wins, as SPEC §3 wants).

    Adds ``corrections`` (what was taken from the register) and ``warnings`` (corrections that
    could not be used, with the reason); both are lists of sentences for the pages.
    """
    configured = configured_inputs(engagement=engagement)
    register = _register_rows(engagement)
    corrections: list[str] = []
    warnings: list[str] = []

    def corrected(key: str):
        row = register.get(key)
        if row is None or row.state != Assumption.State.CORRECTED:
            return _MISSING
        return row.corrected_value

    scheme = configured["scheme"]
    value = corrected(SEGMENTS_KEY)
    if value is not _MISSING:
        try:
            candidate = segments.SegmentScheme.from_dict(value)
            problems = candidate.problems()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problems = [f"not a segment definition ({exc})"]
        if problems:
            warnings.append(f"The corrected segments cannot be used: {' '.join(problems)}")
        else:
            scheme = candidate
            corrections.append("Segments: " + "; ".join(candidate.describe()))

    rules = list(configured["rules"])
    for tier in tiers.TIERS:
        value = corrected(TIER_KEYS[tier])
        if value is _MISSING:
            continue
        try:
            own = [_rule_from_register(tier, item) for item in value]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            warnings.append(f"The corrected {tier} rules cannot be used ({exc}).")
            continue
        rules = [r for r in rules if r.tier != tier] + own
        corrections.append(f"{tier} rules: " + (" or ".join(r.describe() for r in own) or "none"))
    rules = tiers.ordered((r.tier, i, r) for i, r in enumerate(rules))

    params = configured["params"]
    changes = {}
    for name, key in VALUATION_KEYS.items():
        value = corrected(key)
        if value is not _MISSING:
            changes[name] = value
    if changes:
        try:
            candidate = valuation.ValuationParams(**{**params.as_dict(), **changes})
            problems = candidate.problems()
        except (TypeError, ValueError) as exc:
            problems = [str(exc)]
        if problems:
            warnings.append(
                f"The corrected valuation parameters cannot be used: {' '.join(problems)}"
            )
        else:
            params = candidate
            corrections += [f"{name.replace('_', ' ')}: {v}" for name, v in changes.items()]
    return {
        "scheme": scheme,
        "rules": rules,
        "params": params,
        "corrections": corrections,
        "warnings": warnings,
    }


def _rule_from_register(tier: str, item: dict[str, Any]) -> tiers.Rule:
    conditions = tuple(tiers.Condition.from_dict(c) for c in item["conditions"])
    for condition in conditions:
        if condition.op not in tiers.OPERATORS:
            raise ValueError(f"unknown operator {condition.op!r}")
    return tiers.Rule(tier=tier, conditions=conditions, name=str(item.get("name", "")))


def _inputs_snapshot(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "segments": inputs["scheme"].as_dict(),
        "rules": [
            {"tier": r.tier, "conditions": [c.as_dict() for c in r.conditions]}
            for r in inputs["rules"]
        ],
        "params": inputs["params"].as_dict(),
    }


def valuation_is_stale(
    *,
    engagement: Engagement,
    summary: ValuationSummary | None,
    inputs: dict[str, Any] | None = None,
) -> bool:
    """Whether the inputs (``model_inputs``, computed here unless given) changed since the
    stored valuation was computed."""
    if summary is None:
        return Account.objects.filter(engagement=engagement).exists()
    current = _inputs_snapshot(inputs or model_inputs(engagement=engagement))
    stored = {k: summary.inputs.get(k) for k in ("segments", "rules", "params")}
    return json.loads(json.dumps(current)) != stored


# --- The assumptions register and customer sign-off --------------------------------------------

SEGMENTS_KEY = "segments.thresholds"
TIER_KEYS: dict[str, str] = {t: f"tiers.{t}.rules" for t in tiers.TIERS}
VALUATION_KEYS: dict[str, str] = {
    name: f"valuation.{name}"
    for name in (
        "method",
        "statistic",
        "hedge_factor",
        "expansion_factor",
        "min_customers",
        "scale_basis",
        "caps",
    )
}
COVERAGE_KEY = "coverage.model"
CAPACITY_KEY = "coverage.capacity"
# Territory design cannot proceed until segments, the ICP matrix and the valuation approach are
# agreed (seed 000, Definition Alignment): these keep the Strategy gate closed while ASSUMED.
BLOCKING_KEYS = frozenset({SEGMENTS_KEY, TIER_KEYS["T1"], VALUATION_KEYS["method"]})
ICP_SUBJECT = "icp_matrix"
METHODOLOGY_SUBJECT = "valuation_methodology"


def valuation_correction_problems(key: str, value: Any) -> list[str]:
    """A corrected valuation parameter from the register (``valuation.<name>``), checked the way
    the settings form checks it; registered with ``assumption_value_check`` in ``apps.py``."""
    name = key.removeprefix("valuation.")
    if name not in VALUATION_KEYS:
        return []
    base = valuation.ValuationParams().as_dict()
    try:
        return valuation.ValuationParams(**{**base, name: value}).problems()
    except (TypeError, ValueError, AttributeError) as exc:
        return [f"{name.replace('_', ' ').capitalize()}: {exc}"]


def _register_rows(engagement: Engagement) -> dict[str, Assumption]:
    """This app's assumptions by key (one query)."""
    return {
        a.key: a
        for a in assumptions_for(engagement=engagement).select_related("meeting")
        if a.key.startswith(("segments.", "tiers.", "valuation.", "coverage."))
    }


def _statement(text: str) -> str:
    return text if len(text) <= 500 else text[:499] + "…"


def _register_items(
    configured: dict[str, Any], engagement: Engagement
) -> list[tuple[str, str, str, Any]]:
    """(key, category, statement, value) of every parameter this app owns."""
    C = Assumption.Category
    scheme: segments.SegmentScheme = configured["scheme"]
    params: valuation.ValuationParams = configured["params"]
    rules: list[tiers.Rule] = configured["rules"]
    items: list[tuple[str, str, str, Any]] = [
        (SEGMENTS_KEY, C.SEGMENTS, "Segments: " + "; ".join(scheme.describe()), scheme.as_dict())
    ]
    for tier in tiers.TIERS:
        own = [r for r in rules if r.tier == tier]
        text = " OR ".join(f"({r.describe()})" for r in own) if own else "no rule"
        items.append(
            (
                TIER_KEYS[tier],
                C.ICP_TIERS,
                f"{tiers.TIER_LABELS[tier]} accounts: {text}",
                [{"name": r.name, "conditions": [c.as_dict() for c in r.conditions]} for r in own],
            )
        )
    stat = valuation.STATISTICS[params.statistic]
    caps = "; ".join(f"{s} at ${v:,.0f}" for s, v in params.caps.items())
    items += [
        (
            VALUATION_KEYS["method"],
            C.VALUATION,
            f"Accounts are valued by the {params.method} method: "
            + valuation.METHODS[params.method].split(": ", 1)[1],
            params.method,
        ),
        (
            VALUATION_KEYS["statistic"],
            C.VALUATION,
            f"Benchmarks use the {stat} of current customers' contract values",
            params.statistic,
        ),
        (
            VALUATION_KEYS["hedge_factor"],
            C.VALUATION,
            f"Prospects are valued at {params.hedge_factor:g} × the segment-tier benchmark",
            params.hedge_factor,
        ),
        (
            VALUATION_KEYS["expansion_factor"],
            C.VALUATION,
            f"Current customers are valued at their ACV plus "
            f"{100 * params.expansion_factor:g} % expansion potential",
            params.expansion_factor,
        ),
        (
            VALUATION_KEYS["min_customers"],
            C.VALUATION,
            f"A segment × tier benchmark needs at least {params.min_customers} customers; "
            "below that the segment's figure (then all customers') is used",
            params.min_customers,
        ),
        (
            VALUATION_KEYS["scale_basis"],
            C.VALUATION,
            "The scaled method values prospects per " + valuation.SCALE_BASES[params.scale_basis],
            params.scale_basis,
        ),
        (
            VALUATION_KEYS["caps"],
            C.VALUATION,
            f"Scaled prospect values are capped: {caps}"
            if caps
            else "Scaled prospect values are not capped",
            dict(params.caps),
        ),
    ]
    coverage_rules = coverage_rules_effective(engagement=engagement)
    parts = []
    for segment in scheme.labels:
        cells = [
            f"{r.tier} {r.touches_per_year:g}×/yr"
            + (f" {r.accounts_per_rep:g}/rep" if r.accounts_per_rep else " no rep")
            for r in coverage_rules
            if r.segment == segment
        ]
        parts.append(f"{segment}: {', '.join(cells)}")
    items.append(
        (
            COVERAGE_KEY,
            C.COVERAGE,
            "Coverage model (touches a year, accounts per rep): " + "; ".join(parts),
            [
                {
                    "segment": r.segment,
                    "tier": r.tier,
                    "touches_per_year": r.touches_per_year,
                    "channel": r.channel,
                    "accounts_per_rep": r.accounts_per_rep,
                }
                for r in coverage_rules
            ],
        )
    )
    capacity = capacity_settings_get(engagement=engagement).by_state()
    items.append(
        (
            CAPACITY_KEY,
            C.COVERAGE,
            "Rep capacity in accounts: "
            + ", ".join(f"{coverage.RAMP_STATES[s].lower()} {v}" for s, v in capacity.items()),
            capacity,
        )
    )
    return items


def assumptions_sync(*, engagement: Engagement, actor: User | None = None) -> None:
    """Register every parameter of this app in the assumptions register (idempotent): a new one
    starts ASSUMED, an unchanged one is left alone, a changed one goes back to ASSUMED."""
    configured = configured_inputs(engagement=engagement)
    for key, category, statement, value in _register_items(configured, engagement):
        assumption_register(
            engagement=engagement,
            key=key,
            category=category,
            statement=_statement(statement),
            value=value,
            blocking=key in BLOCKING_KEYS,
            source="territories",
            actor=actor,
        )


def assumption_states(*, engagement: Engagement) -> dict[str, Assumption]:
    """This app's assumptions by key, for the pages to show their state (one query)."""
    return _register_rows(engagement)


def signoff_text(
    *, engagement: Engagement, subject: str, inputs: dict[str, Any] | None = None
) -> str:
    """The exact text of the ICP matrix or of the valuation methodology as they stand (what is
    in use: corrections made in meetings included)."""
    inputs = inputs or model_inputs(engagement=engagement)
    if subject == ICP_SUBJECT:
        return "\n".join(["ICP tier matrix", "", *tiers.matrix_lines(inputs["rules"])])
    lines = valuation.methodology_lines(inputs["params"], inputs["scheme"])
    return "\n".join(["Account valuation methodology", "", *lines])


SIGNOFF_TITLES = {
    ICP_SUBJECT: "ICP tier matrix",
    METHODOLOGY_SUBJECT: "Account valuation methodology",
}


def territories_publish(*, engagement: Engagement, subject: str, actor: User | None):
    """Publish the ICP matrix or the valuation methodology, as it stands, for customer sign-off
    (no new version when the text did not change)."""
    if subject not in SIGNOFF_TITLES:
        raise ValidationError(f"Nothing to publish under {subject!r}.")
    if subject == ICP_SUBJECT and not TierRule.objects.filter(engagement=engagement).exists():
        raise ValidationError("The ICP tier matrix has no rule yet: add rules before publishing.")
    return signoff_publish(
        engagement=engagement,
        subject=subject,
        title=SIGNOFF_TITLES[subject],
        text=signoff_text(engagement=engagement, subject=subject),
        actor=actor,
    )


def signoff_changed(
    *, engagement: Engagement, subject: str, inputs: dict[str, Any] | None = None
) -> bool | None:
    """Whether the text as it stands differs from the latest published version (None: never
    published)."""
    latest = signoff_latest(engagement=engagement, subject=subject)
    if latest is None:
        return None
    return latest.text != signoff_text(engagement=engagement, subject=subject, inputs=inputs)


# --- Computing segments, tiers and values ------------------------------------------------------


def universe_compute(frame: pd.DataFrame, inputs: dict[str, Any]) -> dict[str, Any]:
    """Segments, tiers and values of ``frame`` (from ``_universe``) under ``inputs``."""
    scheme: segments.SegmentScheme = inputs["scheme"]
    frame = frame.copy()
    frame["segment"] = segments.assign_segments(frame[scheme.basis].to_numpy(), scheme)
    assignment = tiers.assign_tiers(frame, inputs["rules"])
    frame["tier"] = assignment.tier
    result = valuation.value_accounts(frame, inputs["params"], segments=scheme.labels)
    return {"frame": frame, "assignment": assignment, "valuation": result}


def accounts_revalue(
    *,
    engagement: Engagement,
    job: Job | None = None,
    progress: Progress = _no_progress,
    with_quality: bool = False,
) -> ValuationSummary:
    """Recompute every account's segment, tier, value and explanation, and the summary.

    Idempotent: replaces what the previous run wrote. If the configuration changes while it
    runs, it runs again with the new one, so the stored values always match the last edit.
    ``with_quality`` also replaces the data-quality report from the same load of the accounts
    (what an import needs: the universe changed).
    """
    # The architect's prep starts everything ASSUMED: the first valuation registers the
    # defaults too, so nothing the values depend on is missing from the register.
    assumptions_sync(engagement=engagement, actor=job.created_by if job else None)
    for _attempt in range(3):
        inputs = model_inputs(engagement=engagement)
        snapshot = _inputs_snapshot(inputs)
        progress(5, "Loading accounts")
        with_custom = any(
            c.field.startswith(tiers.CUSTOM_PREFIX) for r in inputs["rules"] for c in r.conditions
        )
        frame = _universe(engagement, with_custom=with_custom)
        progress(30, f"Valuing {len(frame):,} accounts")
        computed = universe_compute(frame, inputs)
        frame, result = computed["frame"], computed["valuation"]
        labels = inputs["scheme"].labels
        seg = frame["segment"].to_numpy()
        summary_data = {
            "inputs": {**snapshot, "rule_matches": list(computed["assignment"].matches)},
            "summary": valuation.summary(result, seg, frame["tier"].to_numpy()),
            "benchmarks": _records(result.benchmarks),
            "ratios": _records(result.ratios),
            "market": segments.market_table(
                seg, result.value, labels, is_customer=frame["is_customer"].to_numpy()
            ),
            "sensitivity": valuation.sensitivity(
                result,
                seg,
                sorted({*SENSITIVITY_HEDGES, inputs["params"].hedge_factor}),
                labels,
            ),
            "tier_distribution": tiers.tier_distribution(
                frame["tier"].to_numpy(), frame["is_customer"].to_numpy()
            ),
        }
        progress(60, "Saving values")
        with transaction.atomic():
            _write_values(
                ids=frame["id"].to_numpy(),
                tier=frame["tier"].to_numpy(),
                segment=seg,
                value=result.value,
                explanation=result.explanation,
            )
            summary, _ = ValuationSummary.objects.update_or_create(
                engagement=engagement,
                defaults={
                    **summary_data,
                    "account_count": len(frame),
                    "computed_at": timezone.now(),
                    "job": job,
                },
            )
        current = _inputs_snapshot(model_inputs(engagement=engagement))
        if json.loads(json.dumps(current)) == json.loads(json.dumps(snapshot)):
            break
        progress(5, "The parameters changed meanwhile: valuing again")
    if with_quality:
        progress(90, "Updating the data-quality report")
        data_quality_recompute(engagement=engagement, job=job, frame=frame[list(STANDARD_FIELDS)])
    progress(100, "Done")
    return summary


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict("records"):
        out.append(
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else _plain(v))
                for k, v in record.items()
            }
        )
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _write_values(
    *,
    ids: np.ndarray,
    tier: np.ndarray,
    segment: np.ndarray,
    value: np.ndarray,
    explanation: np.ndarray,
) -> None:
    limit = Account._meta.get_field("value_explanation").max_length
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Account._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _account_values")
            cursor.execute(
                "CREATE TEMP TABLE _account_values (id bigint, tier text, segment text, "
                "value double precision, value_explanation text) ON COMMIT DROP"
            )
            with cursor.copy(
                "COPY _account_values (id, tier, segment, value, value_explanation) FROM STDIN"
            ) as copy:
                for row in zip(
                    ids.tolist(),
                    tier.tolist(),
                    segment.tolist(),
                    value.tolist(),
                    explanation.tolist(),
                    strict=True,
                ):
                    copy.write_row((*row[:4], (row[4] or "")[:limit]))
            # Rows whose values did not change are not rewritten (no dead tuple, no index
            # churn): a re-valuation after a small edit touches only what moved.
            cursor.execute(
                f"UPDATE {table} AS a SET tier = v.tier, segment = v.segment, value = v.value, "
                "value_explanation = v.value_explanation FROM _account_values AS v "
                "WHERE a.id = v.id AND (a.tier, a.segment, a.value, a.value_explanation) "
                "IS DISTINCT FROM (v.tier, v.segment, v.value, v.value_explanation)"
            )
        return
    objects = [
        Account(id=int(i), tier=t, segment=s, value=float(v), value_explanation=(e or "")[:limit])
        for i, t, s, v, e in zip(ids, tier, segment, value, explanation, strict=True)
    ]
    Account.objects.bulk_update(
        objects, ["tier", "segment", "value", "value_explanation"], batch_size=500
    )


def tier_preview(*, engagement: Engagement, rules: Sequence[tiers.Rule]) -> dict[str, Any]:
    """Tier distribution of the universe under ``rules`` (a draft), without saving anything."""
    inputs = model_inputs(engagement=engagement)
    with_custom = any(c.field.startswith(tiers.CUSTOM_PREFIX) for r in rules for c in r.conditions)
    frame = _universe(engagement, with_custom=with_custom)
    scheme = inputs["scheme"]
    frame["segment"] = segments.assign_segments(frame[scheme.basis].to_numpy(), scheme)
    assignment = tiers.assign_tiers(frame, rules)
    distribution = tiers.tier_distribution(assignment.tier, frame["is_customer"].to_numpy())
    return {
        "distribution": distribution,
        "warnings": tiers.matrix_warnings(distribution),
        "matches": list(assignment.matches),
        "accounts": len(frame),
    }


# --- Imports -----------------------------------------------------------------------------------


def account_import_create(
    *,
    engagement: Engagement,
    upload: UploadedFile,
    user: User | None,
) -> AccountImport:
    """Store an uploaded account file and read its layout; ``ValidationError`` if unreadable.

    Nothing is stored when the file is rejected.
    """
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"The file is {megabytes(upload.size)} MB, over the "
            f"{megabytes(settings.MAX_UPLOAD_BYTES)} MB upload limit."
        )
    record = AccountImport(
        engagement=engagement,
        original_name=Path(upload.name or "upload").name[:255],
        size=upload.size or 0,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    record.file.save(record.original_name, upload, save=False)
    try:
        table, preview = ingest.inspect_file(
            record.file.path,
            name=record.original_name,
            max_bytes=settings.MAX_UPLOAD_BYTES,
            max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES,
        )
    except ingest.FileRejected as exc:
        record.file.delete(save=False)
        raise ValidationError(str(exc)) from exc
    record.layout = table.as_dict()
    record.preview = preview
    record.mapping = ingest.auto_map(table.headers)
    record.save()
    activity_record(
        engagement=engagement,
        actor=user,
        verb="accounts.uploaded",
        summary=f"Uploaded account file {record.original_name}",
        data={"import": record.pk},
    )
    return record


def account_import_from_intake(*, engagement: Engagement, user: User | None) -> AccountImport:
    """Start an import of the customer list the customer uploaded with the intake form.

    The stored file is copied into a new import (the intake's copy stays as the customer sent
    it) and goes through the normal flow: layout check, the mapping the architect confirms, the
    job. The columns the intake check recognised as the customer name and the contract value
    are proposed as Name and Contract value. ``ValidationError`` when there is no list, or the
    file cannot be read as an account file.
    """
    from django.core.files import File

    from engagements.services import intake_customer_list

    source = intake_customer_list(engagement=engagement)
    if source is None:
        raise ValidationError("No customer list was uploaded with the intake form yet.")
    with source.file.open("rb") as handle:
        record = account_import_create(
            engagement=engagement, upload=File(handle, name=source.original_name), user=user
        )
    mapping = dict(record.mapping)
    for column, target in ((source.name_column, "name"), (source.value_column, "contract_value")):
        if column in mapping and mapping[column] != target:
            for header, other in mapping.items():
                if other == target:  # each field is mapped from one column only
                    mapping[header] = ingest.CUSTOM
            mapping[column] = target
    record.mapping = mapping
    record.save(update_fields=["mapping"])
    activity_record(
        engagement=engagement,
        actor=user,
        verb="accounts.intake_list_taken",
        summary=f"The intake form's customer list {source.original_name} is ready to import",
        data={"import": record.pk, "intake_upload": source.pk},
    )
    return record


def account_import_configure(
    *, account_import: AccountImport, mapping: dict[str, str], strict: bool
) -> AccountImport:
    """Save the confirmed mapping; ``ValidationError`` lists what is wrong with it."""
    headers = account_import.table().headers
    full = {h: mapping.get(h, ingest.CUSTOM) for h in headers}
    problems = ingest.mapping_problems(full, headers)
    if problems:
        raise ValidationError(problems)
    account_import.mapping = full
    account_import.strict = strict
    account_import.save(update_fields=["mapping", "strict"])
    return account_import


def account_import_start(
    *, account_import: AccountImport, mapping: dict[str, str], strict: bool, user: User | None
) -> Job:
    """Save the mapping and queue the import job; the row says QUEUED before any worker can
    pick the job up (the enqueue waits for this transaction's commit)."""
    from engagements.tracking import job_start
    from territories import jobs

    with transaction.atomic():
        account_import_configure(account_import=account_import, mapping=mapping, strict=strict)
        job = job_start(
            engagement=account_import.engagement,
            func=jobs.account_import_run,
            title=f"Import {account_import.original_name}",
            user=user,
            params={"import": account_import.pk},
            dedupe_key=f"territories.import.{account_import.pk}",
        )
        account_import.status = AccountImport.Status.QUEUED
        account_import.job = job
        account_import.save(update_fields=["status", "job"])
    return job


def account_import_run(
    *,
    account_import: AccountImport,
    user: User | None = None,
    job: Job | None = None,
    progress: Progress = _no_progress,
    revalue: bool = True,
) -> AccountImport:
    """Validate every row and upsert the accounts in one transaction, then re-value.

    Strict: any row error rejects the whole file. Otherwise valid rows land and the errors are
    reported. A whole-file problem (unreadable, bad mapping) fails the import with nothing
    written. Running it again with the same file updates the same accounts (upsert by id).
    """
    record = account_import
    engagement = record.engagement
    AccountImport.objects.filter(pk=record.pk).update(
        status=AccountImport.Status.RUNNING, job=job, run_by=user
    )
    record.refresh_from_db()
    try:
        progress(5, "Reading the file")
        table = record.table()
        raw = ingest.read_table(
            record.file.path, table, max_uncompressed=settings.MAX_XLSX_UNCOMPRESSED_BYTES
        )
        progress(20, f"Checking {len(raw):,} rows")
        checked = ingest.validate(raw, record.mapping, decimal_comma=table.delimiter == ";")
    except (ingest.FileRejected, OSError) as exc:
        return _import_finish(record, status=AccountImport.Status.FAILED, message=str(exc))

    errors = checked.errors
    if errors and record.strict:
        return _import_finish(
            record,
            status=AccountImport.Status.REJECTED,
            message=(
                f"{len({e.row for e in errors}):,} of {checked.total_rows:,} rows have errors; "
                "strict mode imports nothing unless every row is valid."
            ),
            checked=checked,
        )
    if checked.frame.empty:
        return _import_finish(
            record,
            status=AccountImport.Status.REJECTED,
            message="No row is valid; nothing was imported.",
            checked=checked,
        )
    progress(35, f"Writing {len(checked.frame):,} accounts")
    with transaction.atomic():
        created, updated = accounts_write(
            engagement=engagement, frame=checked.frame, fields=checked.fields
        )
        status = AccountImport.Status.PARTIAL if errors else AccountImport.Status.IMPORTED
        record = _import_finish(
            record,
            status=status,
            message="",
            checked=checked,
            created=created,
            updated=updated,
        )
        activity_record(
            engagement=engagement,
            actor=user,
            verb="accounts.imported",
            summary=(
                f"Imported {record.original_name}: {created:,} new, {updated:,} updated"
                + (f", {record.rows_rejected:,} rows rejected" if errors else "")
            ),
            data={"import": record.pk},
        )
    if revalue:
        progress(65, "Valuing the universe")
        try:
            accounts_revalue(
                engagement=engagement,
                job=job,
                progress=lambda p, m: progress(65 + p * 0.33, m),
                with_quality=True,
            )
        except Exception as exc:
            # The rows are committed: say so, and how to finish, then let the job fail too.
            reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
            record.status = AccountImport.Status.NOT_VALUED
            record.message = (
                f"The accounts were imported ({created:,} new, {updated:,} updated"
                + (f", {record.rows_rejected:,} rows rejected" if errors else "")
                + f"), but valuing them afterwards failed: {reason}. The imported accounts are "
                "stored with their previous values (new ones have none yet): use “Re-value now” "
                "on the Valuation page, or run this import again."
            )
            record.save(update_fields=["status", "message"])
            activity_record(
                engagement=engagement,
                actor=user,
                verb="accounts.valuation_failed",
                summary=f"Imported {record.original_name}, but valuing the accounts failed",
                data={"import": record.pk},
            )
            raise
    return record


def _import_finish(
    record: AccountImport,
    *,
    status: str,
    message: str,
    checked: ingest.Validated | None = None,
    created: int = 0,
    updated: int = 0,
) -> AccountImport:
    record.status = status
    record.message = message
    record.finished_at = timezone.now()
    record.created_count, record.updated_count = created, updated
    if checked is not None:
        errors = checked.errors
        bad_rows = len({e.row for e in errors})
        record.rows_total = checked.total_rows
        record.rows_rejected = bad_rows
        record.rows_imported = created + updated
        record.error_count = len(errors)
        record.errors = [e.as_dict() for e in errors[: AccountImport.ERRORS_SHOWN]]
        record.notes = checked.notes
        if record.errors_file:
            record.errors_file.delete(save=False)
        if errors:
            content = csv_bytes(
                ["row", "column", "value", "reason"],
                ((e.row, e.column, e.value, e.reason) for e in errors),
            )
            record.errors_file.save(
                f"import-{record.pk}-errors.csv", ContentFile(content), save=False
            )
    else:
        record.rows_total = record.rows_imported = record.rows_rejected = record.error_count = 0
        record.errors = []
    record.save()
    if status in (AccountImport.Status.FAILED, AccountImport.Status.REJECTED):
        activity_record(
            engagement=record.engagement,
            actor=record.run_by,
            verb="accounts.import_rejected",
            summary=f"Import of {record.original_name} rejected: nothing imported",
            data={"import": record.pk},
        )
    return record


def accounts_write(
    *, engagement: Engagement, frame: pd.DataFrame, fields: Sequence[str]
) -> tuple[int, int]:
    """Insert or update accounts by external id; returns (created, updated).

    ``frame`` holds ``external_id``, the standard ``fields`` the file sets and ``custom`` (a dict
    per row). An existing account gets only those fields and its custom attributes merged, so a
    file without a domain column keeps every domain. Call inside a transaction.
    """
    fields = [f for f in fields if f in ACCOUNT_COLUMNS]
    if connection.vendor == "postgresql":
        return _write_postgres(engagement, frame, fields)
    return _write_generic(engagement, frame, fields)


_PG_TYPES = {
    "employees": "bigint",
    "annual_revenue": "double precision",
    "contract_value": "double precision",
    "is_customer": "boolean",
}
_DEFAULTS_SQL = {
    "employees": "NULL",
    "annual_revenue": "NULL",
    "contract_value": "NULL",
    "is_customer": "false",
}


def _column_values(frame: pd.DataFrame, field: str) -> list[Any]:
    series = frame[field]
    if field in TEXT_FIELDS:
        return series.fillna("").astype(str).tolist()
    if field == "is_customer":
        return series.fillna(False).astype(bool).tolist()
    if field == "employees":
        return [None if pd.isna(v) else int(v) for v in series.tolist()]
    values = series.to_numpy(dtype=float)
    return [None if math.isnan(v) else v for v in values.tolist()]


def _write_postgres(
    engagement: Engagement, frame: pd.DataFrame, fields: list[str]
) -> tuple[int, int]:
    quote = connection.ops.quote_name
    table = quote(Account._meta.db_table)
    columns = ["external_id", *fields]
    temp_columns = (
        ", ".join(f"{quote(c)} {_PG_TYPES.get(c, 'text')}" for c in columns) + ", custom jsonb"
    )
    data = [frame["external_id"].astype(str).tolist()] + [_column_values(frame, f) for f in fields]
    customs = [json.dumps(c, ensure_ascii=False) for c in frame["custom"].tolist()]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _account_import")
        cursor.execute(f"CREATE TEMP TABLE _account_import ({temp_columns}) ON COMMIT DROP")
        names = ", ".join(quote(c) for c in [*columns, "custom"])
        with cursor.copy(f"COPY _account_import ({names}) FROM STDIN") as copy:
            for row in zip(*data, customs, strict=True):
                copy.write_row(row)
        cursor.execute(
            f"SELECT count(*) FROM {table} a JOIN _account_import t "
            "ON a.external_id = t.external_id WHERE a.engagement_id = %s",
            [engagement.pk],
        )
        updated = int(cursor.fetchone()[0])
        insert_columns = [
            "engagement_id",
            "external_id",
            *ACCOUNT_COLUMNS,
            "custom",
            "updated_at",
            "tier",
            "segment",
            "value",
            "value_explanation",
        ]
        select = ["%s", "t.external_id"]
        for field in ACCOUNT_COLUMNS:
            if field in fields:
                select.append(f"t.{quote(field)}")
            else:
                select.append(_DEFAULTS_SQL.get(field, "''"))
        select += ["coalesce(t.custom, '{}'::jsonb)", "%s", "''", "''", "NULL", "''"]
        updates = [f"{quote(f)} = EXCLUDED.{quote(f)}" for f in fields]
        updates += [
            f"custom = {table}.custom || EXCLUDED.custom",
            "updated_at = EXCLUDED.updated_at",
        ]
        # An account the file does not change is left as it is: re-importing the same export
        # rewrites nothing (and keeps its updated_at).
        ours = ", ".join(f"{table}.{quote(f)}" for f in fields)
        theirs = ", ".join(f"EXCLUDED.{quote(f)}" for f in fields)
        changed = f"NOT ({table}.custom @> EXCLUDED.custom)"
        if fields:
            changed = f"(ROW({ours}) IS DISTINCT FROM ROW({theirs})) OR {changed}"
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(quote(c) for c in insert_columns)}) "
            f"SELECT {', '.join(select)} FROM _account_import t "
            "ON CONFLICT (engagement_id, external_id) DO UPDATE SET "
            + ", ".join(updates)
            + f" WHERE {changed}",
            [engagement.pk, now],
        )
    return len(frame) - updated, updated


def _write_generic(
    engagement: Engagement, frame: pd.DataFrame, fields: list[str]
) -> tuple[int, int]:
    ids = frame["external_id"].astype(str).tolist()
    existing: dict[str, dict] = {}
    for start in range(0, len(ids), 500):
        existing.update(
            Account.objects.filter(
                engagement=engagement, external_id__in=ids[start : start + 500]
            ).values_list("external_id", "custom")
        )
    columns = {f: _column_values(frame, f) for f in fields}
    now = timezone.now()
    objects = []
    for index, (external_id, custom) in enumerate(zip(ids, frame["custom"].tolist(), strict=True)):
        values = {f: columns[f][index] for f in fields}
        merged = {**existing.get(external_id, {}), **custom}
        objects.append(
            Account(
                engagement=engagement,
                external_id=external_id,
                custom=merged,
                updated_at=now,
                **values,
            )
        )
    Account.objects.bulk_create(
        objects,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["engagement", "external_id"],
        update_fields=[*fields, "custom", "updated_at"],
    )
    updated = sum(1 for i in ids if i in existing)
    return len(ids) - updated, updated


@transaction.atomic
def accounts_upsert(*, engagement: Engagement, frame: pd.DataFrame, batch_size: int = 2000) -> int:
    """Insert or update accounts by external id from a frame of standard columns (any other
    column goes to ``custom``), e.g. the synthetic generator's. Returns the row count."""
    custom_columns = [c for c in frame.columns if c not in STANDARD_FIELDS]
    fields = [f for f in ACCOUNT_COLUMNS if f in frame.columns]
    prepared = frame[["external_id", *fields]].copy()
    prepared["external_id"] = prepared["external_id"].astype(str)
    for field in fields:
        if field in TEXT_FIELDS:
            prepared[field] = prepared[field].fillna("").astype(str)
    if custom_columns:
        records = frame[custom_columns].to_dict("records")
        prepared["custom"] = [
            {k: _plain(v) for k, v in r.items() if v is not None and not _is_missing(v)}
            for r in records
        ]
    else:
        prepared["custom"] = [{} for _ in range(len(frame))]
    accounts_write(engagement=engagement, frame=prepared, fields=fields)
    return len(prepared)


def _is_missing(value: Any) -> bool:
    return not isinstance(value, str) and bool(pd.isna(value))


# --- Data quality ------------------------------------------------------------------------------


def data_quality_recompute(
    *,
    engagement: Engagement,
    job: Job | None = None,
    progress: Progress = _no_progress,
    frame: pd.DataFrame | None = None,
) -> DataQualitySummary:
    """Recompute the data-quality report; replaces the previous one (idempotent).

    ``frame`` (the standard fields of every account) saves loading them when the caller has.
    The report also carries the last import's rejected rows, which never reached the universe
    and so cannot show up in its blanks and unparseable values.
    """
    progress(10, "Loading accounts")
    if frame is None:
        frame = accounts_frame(engagement=engagement)
    progress(50, f"Checking {len(frame):,} accounts")
    report = quality_report(frame)
    last = (
        AccountImport.objects.filter(engagement=engagement, status__in=AccountImport.FINISHED)
        .exclude(status=AccountImport.Status.FAILED)
        .order_by("-finished_at", "-id")
        .defer("errors", "preview")
        .first()
    )
    if last is not None:
        report["last_import"] = _import_error_summary(last)
    progress(90, "Saving the report")
    with transaction.atomic():
        summary, _ = DataQualitySummary.objects.update_or_create(
            engagement=engagement,
            defaults={
                "report": report,
                "account_count": report["total"],
                "computed_at": timezone.now(),
                "job": job,
            },
        )
    return summary


def _import_error_summary(record: AccountImport) -> dict[str, Any]:
    """Rejected rows of an import by column and reason (from the full errors file)."""
    by_reason: dict[tuple[str, str], int] = {}
    if record.errors_file:
        try:
            errors = pd.read_csv(record.errors_file.path, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
            errors = pd.DataFrame(columns=["row", "column", "value", "reason"])
        reasons = errors["reason"].str.replace(r"\(rows [^)]*\)", "", regex=True).str.strip()
        for (column, reason), count in (
            pd.DataFrame({"column": errors["column"], "reason": reasons}).value_counts().items()
        ):
            by_reason[(column, reason)] = int(count)
    return {
        "id": record.pk,
        "name": record.original_name,
        "finished_at": record.finished_at.isoformat() if record.finished_at else "",
        "status": record.get_status_display(),
        "rows_total": record.rows_total,
        "rows_rejected": record.rows_rejected,
        "problems": [
            {"column": column, "reason": reason, "count": count}
            for (column, reason), count in sorted(by_reason.items(), key=lambda kv: -kv[1])[:20]
        ],
    }


# --- Re-valuation as a job ---------------------------------------------------------------------


def revalue_start(*, engagement: Engagement, user: User | None, reason: str) -> Job:
    """Queue a re-valuation of the universe (joins one already queued or running)."""
    from engagements.tracking import job_start
    from territories import jobs

    return job_start(
        engagement=engagement,
        func=jobs.accounts_revalue,
        title=f"Re-value accounts ({reason})",
        user=user,
        dedupe_key="territories.revalue",
    )


# --- Segments ----------------------------------------------------------------------------------


@transaction.atomic
def segment_definition_update(
    *, engagement: Engagement, scheme: segments.SegmentScheme, actor: User | None
) -> SegmentDefinition:
    """Save the segment thresholds; ``ValidationError`` lists what is wrong with them.

    A segment renamed in place (same position, same number of segments) keeps its coverage
    rules and valuation cap under the new name.
    """
    problems = scheme.problems()
    if problems:
        raise ValidationError(problems)
    definition = segment_definition_get(engagement=engagement)
    old_labels = definition.scheme().labels  # the defaults too: rules may hang off them
    new_labels = scheme.labels
    if len(old_labels) == len(new_labels):
        renames = {o: n for o, n in zip(old_labels, new_labels, strict=True) if o != n}
        if renames:
            _rename_segments(engagement, renames)
    definition.basis = scheme.basis
    definition.bands = [b.as_dict() for b in scheme.bands]
    definition.updated_at = timezone.now()
    definition.save()
    assumptions_sync(engagement=engagement, actor=actor)
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="segments.updated",
        summary="Segments: " + "; ".join(scheme.describe()),
    )
    return definition


# The Definition Alignment Document (engagements app) defines Enterprise by a revenue threshold
# the customer signs; the segments here must say the same.
DEFINITION_THRESHOLD_KEY = "segments.enterprise_threshold"


def segment_warnings(*, engagement: Engagement, scheme: segments.SegmentScheme) -> list[str]:
    """Where the segments disagree with what the customer defines elsewhere."""
    threshold = assumption_effective_value(
        engagement=engagement, key=DEFINITION_THRESHOLD_KEY, default=None
    )
    top = scheme.bands[0] if scheme.bands else None
    if not isinstance(threshold, int | float) or top is None or top.minimum is None:
        return []
    if scheme.basis != "annual_revenue" or float(threshold) == top.minimum:
        return []
    return [
        f"The Definition Alignment Document defines Enterprise as ${float(threshold):,.0f}+ "
        f"annual revenue, but the first segment here (“{top.label}”) starts at "
        f"${top.minimum:,.0f}: align the two before the customer signs either."
    ]


def _rename_segments(engagement: Engagement, renames: dict[str, str]) -> None:
    rules = list(CoverageRule.objects.filter(engagement=engagement, segment__in=list(renames)))
    CoverageRule.objects.filter(engagement=engagement, segment__in=list(renames)).delete()
    for rule in rules:
        rule.pk = None
        rule.segment = renames[rule.segment]
    CoverageRule.objects.bulk_create(rules)
    settings_row = ValuationSettings.objects.filter(engagement=engagement).first()
    if settings_row and settings_row.caps:
        settings_row.caps = {renames.get(k, k): v for k, v in settings_row.caps.items()}
        settings_row.save(update_fields=["caps"])
    Rep.objects.filter(engagement=engagement, segment__in=list(renames)).update(
        segment=Case(*[When(segment=o, then=Value(n)) for o, n in renames.items()])
    )
    PlannedHire.objects.filter(engagement=engagement, segment__in=list(renames)).update(
        segment=Case(*[When(segment=o, then=Value(n)) for o, n in renames.items()])
    )


# --- ICP tier matrix ---------------------------------------------------------------------------


@transaction.atomic
def tier_rule_save(
    *,
    engagement: Engagement,
    rule: TierRule | None,
    tier: str,
    name: str,
    conditions: Sequence[tiers.Condition],
    actor: User | None,
) -> TierRule:
    """Create or change a rule of the tier matrix (a new rule goes last in its tier)."""
    if tier not in tiers.TIERS:
        raise ValidationError(f"Tier must be one of {', '.join(tiers.TIERS)}.")
    if not conditions:
        raise ValidationError("A rule needs at least one condition.")
    created = rule is None
    if rule is None or rule.tier != tier:
        last = (
            TierRule.objects.filter(engagement=engagement, tier=tier)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        position = 0 if last is None else last + 1
        if rule is None:
            rule = TierRule(engagement=engagement)
        rule.position = position
    rule.tier = tier
    rule.name = name.strip()
    rule.conditions = [c.as_dict() for c in conditions]
    rule.updated_at = timezone.now()
    rule.save()
    assumptions_sync(engagement=engagement, actor=actor)
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="tiers.rule_added" if created else "tiers.rule_changed",
        summary=f"ICP matrix: {tier} rule {'added' if created else 'changed'}: "
        + rule.rule().describe(),
        data={"rule": rule.pk},
    )
    return rule


@transaction.atomic
def tier_rule_delete(*, rule: TierRule, actor: User | None) -> None:
    engagement, text = rule.engagement, f"{rule.tier}: {rule.rule().describe()}"
    rule.delete()
    _renumber(engagement, rule.tier)
    assumptions_sync(engagement=engagement, actor=actor)
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="tiers.rule_deleted",
        summary=f"ICP matrix: rule removed ({text})",
    )


@transaction.atomic
def tier_rule_move(*, rule: TierRule, up: bool, actor: User | None) -> None:
    """Move a rule one place up or down within its tier (first match wins, so order counts)."""
    siblings = list(TierRule.objects.filter(engagement=rule.engagement, tier=rule.tier))
    siblings.sort(key=lambda r: (r.position, r.pk))
    index = next(i for i, r in enumerate(siblings) if r.pk == rule.pk)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(siblings):
        return
    siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings):
        if sibling.position != position:
            sibling.position = position
            sibling.save(update_fields=["position"])
    assumptions_sync(engagement=rule.engagement, actor=actor)
    activity_record(
        engagement=rule.engagement,
        actor=actor,
        verb="tiers.rule_moved",
        summary=f"ICP matrix: {rule.tier} rule moved {'up' if up else 'down'}",
        data={"rule": rule.pk},
    )


def _renumber(engagement: Engagement, tier: str) -> None:
    for position, rule in enumerate(TierRule.objects.filter(engagement=engagement, tier=tier)):
        if rule.position != position:
            rule.position = position
            rule.save(update_fields=["position"])


def rule_fields(*, engagement: Engagement) -> list[tuple[str, str]]:
    """(value, label) of every field a tier condition may test: standard fields, the derived
    segment, and every custom attribute the engagement's accounts carry."""
    fields = [(f, tiers.field_label(f).capitalize()) for f in STANDARD_FIELDS]
    fields.insert(0, ("segment", "Segment"))
    keys = custom_attribute_keys(engagement=engagement)
    fields += [(f"{tiers.CUSTOM_PREFIX}{k}", f"Custom: {k}") for k in keys]
    return fields


def custom_attribute_keys(*, engagement: Engagement) -> list[str]:
    """The custom attribute names found on the engagement's accounts (one query)."""
    table = connection.ops.quote_name(Account._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT DISTINCT jsonb_object_keys(custom) FROM {table} WHERE engagement_id = %s",
                [engagement.pk],
            )
        else:
            cursor.execute(
                f"SELECT DISTINCT j.key FROM {table}, json_each({table}.custom) AS j "
                "WHERE engagement_id = %s",
                [engagement.pk],
            )
        return sorted((row[0] for row in cursor.fetchall()), key=str.lower)


# --- Valuation parameters ----------------------------------------------------------------------


@transaction.atomic
def valuation_settings_update(
    *, engagement: Engagement, params: valuation.ValuationParams, actor: User | None
) -> ValuationSettings:
    problems = params.problems()
    if problems:
        raise ValidationError(problems)
    row = valuation_settings_get(engagement=engagement)
    before = row.params().as_dict() if row.pk else None
    for name, value in params.as_dict().items():
        setattr(row, name, value)
    row.updated_at = timezone.now()
    row.save()
    assumptions_sync(engagement=engagement, actor=actor)
    if before != params.as_dict():
        changed = [k for k, v in params.as_dict().items() if before is None or before[k] != v]
        activity_record(
            engagement=engagement,
            actor=actor,
            verb="valuation.parameters_changed",
            summary="Valuation parameters changed: " + ", ".join(changed),
            data={"params": params.as_dict()},
        )
    return row


# --- Coverage and capacity ---------------------------------------------------------------------


def coverage_rules_effective(*, engagement: Engagement) -> list[coverage.CoverageRule]:
    """One rule per segment × tier: the architect's, else seed 003's default."""
    labels = segment_definition_get(engagement=engagement).scheme().labels
    stored = [r.rule() for r in CoverageRule.objects.filter(engagement=engagement)]
    return coverage.rules_for(labels, stored)


def _corrected(engagement: Engagement, key: str) -> Any:
    row = _register_rows(engagement).get(key)
    if row is None or row.state != Assumption.State.CORRECTED:
        return _MISSING
    return row.corrected_value


def coverage_inputs(*, engagement: Engagement) -> dict[str, Any]:
    """Coverage rules and capacity in use: the configured ones unless corrected in a meeting."""
    rules = coverage_rules_effective(engagement=engagement)
    capacity = capacity_settings_get(engagement=engagement).by_state()
    warnings = []
    value = _corrected(engagement, COVERAGE_KEY)
    if value is not _MISSING:
        try:
            corrected = [
                coverage.CoverageRule(
                    str(r["segment"]),
                    str(r["tier"]),
                    float(r["touches_per_year"]),
                    str(r.get("channel", "")),
                    None
                    if r.get("accounts_per_rep") in (None, "")
                    else float(r["accounts_per_rep"]),
                )
                for r in value
            ]
            labels = segment_definition_get(engagement=engagement).scheme().labels
            rules = coverage.rules_for(labels, corrected)
        except (KeyError, TypeError, ValueError) as exc:
            warnings.append(f"The corrected coverage model cannot be used ({exc}).")
    value = _corrected(engagement, CAPACITY_KEY)
    if value is not _MISSING:
        try:
            candidate = {s: int(value[s]) for s in coverage.RAMP_STATES}
            if any(v <= 0 for v in candidate.values()):
                raise ValueError("capacities must be positive")
            capacity = candidate
        except (KeyError, TypeError, ValueError) as exc:
            warnings.append(f"The corrected rep capacity cannot be used ({exc}).")
    return {"rules": rules, "capacity": capacity, "warnings": warnings}


@transaction.atomic
def coverage_rules_update(
    *, engagement: Engagement, rules: Sequence[coverage.CoverageRule], actor: User | None
) -> None:
    for rule in rules:
        if rule.touches_per_year < 0 or (
            rule.accounts_per_rep is not None and rule.accounts_per_rep <= 0
        ):
            raise ValidationError(
                f"{rule.segment} {rule.tier}: touches must be 0 or more and accounts per rep "
                "above 0 (leave it blank when no rep carries these accounts)."
            )
        CoverageRule.objects.update_or_create(
            engagement=engagement,
            segment=rule.segment,
            tier=rule.tier,
            defaults={
                "touches_per_year": rule.touches_per_year,
                "channel": rule.channel,
                "accounts_per_rep": rule.accounts_per_rep,
            },
        )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="coverage.updated",
        summary="Coverage model changed",
    )


@transaction.atomic
def capacity_update(
    *, engagement: Engagement, by_state: dict[str, int], actor: User | None
) -> CapacitySettings:
    row = capacity_settings_get(engagement=engagement)
    for state, value in by_state.items():
        if state not in coverage.RAMP_STATES or not (0 < int(value) <= 500):
            raise ValidationError(f"Capacity for {state} must be 1–500 accounts.")
        setattr(row, state, int(value))
    row.save()
    assumptions_sync(engagement=engagement, actor=actor)
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="capacity.updated",
        summary="Rep capacity: "
        + ", ".join(f"{coverage.RAMP_STATES[s]} {v}" for s, v in row.by_state().items()),
    )
    return row


def coverage_overview(*, engagement: Engagement) -> dict[str, Any]:
    """Everything the coverage page shows, in a fixed number of queries whatever the data."""
    from django.db.models import Count

    labels = segment_definition_get(engagement=engagement).scheme().labels
    counts = {
        (row["segment"], row["tier"]): row["n"]
        for row in Account.objects.filter(engagement=engagement)
        .values("segment", "tier")
        .annotate(n=Count("id"))
        .order_by()
    }
    inputs = coverage_inputs(engagement=engagement)
    table = coverage.coverage_table(counts, inputs["rules"])
    capacity = capacity_settings_get(engagement=engagement)
    by_state = inputs["capacity"]
    reps = [r for r in Rep.objects.filter(engagement=engagement, active=True) if r.carries_accounts]
    hires = [h for h in PlannedHire.objects.filter(engagement=engagement) if h.carries_accounts]
    seats = [coverage.Seat(r.segment, r.ramp_state, r.effective_capacity(by_state)) for r in reps]
    # A planned hire counts once ramped: the plan is about the team the market will have.
    planned = [coverage.Seat(h.segment, "ramped", by_state["ramped"]) for h in hires]
    return {
        "rules": table,
        "headcount": coverage.headcount(table, seats, planned, by_state, labels),
        "capacity": capacity,
        "capacity_in_use": by_state,
        "warnings": inputs["warnings"],
        "segments": labels,
        "unvalued": sum(n for (seg, _), n in counts.items() if not seg),
    }


# --- Team roster -------------------------------------------------------------------------------


def rep_save(*, rep: Rep, actor: User | None) -> Rep:
    created = rep.pk is None
    rep.full_clean()
    rep.save()
    activity_record(
        engagement=rep.engagement,
        actor=actor,
        verb="team.rep_added" if created else "team.rep_changed",
        summary=f"Team: {rep.name} ({rep.get_role_display()}, {rep.get_ramp_state_display()})"
        + (" added" if created else " changed"),
        data={"rep": rep.pk},
    )
    return rep


def rep_delete(*, rep: Rep, actor: User | None) -> None:
    engagement, name = rep.engagement, rep.name
    rep.delete()
    activity_record(
        engagement=engagement, actor=actor, verb="team.rep_removed", summary=f"Team: {name} removed"
    )


def hire_save(*, hire: PlannedHire, actor: User | None) -> PlannedHire:
    created = hire.pk is None
    hire.full_clean()
    hire.save()
    activity_record(
        engagement=hire.engagement,
        actor=actor,
        verb="team.hire_planned" if created else "team.hire_changed",
        summary=f"Planned hire {hire.title} from {hire.start_date:%Y-%m-%d}"
        + (" added" if created else " changed"),
        data={"hire": hire.pk},
    )
    return hire


def hire_delete(*, hire: PlannedHire, actor: User | None) -> None:
    engagement, title = hire.engagement, hire.title
    hire.delete()
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="team.hire_removed",
        summary=f"Planned hire {title} removed",
    )


# --- The Valued Account List -------------------------------------------------------------------

VALUED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("external_id", "External id"),
    ("name", "Account"),
    ("domain", "Domain"),
    ("industry", "Industry"),
    ("employees", "Employees"),
    ("annual_revenue", "Annual revenue (USD)"),
    ("country", "Country"),
    ("state", "State"),
    ("city", "City"),
    ("postal_code", "Postal code"),
    ("current_owner", "Current owner"),
    ("named_account_owner", "Named-account owner"),
    ("is_customer", "Customer"),
    ("contract_value", "Current ACV (USD)"),
    ("segment", "Segment"),
    ("tier", "ICP tier"),
    ("value", "Account value (USD)"),
    ("value_explanation", "How the value was computed"),
)


def valued_accounts_table(*, engagement: Engagement) -> tuple[list[str], Any, int]:
    """Header, row iterator (highest value first) and row count of the Valued Account List.

    Custom attributes follow the standard columns. Reads in chunks: memory stays flat.
    """
    keys = custom_attribute_keys(engagement=engagement)
    header = [label for _, label in VALUED_COLUMNS] + keys
    fields = [f for f, _ in VALUED_COLUMNS]
    queryset = Account.objects.filter(engagement=engagement).order_by("-value", "name", "pk")
    count = queryset.count()

    def rows():
        for values in queryset.values_list(*fields, "custom").iterator(chunk_size=5000):
            *standard, custom = values
            yield [*standard, *((custom or {}).get(k) for k in keys)]

    return header, rows(), count


def valued_accounts_export(
    *, engagement: Engagement, progress: Progress = _no_progress
) -> dict[str, Any]:
    """Write the Valued Account List as XLSX under MEDIA_ROOT (a sheet of accounts and one of
    the valuation summary); returns the file's path relative to MEDIA_ROOT."""
    from engagements.exports import xlsx_write

    header, rows, count = valued_accounts_table(engagement=engagement)
    summary = ValuationSummary.objects.filter(engagement=engagement).first()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(engagement.pk)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"valued-accounts-{engagement.pk}-{stamp}.xlsx"
    summary_rows = _summary_sheet(engagement, summary)
    written = xlsx_write(
        folder / name,
        [
            ("Valued accounts", header, rows),
            ("Valuation summary", ["Item", "Value"], summary_rows),
        ],
        widths={
            "Valued accounts": [
                14,
                34,
                22,
                20,
                11,
                18,
                8,
                7,
                16,
                10,
                18,
                18,
                9,
                16,
                14,
                11,
                16,
                90,
            ],
            "Valuation summary": [48, 60],
        },
        progress=lambda p, m: progress(5 + 0.9 * p, m),
        total_rows=count,
    )
    return {
        "path": str(Path("exports") / str(engagement.pk) / name),
        "filename": name,
        "rows": written,
        "message": f"Wrote {written:,} accounts",
    }


def _summary_sheet(engagement: Engagement, summary: ValuationSummary | None) -> list[list[Any]]:
    inputs = model_inputs(engagement=engagement)
    rows: list[list[Any]] = [["Engagement", str(engagement)]]
    if summary is not None:
        rows.append(["Valued at", summary.computed_at.replace(tzinfo=None)])
        rows.append(["Accounts", summary.account_count])
        rows.append(["Total value (USD)", summary.summary.get("total_value", 0)])
    rows.append(["", ""])
    rows.append(["Methodology", ""])
    rows += [[line, ""] for line in valuation.methodology_lines(inputs["params"], inputs["scheme"])]
    if summary is not None:
        rows.append(["", ""])
        rows.append(["Market by segment", "accounts · total value · average value"])
        for m in summary.market:
            rows.append(
                [
                    m["segment"],
                    f"{m['accounts']:,} · ${m['total_value']:,.0f} · ${m['average_value']:,.0f}",
                ]
            )
    return rows


# --- The approved territory map: the contract with routing ----------------------------------------
# (docs/territory-design.md §10; the work is in territories.design)


@dataclass(frozen=True)
class ApprovedTerritory:
    """One territory of the approved run.

    ``units``: geographic unit ids (``territories.geo`` scheme) of a unit-level pod's territory;
    ``accounts``: account external ids — the territory's accounts in an account-level pod, and
    in either kind the named accounts of its owner (also listed in ``ApprovedMap.named_accounts``,
    which routing evaluates first). ``count`` and ``value`` are as approved.
    """

    key: str
    label: str
    pod: str
    rep: str
    units: tuple[str, ...]
    accounts: tuple[str, ...]
    count: int
    value: float


@dataclass(frozen=True)
class ApprovedMap:
    """The approved run: the hierarchy it used and its territories. ``named_accounts`` are
    ``(external_id, domain, owner)``, evaluated before the hierarchy."""

    engagement_id: int
    run_id: int
    approved_at: datetime
    approved_by: str
    hierarchy: HierarchySpec
    named_accounts: tuple[tuple[str, str, str], ...]
    territories: tuple[ApprovedTerritory, ...]


def approved_map(*, engagement: Engagement) -> ApprovedMap | None:
    """The approved territory map of ``engagement``, or None when no run is approved."""
    from territories import design

    return design.approved_map(engagement=engagement)


def drift_check(*, engagement: Engagement) -> dict[str, Any] | None:
    """Current data against the approved run (plain data; see ``design.drift_check``)."""
    from territories import design

    return design.drift_check(engagement=engagement)
