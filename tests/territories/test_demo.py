"""The demo's territories step: imported accounts, agreed matrix, signed valuation, a roster."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from engagements.models import Assumption, Engagement
from engagements.services import signoff_state
from territories.models import Account, AccountImport, PlannedHire, Rep, TierRule


@pytest.mark.django_db
def test_the_demo_shows_every_territories_feature_and_reruns_cleanly(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("demo", accounts=400, seed=3, password="demo-pass-x", stdout=StringIO())
    northwind = Engagement.objects.get(organization__name="Northwind Analytics")
    bluepeak = Engagement.objects.get(organization__name="Bluepeak Logistics")

    record = AccountImport.objects.get(engagement=northwind)
    assert record.status == AccountImport.Status.IMPORTED
    assert record.created_count == 400
    assert not Account.objects.filter(engagement=northwind, value__isnull=True).exists()
    assert Account.objects.filter(engagement=northwind, tier="T1").exists()
    assert set(Account.objects.filter(engagement=northwind).values_list("segment", flat=True)) <= {
        "Enterprise", "Mid-Market", "SMB"
    }  # fmt: skip
    assert TierRule.objects.filter(engagement=northwind).count() == 4
    tiers_register = Assumption.objects.filter(engagement=northwind, key__startswith="tiers.")
    assert {a.state for a in tiers_register} == {Assumption.State.CONFIRMED}
    assert signoff_state(engagement=northwind, subject="icp_matrix") == "approved"
    assert signoff_state(engagement=northwind, subject="valuation_methodology") == "approved"
    assert signoff_state(engagement=bluepeak, subject="valuation_methodology") == "pending"
    assert Rep.objects.filter(engagement=northwind).count() == 13
    assert PlannedHire.objects.filter(engagement=northwind).count() == 3

    snapshot = sorted(Account.objects.values_list("external_id", "value", "value_explanation"))
    call_command("demo", accounts=400, seed=3, password="demo-pass-x", stdout=StringIO())
    assert (
        sorted(Account.objects.values_list("external_id", "value", "value_explanation")) == snapshot
    )
    assert AccountImport.objects.filter(engagement=northwind).count() == 1
    assert Rep.objects.filter(engagement=northwind).count() == 13
    assert signoff_state(engagement=northwind, subject="icp_matrix") == "approved"
