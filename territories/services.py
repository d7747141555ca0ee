"""Work across rows of the territories app: load accounts into frames, write results back."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from django.db import transaction
from django.utils import timezone

from engagements.models import Engagement, Job
from territories.models import Account, DataQualitySummary
from territories.quality import STANDARD_FIELDS, quality_report

Progress = Callable[[float, str], None]


def _no_progress(progress: float, message: str = "") -> None:
    return None


def accounts_frame(
    *, engagement: Engagement, fields: tuple[str, ...] = STANDARD_FIELDS
) -> pd.DataFrame:
    """The engagement's accounts as a DataFrame with ``fields`` as columns (one query)."""
    rows = Account.objects.filter(engagement=engagement).order_by("pk").values_list(*fields)
    return pd.DataFrame.from_records(list(rows), columns=list(fields))


def data_quality_recompute(
    *, engagement: Engagement, job: Job | None = None, progress: Progress = _no_progress
) -> DataQualitySummary:
    """Recompute the data-quality report; replaces the previous one (idempotent)."""
    progress(10, "Loading accounts")
    frame = accounts_frame(engagement=engagement)
    progress(50, f"Checking {len(frame):,} accounts")
    report = quality_report(frame)
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


ACCOUNT_COLUMNS: tuple[str, ...] = tuple(f for f in STANDARD_FIELDS if f != "external_id")


def _clean(value):
    """pandas' missing markers (NaN, NA, NaT) become None; numpy scalars become Python ones."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


@transaction.atomic
def accounts_upsert(*, engagement: Engagement, frame: pd.DataFrame, batch_size: int = 2000) -> int:
    """Insert or update accounts by external id from ``frame`` (standard columns; any other
    column goes to ``custom``). One transaction: all rows land or none. Returns the row count."""
    custom_columns = [c for c in frame.columns if c not in STANDARD_FIELDS]
    now = timezone.now()
    text_fields = {f.name for f in Account._meta.fields if f.get_internal_type() == "CharField"}
    objects = []
    for record in frame.to_dict("records"):
        values = {field: _clean(record.get(field)) for field in ACCOUNT_COLUMNS}
        for field in text_fields & values.keys():
            if values[field] is None:
                values[field] = ""
        values["is_customer"] = bool(values["is_customer"])
        custom = {c: _clean(record[c]) for c in custom_columns}
        objects.append(
            Account(
                engagement=engagement,
                external_id=str(record["external_id"]),
                custom={k: v for k, v in custom.items() if v is not None},
                updated_at=now,
                **values,
            )
        )
    Account.objects.bulk_create(
        objects,
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=["engagement", "external_id"],
        update_fields=[*ACCOUNT_COLUMNS, "custom", "updated_at"],
    )
    return len(objects)
