"""The pure data-quality report on small hand-made frames."""

from __future__ import annotations

import pandas as pd

from territories.quality import quality_report


def _frame(rows):
    return pd.DataFrame(rows)


def test_blanks_duplicates_unparseable_and_no_geography_are_counted():
    frame = _frame(
        [
            {
                "external_id": "1",
                "name": "Acme",
                "domain": "acme.com",
                "state": "CA",
                "postal_code": "94105",
                "country": "US",
                "annual_revenue": 10.0,
            },
            {
                "external_id": "2",
                "name": "acme ",
                "domain": "ACME.com",
                "state": "ZZ",
                "postal_code": "9410",
                "country": "US",
                "annual_revenue": -5.0,
            },
            {
                "external_id": "3",
                "name": "Beta",
                "domain": "",
                "state": "",
                "postal_code": "",
                "city": "",
                "country": "US",
                "annual_revenue": None,
            },
            {
                "external_id": "4",
                "name": "Gamma",
                "domain": "gamma.io",
                "state": "Ontario",
                "postal_code": "K1A 0B1",
                "country": "Canada",
                "annual_revenue": 3.0,
            },
        ]
    )
    report = quality_report(frame)
    assert report["total"] == 4
    blanks = {row["field"]: row["count"] for row in report["blanks"]}
    assert blanks["domain"] == 1
    assert blanks["annual_revenue"] == 1
    assert blanks["industry"] == 4  # a missing column is entirely blank
    assert report["duplicates"]["domain"] == {"count": 2, "groups": 1, "examples": ["1", "2"]}
    assert report["duplicates"]["name"]["count"] == 2
    unparseable = {row["field"]: row for row in report["unparseable"]}
    # Canadian provinces and postcodes are not US errors.
    assert unparseable["state"]["examples"] == ["2"]
    assert unparseable["postal_code"]["examples"] == ["2"]
    assert unparseable["annual_revenue"]["examples"] == ["2"]
    assert report["no_geography"] == {"count": 1, "pct": 25.0, "examples": ["3"]}


def test_an_empty_universe_gives_zeroes_not_errors():
    report = quality_report(pd.DataFrame(columns=["external_id"]))
    assert report["total"] == 0
    assert all(row["count"] == 0 and row["pct"] == 0.0 for row in report["blanks"])
    assert report["no_geography"]["count"] == 0


def test_zip_plus_four_is_a_valid_postal_code():
    frame = _frame(
        [{"external_id": "1", "state": "MA", "postal_code": "02134-1234", "country": "USA"}]
    )
    unparseable = {row["field"]: row["count"] for row in quality_report(frame)["unparseable"]}
    assert unparseable["postal_code"] == 0
