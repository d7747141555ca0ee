"""Demo data of the territories app (called by ``manage.py demo``)."""

from __future__ import annotations

from engagements.models import Engagement
from territories.models import Account
from territories.services import accounts_upsert, data_quality_recompute
from territories.synthetic import generate_accounts


def demo_accounts(*, engagement: Engagement, n: int, seed: int, id_prefix: str) -> int:
    """Give ``engagement`` exactly the ``n`` synthetic accounts of ``seed`` (idempotent)."""
    frame = generate_accounts(n, seed=seed, id_prefix=id_prefix)
    accounts_upsert(engagement=engagement, frame=frame)
    # A smaller --accounts on a second run leaves no accounts from the first one behind.
    wanted = set(frame["external_id"])
    existing = Account.objects.filter(engagement=engagement).values_list("external_id", flat=True)
    stale = sorted(set(existing) - wanted)
    for start in range(0, len(stale), 500):
        Account.objects.filter(
            engagement=engagement, external_id__in=stale[start : start + 500]
        ).delete()
    data_quality_recompute(engagement=engagement)
    return n
