"""The synthetic universe is deterministic and looks like a real US market."""

from __future__ import annotations

from territories.synthetic import STATE_GDP, generate_accounts


def test_same_seed_gives_the_same_universe():
    a = generate_accounts(500, seed=7)
    b = generate_accounts(500, seed=7)
    c = generate_accounts(500, seed=8)
    assert a.equals(b)
    assert not a.equals(c)


def test_universe_has_real_zip_codes_and_heavy_states():
    frame = generate_accounts(5000, seed=1)
    assert frame["external_id"].is_unique
    assert frame["name"].is_unique
    located = frame[frame["postal_code"] != ""]
    assert located["postal_code"].str.fullmatch(r"\d{5}").all()
    assert set(located["state"]) <= set(STATE_GDP)
    share = frame["state"].value_counts(normalize=True)
    assert share["CA"] > 0.10  # California alone is over a tenth of the US economy
    assert share[["CA", "TX", "NY", "FL"]].sum() > 0.30
    # Leading zeros survive (New England ZIPs start with 0).
    assert located.loc[located["state"] == "MA", "postal_code"].str.startswith("0").all()


def test_revenue_is_skewed_and_customers_have_contract_values():
    frame = generate_accounts(5000, seed=2)
    revenue = frame["annual_revenue"]
    assert revenue.mean() > 2 * revenue.median()  # log-normal: a long tail of giants
    customers = frame[frame["is_customer"]]
    assert 0.03 < len(customers) / len(frame) < 0.15
    assert customers["contract_value"].notna().all()
    assert frame.loc[~frame["is_customer"], "contract_value"].isna().all()
