"""Re-valuation of the universe, and the parameters in the assumptions register."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from engagements.models import Assumption
from engagements.services import assumption_decide, assumption_effective_value
from territories import segments, services, tiers
from territories.models import Account, ValuationSummary
from tests.factories import make_account, make_meeting


@pytest.fixture
def universe(world):
    """Three Commercial customers (ACV 40k, 48k, 60k), one Enterprise, three prospects."""
    e = world.engagement
    for i, acv in enumerate([40_000, 48_000, 60_000]):
        make_account(e, external_id=f"C-{i}", annual_revenue=5e6, employees=50,
                     industry="Software", is_customer=True, contract_value=acv)  # fmt: skip
    make_account(e, external_id="C-E", annual_revenue=2e9, is_customer=True, contract_value=1e6)
    make_account(e, external_id="P-1", annual_revenue=5e6, employees=50, industry="Software")
    make_account(e, external_id="P-2", annual_revenue=5e6, employees=5, industry="Retail")
    make_account(e, external_id="P-3", annual_revenue=3e9, employees=9000, industry="Software")
    return e


def value_of(external_id):
    return Account.objects.get(external_id=external_id)


def test_revaluing_writes_segment_tier_value_and_explanation(universe):
    summary = services.accounts_revalue(engagement=universe)
    p1 = value_of("P-1")
    assert p1.segment == "Commercial" and p1.tier == "unqualified"
    assert p1.value == 28_800
    assert p1.value_explanation == (
        "Commercial · unqualified prospect: median customer ACV $48,000 × hedge 0.6 = $28,800"
    )
    assert value_of("C-E").value == 1_200_000
    assert value_of("P-3").segment == "Enterprise"
    assert summary.account_count == 7
    assert summary.summary["total_value"] == sum(a.value for a in Account.objects.all())
    market = {row["segment"]: row for row in summary.market}
    assert market["Enterprise"]["accounts"] == 2
    assert [row["hedge"] for row in summary.sensitivity] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def test_revaluing_twice_replaces_and_never_adds(universe):
    services.accounts_revalue(engagement=universe)
    first = sorted(Account.objects.values_list("external_id", "value", "value_explanation"))
    services.accounts_revalue(engagement=universe)
    assert sorted(Account.objects.values_list("external_id", "value", "value_explanation")) == first
    assert ValuationSummary.objects.count() == 1


def test_tier_rules_and_segments_change_the_values(universe, world):
    services.tier_rule_save(
        engagement=universe, rule=None, tier="T1", name="Software",
        conditions=[tiers.Condition("industry", "in", ("Software",))], actor=world.architect,
    )  # fmt: skip
    services.segment_definition_update(
        engagement=universe,
        scheme=segments.SegmentScheme(
            "employees", (segments.Band("Big", 100), segments.Band("Small"))
        ),
        actor=world.architect,
    )
    services.accounts_revalue(engagement=universe)
    p1 = value_of("P-1")
    assert (p1.segment, p1.tier) == ("Small", "T1")
    assert p1.value_explanation.startswith("Small · T1 prospect: median customer ACV $48,000")
    assert value_of("P-3").segment == "Big"


def test_every_parameter_is_registered_as_an_assumption(universe, world):
    services.accounts_revalue(engagement=universe)
    # Only the territories app's own keys (the Definition Alignment Document registers
    # segments.enterprise_threshold when the engagement is created).
    register = {
        key: a
        for key, a in services.assumption_states(engagement=universe).items()
        if a.source == "territories"
    }
    assert set(register) == {
        "segments.thresholds", "tiers.T1.rules", "tiers.T2.rules", "tiers.T3.rules",
        "valuation.method", "valuation.statistic", "valuation.hedge_factor",
        "valuation.expansion_factor", "valuation.min_customers", "valuation.scale_basis",
        "valuation.caps", "coverage.model", "coverage.capacity",
    }  # fmt: skip
    hedge = register["valuation.hedge_factor"]
    assert hedge.state == Assumption.State.ASSUMED
    assert hedge.statement == "Prospects are valued at 0.6 × the segment-tier benchmark"
    assert hedge.value == 0.6 and hedge.source == "territories"
    assert register["segments.thresholds"].blocking is True
    assert register["segments.thresholds"].value["bands"][0]["label"] == "Enterprise"


def test_changing_a_parameter_puts_a_confirmed_assumption_back_to_assumed(universe, world):
    services.accounts_revalue(engagement=universe)
    meeting = make_meeting(universe)
    hedge = services.assumption_states(engagement=universe)["valuation.hedge_factor"]
    assumption_decide(assumption=hedge, decision="confirm", meeting=meeting, actor=world.architect)
    params = services.valuation_settings_get(engagement=universe).params()
    services.valuation_settings_update(
        engagement=universe, params=params.__class__(**{**params.as_dict(), "hedge_factor": 0.5}),
        actor=world.architect,
    )  # fmt: skip
    hedge.refresh_from_db()
    assert hedge.state == Assumption.State.ASSUMED
    assert hedge.value == 0.5
    assert assumption_effective_value(engagement=universe, key="valuation.hedge_factor") == 0.5


def test_a_value_corrected_in_a_meeting_is_what_the_valuation_uses(universe, world):
    services.accounts_revalue(engagement=universe)
    summary = ValuationSummary.objects.get()
    meeting = make_meeting(universe, title="Valuation Review")
    hedge = services.assumption_states(engagement=universe)["valuation.hedge_factor"]
    assumption_decide(
        assumption=hedge, decision="correct", value=0.5, meeting=meeting, actor=world.architect
    )
    assert services.valuation_is_stale(engagement=universe, summary=summary)
    services.accounts_revalue(engagement=universe)
    assert value_of("P-1").value_explanation.endswith("× hedge 0.5 = $24,000")
    inputs = services.model_inputs(engagement=universe)
    assert inputs["corrections"] == ["hedge factor: 0.5"]
    # Re-registering the configured value (any edit elsewhere) does not undo the correction.
    services.assumptions_sync(engagement=universe)
    hedge.refresh_from_db()
    assert hedge.state == Assumption.State.CORRECTED


@pytest.mark.parametrize("value", [7, 1, 1.0, 0, "lots"])
def test_a_hedge_factor_correction_that_is_not_below_one_is_refused_in_the_register(
    universe, world, value
):
    services.accounts_revalue(engagement=universe)
    meeting = make_meeting(universe)
    hedge = services.assumption_states(engagement=universe)["valuation.hedge_factor"]
    with pytest.raises(ValidationError) as caught:
        assumption_decide(
            assumption=hedge,
            decision="correct",
            value=value,
            meeting=meeting,
            actor=world.architect,
        )
    assert caught.value.messages[0].startswith("Hedge factor must be")
    hedge.refresh_from_db()
    assert (
        hedge.state == Assumption.State.ASSUMED
        and not hedge.history.filter(to_state=Assumption.State.CORRECTED).exists()
    )
    assert services.model_inputs(engagement=universe)["params"].hedge_factor == 0.6


def test_the_register_page_names_the_hedge_factor_when_a_correction_is_refused(
    universe, world, client
):
    services.accounts_revalue(engagement=universe)
    meeting = make_meeting(universe)
    hedge = services.assumption_states(engagement=universe)["valuation.hedge_factor"]
    client.force_login(world.architect)
    response = client.post(
        f"/engagements/{universe.pk}/assumptions/{hedge.pk}/",
        {"decision": "correct", "meeting": meeting.pk, "value": "1"},
    )
    assert response.status_code == 200
    assert "Hedge factor must be above 0 and below 1" in response.content.decode()
    hedge.refresh_from_db()
    assert hedge.state == Assumption.State.ASSUMED


def test_a_correction_stored_before_the_check_is_ignored_with_a_warning(universe, world):
    services.accounts_revalue(engagement=universe)
    meeting = make_meeting(universe)
    hedge = services.assumption_states(engagement=universe)["valuation.hedge_factor"]
    hedge.correct(by=world.architect, meeting=meeting, value=7)  # bypasses the service's check
    inputs = services.model_inputs(engagement=universe)
    assert inputs["params"].hedge_factor == 0.6
    assert "Hedge factor must be above 0 and below 1" in inputs["warnings"][0]


def test_a_corrected_tier_rule_is_used(universe, world):
    services.accounts_revalue(engagement=universe)
    meeting = make_meeting(universe)
    t1 = services.assumption_states(engagement=universe)["tiers.T1.rules"]
    corrected = [{"name": "Retail", "conditions": [{"field": "industry", "op": "in",
                                                     "value": ["Retail"]}]}]  # fmt: skip
    assumption_decide(
        assumption=t1, decision="correct", value=corrected, meeting=meeting, actor=world.architect
    )
    services.accounts_revalue(engagement=universe)
    assert value_of("P-2").tier == "T1"


def test_the_stale_flag_follows_the_configuration(universe, world):
    assert services.valuation_is_stale(engagement=universe, summary=None)
    summary = services.accounts_revalue(engagement=universe)
    assert not services.valuation_is_stale(engagement=universe, summary=summary)
    services.tier_rule_save(
        engagement=universe, rule=None, tier="T2", name="",
        conditions=[tiers.Condition("employees", "gte", 10.0)], actor=world.architect,
    )  # fmt: skip
    assert services.valuation_is_stale(engagement=universe, summary=summary)


def test_publishing_for_sign_off_is_idempotent_and_versions_changes(universe, world):
    from engagements.services import signoff_latest

    with pytest.raises(Exception, match="has no rule yet"):
        services.territories_publish(
            engagement=universe, subject="icp_matrix", actor=world.architect
        )
    services.tier_rule_save(
        engagement=universe, rule=None, tier="T1", name="Core",
        conditions=[tiers.Condition("industry", "in", ("Software",))], actor=world.architect,
    )  # fmt: skip
    first = services.territories_publish(
        engagement=universe, subject="icp_matrix", actor=world.architect
    )
    again = services.territories_publish(
        engagement=universe, subject="icp_matrix", actor=world.architect
    )
    assert first.pk == again.pk
    assert "  1. industry is one of Software (Core)" in first.text
    assert services.signoff_changed(engagement=universe, subject="icp_matrix") is False
    services.tier_rule_save(
        engagement=universe, rule=None, tier="T3", name="",
        conditions=[tiers.Condition("employees", "gte", 1.0)], actor=world.architect,
    )  # fmt: skip
    assert services.signoff_changed(engagement=universe, subject="icp_matrix") is True
    second = services.territories_publish(
        engagement=universe, subject="icp_matrix", actor=world.architect
    )
    assert second.version == 2
    assert signoff_latest(engagement=universe, subject="icp_matrix").pk == second.pk
    methodology = services.territories_publish(
        engagement=universe, subject="valuation_methodology", actor=world.architect
    )
    assert "a hedge factor of 0.6" in methodology.text
