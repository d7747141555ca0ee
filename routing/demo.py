"""The routing part of ``manage.py demo``: for an engagement whose territory map is approved (the
territories demo approves Bluepeak's), the territory object generated from the approved run,
fallbacks, a team filled in, a rep change, a passing QA suite published for the engineering
sign-off, an accuracy audit of a CRM export, and an API token.

Idempotent and deterministic: the step deletes the engagement's routing data first and builds it
again from the approved run (the same run, accounts and seed give the same records).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from engagements.exports import csv_bytes
from engagements.models import Engagement, User
from routing import access, engine, services
from routing.models import RoutingSettings
from territories.services import accounts_frame, approved_map

SDRS = ("Priya Nair", "Marcus Bell", "Lena Fischer")
SES = ("Omar Haddad", "Grace Liu")
CSMS = ("Noah Kim", "Elena Rossi")
NEW_HIRE = "Jordan Blake"


def _reset(engagement: Engagement) -> None:
    for related in (
        engagement.qa_runs,
        engagement.qa_cases,
        engagement.routing_audits,
        engagement.routing_batches,
        engagement.routing_tokens,
        engagement.named_overrides,
        engagement.territory_changes,
        engagement.territory_records,
    ):
        related.all().delete()
    RoutingSettings.objects.filter(engagement=engagement).delete()


def _crm_export(
    engagement: Engagement, config: engine.RoutingConfig, rollout: dt.date, seed: int
) -> bytes:
    """A CRM export of the engagement's accounts as they would stand after rollout: created
    dates spread around the rollout date, owners as routed, except a few the CRM got wrong."""
    frame = accounts_frame(engagement=engagement)
    routed = engine.route_frame(frame, config, trace=False)
    rng = np.random.default_rng(seed)
    offsets = rng.integers(-120, 45, size=len(frame))  # up to today: rollout was 45 days ago
    owners = routed["owner"].to_numpy(dtype=object).copy()
    reps = sorted({t.team.ae for t in config.territories if t.team.ae})
    wrong = rng.random(len(frame)) < 0.06
    for i in np.flatnonzero(wrong).tolist():
        owners[i] = reps[(reps.index(owners[i]) + 1) % len(reps)] if owners[i] in reps else reps[0]
    header = ["Account ID", "Account Name", "Website", "Industry", "Annual Revenue", "Billing State/Province",
              "Billing City", "Billing Zip/Postal Code", "Account Owner", "Created Date"]  # fmt: skip
    rows = []
    for i, row in enumerate(frame.itertuples(index=False)):
        created = rollout + dt.timedelta(days=int(offsets[i]))
        revenue = "" if row.annual_revenue != row.annual_revenue else f"{row.annual_revenue:.0f}"
        rows.append([row.external_id, row.name, row.domain, row.industry, revenue, row.state,
                     row.city, row.postal_code, owners[i], created.isoformat()])  # fmt: skip
    return csv_bytes(header, rows)


@transaction.atomic
def demo_routing(
    *, engagement: Engagement, engineer: User, architect: User, ops: User, seed: int
) -> str:
    """The routing demo of one engagement; returns the API token it created (plaintext), or ""
    when the engagement has no approved territory map yet (nothing to route)."""
    _reset(engagement)
    if approved_map(engagement=engagement) is None:
        return ""
    services.territory_object_generate(engagement=engagement, actor=engineer)
    today = timezone.localdate()
    services.routing_settings_update(
        engagement=engagement,
        default_queue="RevOps routing queue",
        fallbacks={
            "segment": engine.Fallback(queue="RevOps: size review"),
            "region": engine.Fallback(queue="RevOps: geography review"),
            "state": engine.Fallback(queue="RevOps: geography review"),
            "sub_state": engine.Fallback(queue="RevOps: geography review"),
        },
        rollout_date=today - dt.timedelta(days=45),
        actor=engineer,
    )
    records = list(engagement.territory_records.order_by("pod", "key"))
    for i, record in enumerate(records):
        services.territory_save(
            engagement=engagement,
            territory=record,
            values={
                "sdr": SDRS[i % len(SDRS)],
                "se": SES[i % len(SES)],
                "csm": CSMS[i % len(CSMS)],
            },
            accounts=None,
            actor=engineer,
        )
    # A rep change after rollout, as the Territory Update Guide describes it: an AE left and
    # the new hire takes the territory over in the object, no flow edited.
    staffed = [r for r in records if r.ae and r.pod != records[0].pod]
    if staffed:
        services.territory_save(
            engagement=engagement,
            territory=staffed[-1],
            values={"ae": NEW_HIRE},
            accounts=None,
            actor=engineer,
        )
    services.qa_generate(engagement=engagement, actor=engineer)
    services.qa_run(engagement=engagement, user=engineer)
    services.qa_publish(engagement=engagement, actor=engineer)
    row = services.routing_settings_get(engagement=engagement)
    config = services.routing_config_build(engagement=engagement, settings_row=row)
    content = _crm_export(engagement, config, row.rollout_date, seed)
    audit = services.audit_create(
        engagement=engagement,
        upload=SimpleUploadedFile("crm-accounts-since-rollout.csv", content, "text/csv"),
        user=ops,
        rollout_date=row.rollout_date,
        sample_size=80,
    )
    type(audit).objects.filter(pk=audit.pk).update(seed=seed)
    audit.seed = seed
    services.audit_run(audit=audit)
    _, plaintext = access.token_create(engagement=engagement, name="Demo CRM flow", actor=engineer)
    return plaintext
