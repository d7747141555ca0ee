"""The customer-list check (pure): usable files pass, every bad row is named."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from engagements.customer_list import CustomerListError, inspect_customer_list, parse_money

LIMIT = 50 * 1024 * 1024


def _check(content: bytes, name: str = "customers.csv"):
    return inspect_customer_list(content, filename=name, max_uncompressed=LIMIT)


def test_a_good_csv_is_summarised():
    summary = _check(
        b'Account Name,ACV,Industry\nAcme,120000,Software\nGlobex,"$45,500.50",Retail\n'
    )
    assert (summary.rows, summary.name_column, summary.value_column) == (2, "Account Name", "ACV")
    assert summary.total_value == 165500.5
    assert summary.columns == ("Account Name", "ACV", "Industry")


def test_a_good_xlsx_is_summarised():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer", "Contract value"])
    sheet.append(["Acme", 1000])
    sheet.append(["Globex", 2500.5])
    buffer = io.BytesIO()
    book.save(buffer)
    summary = _check(buffer.getvalue(), "list.xlsx")
    assert (summary.rows, summary.total_value) == (2, 3500.5)


def test_every_bad_row_is_named_by_row_and_column():
    content = b"Company,ARR\nAcme,12k\n,500\nInitech,\nHooli,-10\nOk Inc,100\n"
    with pytest.raises(CustomerListError) as info:
        _check(content)
    assert info.value.problems == [
        "row 2, column “ARR”: “12k” is not an amount",
        "row 3, column “Company”: the customer name is blank",
        "row 4, column “ARR”: the contract value is blank",
        "row 5, column “ARR”: -10.00 is negative",
    ]


def test_missing_columns_are_explained():
    with pytest.raises(CustomerListError) as info:
        _check(b"Who,How much\nAcme,10\n")
    assert "No customer name column" in info.value.problems[0]
    assert "No contract value column" in info.value.problems[1]
    assert info.value.problems[2] == "Columns found: Who, How much"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "c.csv", "is empty"),
        (b"Account name,ACV\n", "c.csv", "no customers"),
        (b"hello", "c.pdf", "upload a .csv or .xlsx"),
        (b"not a zip", "c.xlsx", "not a valid .xlsx"),
    ],
)
def test_unusable_files(content, name, message):
    with pytest.raises(CustomerListError, match=message):
        _check(content, name)


def test_a_zip_bomb_is_refused_before_parsing():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/big.xml", b"0" * (2 * 1024 * 1024))
    with pytest.raises(CustomerListError, match="unpacks to"):
        inspect_customer_list(buffer.getvalue(), filename="b.xlsx", max_uncompressed=1024 * 1024)


def test_problems_are_capped_with_a_count_of_the_rest():
    rows = "\n".join(f"Acme {i},x" for i in range(30))
    with pytest.raises(CustomerListError) as info:
        _check(f"Account,ACV\n{rows}\n".encode())
    assert len(info.value.problems) == 21
    assert info.value.problems[-1] == "…and 10 more problems"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1,200", 1200.0),
        ("$3.5", 3.5),
        (" 7 ", 7.0),
        ("(40)", -40.0),
        (12, 12.0),
        ("abc", None),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_parse_money(raw, value):
    assert parse_money(raw) == value
