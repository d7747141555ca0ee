"""The ICP tier matrix editor: rules per tier, live preview, order, sign-off."""

from __future__ import annotations

import pytest

from engagements.models import Job
from territories import services, tiers
from territories.models import Account, TierRule
from tests.factories import make_account


def url(engagement, suffix=""):
    return f"/engagements/{engagement.pk}/accounts/tiers/{suffix}"


@pytest.fixture
def accounts(world):
    e = world.engagement
    make_account(e, external_id="1", industry="Software", employees=800, is_customer=True,
                 contract_value=50_000, custom={"growth": "high"})  # fmt: skip
    make_account(e, external_id="2", industry="Retail", employees=40, is_customer=True,
                 contract_value=20_000)  # fmt: skip
    make_account(e, external_id="3", industry="Software", employees=10)
    return e


def rule_form(tier="T1", name="", conditions=(), extra=None):
    data = {"tier": tier, "name": name, "cond-TOTAL_FORMS": str(len(conditions) + 1),
            "cond-INITIAL_FORMS": "0", "cond-MIN_NUM_FORMS": "0", "cond-MAX_NUM_FORMS": "12"}  # fmt: skip
    for i, (field, op, value) in enumerate(conditions):
        data.update({f"cond-{i}-field": field, f"cond-{i}-op": op, f"cond-{i}-value": value})
    data.update(extra or {})
    return data


def test_architect_adds_a_rule_and_the_universe_is_revalued(world, accounts, client, run_jobs):
    client.force_login(world.architect)
    form = rule_form("T1", "Software, mid-size", [("industry", "in", "Software"),
                                                  ("employees", "gte", "500")])  # fmt: skip
    with run_jobs():
        response = client.post(url(accounts, "new/"), form)
    assert response.status_code == 302
    rule = TierRule.objects.get()
    assert rule.conditions == [
        {"field": "industry", "op": "in", "value": ["Software"]},
        {"field": "employees", "op": "gte", "value": 500.0},
    ]
    job = Job.objects.get(engagement=accounts)
    assert response.url == url(accounts) + f"?job={job.pk}"
    assert job.status == Job.Status.SUCCEEDED
    assert Account.objects.get(external_id="1").tier == "T1"
    assert accounts.activity.filter(verb="tiers.rule_added").exists()
    page = client.get(url(accounts)).content.decode()
    assert "Software, mid-size:" in page
    assert "industry is one of Software and employees ≥ 500" in page


def test_rules_on_custom_attributes_are_offered_and_work(world, accounts, client, run_jobs):
    client.force_login(world.architect)
    page = client.get(url(accounts, "new/")).content.decode()
    assert '<option value="custom:growth">Custom: growth</option>' in page
    with run_jobs():
        client.post(url(accounts, "new/"), rule_form("T2", "", [("custom:growth", "eq", "high")]))
    assert Account.objects.get(external_id="1").tier == "T2"


def test_the_live_preview_shows_the_distribution_without_saving(world, accounts, client):
    services.accounts_revalue(engagement=accounts)
    client.force_login(world.architect)
    response = client.post(
        url(accounts, "preview/"),
        rule_form("T1", "", [("industry", "in", "Software")]),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="tier-preview"')
    assert "<strong>2</strong> of 3 accounts would match it" in html
    assert not TierRule.objects.exists()
    assert set(Account.objects.values_list("tier", flat=True)) == {"unqualified"}


def test_the_preview_of_an_edited_rule_replaces_the_saved_one(world, accounts, client):
    rule = services.tier_rule_save(
        engagement=accounts, rule=None, tier="T1", name="",
        conditions=[tiers.Condition("industry", "in", ("Retail",))], actor=None,
    )  # fmt: skip
    client.force_login(world.architect)
    response = client.post(
        url(accounts, "preview/"),
        rule_form("T1", "", [("employees", "gte", "5")], extra={"rule_pk": str(rule.pk)}),
    )
    assert "<strong>3</strong> of 3 accounts would match it" in response.content.decode()


def test_a_bad_condition_is_explained_in_the_preview_and_the_form(world, accounts, client):
    client.force_login(world.architect)
    form = rule_form("T1", "", [("employees", "between", "900 - 100")])
    preview = client.post(url(accounts, "preview/"), form).content.decode()
    assert "above the upper bound" in preview
    response = client.post(url(accounts, "new/"), form)
    assert response.status_code == 400
    assert "above the upper bound" in response.content.decode()
    empty = client.post(url(accounts, "new/"), rule_form("T1", "", []))
    assert "Add at least one condition." in empty.content.decode()
    assert not TierRule.objects.exists()


def test_rules_move_up_and_down_within_their_tier_and_can_be_deleted(
    world, accounts, client, run_jobs
):
    make = lambda v: services.tier_rule_save(  # noqa: E731
        engagement=accounts, rule=None, tier="T2", name=v,
        conditions=[tiers.Condition("industry", "eq", v)], actor=None,
    )  # fmt: skip
    first, second = make("Software"), make("Retail")
    client.force_login(world.architect)
    with run_jobs():
        client.post(url(accounts, f"{second.pk}/move/"), {"direction": "up"})
    assert list(TierRule.objects.order_by("position").values_list("name", flat=True)) == [
        "Retail", "Software"
    ]  # fmt: skip
    with run_jobs():
        client.post(url(accounts, f"{second.pk}/delete/"))
    assert list(TierRule.objects.values_list("name", "position")) == [("Software", 0)]
    assert first.pk in TierRule.objects.values_list("pk", flat=True)


def test_publishing_the_matrix_puts_it_in_front_of_the_customer(world, accounts, client):
    services.tier_rule_save(
        engagement=accounts, rule=None, tier="T1", name="Core",
        conditions=[tiers.Condition("industry", "in", ("Software",))], actor=None,
    )  # fmt: skip
    client.force_login(world.architect)
    response = client.post(url(accounts, "publish/"))
    assert response.status_code == 302
    page = client.get(url(accounts)).content.decode()
    assert 'id="signoff-panel-icp_matrix"' in page
    assert "Waiting for the customer approver." in page
    client.force_login(world.customer)
    page = client.get(url(accounts)).content.decode()
    assert "Review and sign" in page
    assert "Add a rule" not in page
    assert client.post(url(accounts, "publish/")).status_code == 403


@pytest.mark.parametrize("who", ["customer", "viewer", "engineer", "manager"])
def test_only_editors_change_the_matrix(world, accounts, client, who):
    client.force_login(getattr(world, who))
    assert client.get(url(accounts)).status_code == 200
    assert client.get(url(accounts, "new/")).status_code == 403
    response = client.post(url(accounts, "new/"), rule_form("T1", "", [("industry", "in", "X")]))
    assert response.status_code == 403
    assert not TierRule.objects.exists()
