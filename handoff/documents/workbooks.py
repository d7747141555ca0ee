"""The package's spreadsheets, written through the project's one XLSX writer
(``engagements.exports.xlsx_write``: every text cell neutralised against formula injection)."""

from __future__ import annotations

from pathlib import Path

from handoff.documents.sources import Sources


def valued_accounts(src: Sources, path: Path) -> int:
    """The Valued Account List (the same sheets as the territories app's export)."""
    from engagements.exports import xlsx_write
    from territories.services import _summary_sheet, valued_accounts_table

    header, rows, count = valued_accounts_table(engagement=src.engagement)
    return xlsx_write(
        path,
        [
            ("Valued accounts", header, rows),
            ("Valuation summary", ["Item", "Value"], _summary_sheet(src.engagement, src.valuation)),
        ],
        widths={
            "Valued accounts": [14, 34, 22, 20, 11, 18, 8, 7, 16, 10, 18, 18, 9, 16, 14, 11, 16, 90]
        },
        total_rows=count,
    )


def territory_assignments(src: Sources, path: Path) -> int:
    """The territory assignment: the territory object's records (Territory__c), account lists
    and named-account overrides when the object exists; the approved map's territories (and
    the accounts of account-level pods) otherwise; a one-line sheet saying neither exists."""
    from engagements.exports import xlsx_write
    from routing import services

    if src.has_object:
        sheets = [
            ("Territories", *services.territory_export(engagement=src.engagement)),
            ("Account lists", *services.account_list_export(engagement=src.engagement)),
            ("Named accounts", *services.override_export(engagement=src.engagement)),
        ]
    elif src.report is not None:
        from territories.models import RunAtom

        header = ["Territory key", "Territory", "Pod", "Rep", "Accounts", "Value (USD)"]
        rows = [
            [t["key"], t["label"], t["pod_label"], t["rep"] or "vacant", t["count"], t["value"]]
            for t in src.territories
        ]
        atoms = (
            RunAtom.objects.filter(run=src.run)
            .order_by("territory__key", "atom")
            .values_list("territory__key", "kind", "atom")
        )
        sheets = [
            ("Territories", header, rows),
            (
                "Atoms",
                ["Territory key", "Kind", "Unit or account"],
                atoms.iterator(chunk_size=5000),
            ),
        ]
    else:
        sheets = [("Territories", ["Status"], [[src.missing_run]])]
    return xlsx_write(path, sheets)
