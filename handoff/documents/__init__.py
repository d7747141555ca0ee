"""The documentation package's documents: a registry of PDF documents and spreadsheets.

Each ``PdfDocument`` names its template and a ``context(sources)`` function that returns the
template context from the engagement's real data (``handoff.documents.sources.Sources``); each
``Spreadsheet`` writes an XLSX file. ``handoff.package`` renders them in registry order.
Every context carries ``sections`` — ``(anchor, title)`` pairs — which the base template turns
into the table of contents and the tests use to check the headings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoff.documents import design, guides, strategy, technical, workbooks
from handoff.documents.sources import Sources


@dataclass(frozen=True)
class PdfDocument:
    slug: str
    title: str
    purpose: str
    template: str
    context: Callable[[Sources], dict[str, Any]]

    @property
    def kind(self) -> str:
        return "pdf"


@dataclass(frozen=True)
class Spreadsheet:
    slug: str
    title: str
    purpose: str
    write: Callable[[Sources, Path], int]

    @property
    def kind(self) -> str:
        return "xlsx"


def _pdf(slug: str, title: str, purpose: str, context) -> PdfDocument:
    return PdfDocument(slug, title, purpose, f"handoff/documents/{slug}.html", context)


DOCUMENTS: tuple[PdfDocument | Spreadsheet, ...] = (
    _pdf(
        "balanced-territory-map",
        "Balanced Territory Map",
        "The finalized territories with account counts and values per territory, for board "
        "presentations and rep communication.",
        design.territory_map,
    ),
    _pdf(
        "territory-hierarchy",
        "Territory Hierarchy Document",
        "The segmentation cuts in priority order, for internal alignment and new-hire onboarding.",
        design.hierarchy,
    ),
    _pdf(
        "growth-ready-territory-plan",
        "Growth-Ready Territory Plan",
        "Pre-planned cuts for when the team grows, for hiring decisions and expansion planning.",
        design.growth,
    ),
    _pdf(
        "valuation-methodology",
        "Valuation Methodology Document",
        "How every account's dollar value is computed, the reference for the quarterly refresh.",
        strategy.valuation,
    ),
    _pdf(
        "icp-tier-matrix",
        "ICP Tier Matrix",
        "The T1/T2/T3 criteria, validated against existing customers.",
        strategy.icp,
    ),
    _pdf(
        "definition-alignment",
        "Definition Alignment Document",
        "The stakeholder-approved definitions, with the evidence of each sign-off.",
        strategy.definitions,
    ),
    _pdf(
        "territory-update-guide",
        "Territory Update Guide",
        "Step by step: rep changes, new territories, boundary adjustments.",
        guides.update_guide,
    ),
    _pdf(
        "routing-troubleshooting-guide",
        "Routing Troubleshooting Guide",
        "How to diagnose an incorrect assignment, with the routing order and real traces.",
        guides.troubleshooting,
    ),
    _pdf(
        "rules-of-engagement",
        "Rules of Engagement",
        "The dispute resolution process for contested account ownership and the holdover policy "
        "for territory transitions.",
        guides.rules_of_engagement,
    ),
    _pdf(
        "faq",
        "FAQ",
        "Answers to the questions every territory rollout raises, with this engagement's numbers.",
        guides.faq,
    ),
    _pdf(
        "maintenance-schedule",
        "Maintenance Schedule",
        "What to check monthly, quarterly, after the first sales cycle and annually, with red "
        "flags, the owner and dated occurrences for the next twelve months.",
        guides.maintenance,
    ),
    _pdf(
        "tech-spec",
        "Tech Spec",
        "The territory object, the evaluation order, edge-case rules and the build sequence.",
        technical.tech_spec,
    ),
    _pdf(
        "test-documentation",
        "Test Documentation",
        "The routing QA suite: test cases and their results across all scenarios.",
        technical.test_documentation,
    ),
    Spreadsheet(
        "valued-account-list",
        "Valued Account List",
        "Every account with its dollar value, segment and ICP tier.",
        workbooks.valued_accounts,
    ),
    Spreadsheet(
        "territory-assignments",
        "Territory assignments",
        "The territories with their team, the account lists and the named-account overrides.",
        workbooks.territory_assignments,
    ),
)


def filename(index: int, document: PdfDocument | Spreadsheet) -> str:
    return f"{index:02d}-{document.slug}.{document.kind}"


def document(slug: str) -> PdfDocument | Spreadsheet:
    for doc in DOCUMENTS:
        if doc.slug == slug:
            return doc
    raise KeyError(slug)
