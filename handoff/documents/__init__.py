"""The documentation package's documents: a registry of PDF documents and spreadsheets.

Each ``PdfDocument`` names its template and a ``context(sources)`` function that returns the
template context from the engagement's real data (``handoff.documents.sources.Sources``); each
``Spreadsheet`` writes an XLSX file. ``handoff.package`` renders them in registry order.
Every context carries ``sections`` — ``(anchor, title)`` pairs — which the base template turns
into the table of contents and the tests use to check the headings.

Each document names the playbook document it delivers (``playbook_slug``, a slug of the
playbook's ``documents`` list, seed 000). A recorded package ticks the 4c "Documentation
package delivered" items of what it delivered (event ``package_document:<slug>``, see
``delivered``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoff.documents import design, guides, strategy, technical, workbooks
from handoff.documents.sources import Sources

Context = dict[str, Any]


def _no_missing_text(context: Context) -> bool:
    """The usual test: the document is not a statement that its source does not exist yet (the
    ``missing`` text: no approved map, no valued accounts, no QA run …)."""
    return not context.get("missing")


def _nothing_more(context: Context) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class PdfDocument:
    slug: str
    title: str
    purpose: str
    template: str
    context: Callable[[Sources], Context]
    # The playbook document (``documents`` of the playbook, seed 000) this file is; "" for none.
    playbook_slug: str = ""
    # Whether a rendering (its context) delivers that document rather than saying what is missing.
    complete: Callable[[Context], bool] = _no_missing_text
    # Further playbook documents a rendering carries (the schedule's support contacts …).
    also_delivers: Callable[[Context], tuple[str, ...]] = _nothing_more

    @property
    def kind(self) -> str:
        return "pdf"


@dataclass(frozen=True)
class Spreadsheet:
    slug: str
    title: str
    purpose: str
    write: Callable[[Sources, Path], int]
    playbook_slug: str = ""

    @property
    def kind(self) -> str:
        return "xlsx"


def _pdf(slug: str, title: str, purpose: str, context, playbook_slug: str, **more) -> PdfDocument:
    return PdfDocument(
        slug, title, purpose, f"handoff/documents/{slug}.html", context, playbook_slug, **more
    )


def _has_object(context: Context) -> bool:
    return bool(context["has_object"])


def _growth_planned(context: Context) -> bool:
    return not context.get("missing") and not context.get("no_plan")


def _all_definitions_approved(context: Context) -> bool:
    """The final version: every definition approved by the customer."""
    return bool(context["terms"]) and context["pending"] == 0


def _schedule_generated(context: Context) -> bool:
    return bool(context["generated"])


DOCUMENTS: tuple[PdfDocument | Spreadsheet, ...] = (
    _pdf(
        "balanced-territory-map",
        "Balanced Territory Map",
        "The finalized territories with account counts and values per territory, for board "
        "presentations and rep communication.",
        design.territory_map,
        "balanced-territory-map",
    ),
    _pdf(
        "territory-hierarchy",
        "Territory Hierarchy Document",
        "The segmentation cuts in priority order, for internal alignment and new-hire onboarding.",
        design.hierarchy,
        "territory-hierarchy-document",
    ),
    _pdf(
        "growth-ready-territory-plan",
        "Growth-Ready Territory Plan",
        "Pre-planned cuts for when the team grows, for hiring decisions and expansion planning.",
        design.growth,
        "growth-ready-territory-plan",
        complete=_growth_planned,
    ),
    _pdf(
        "valuation-methodology",
        "Valuation Methodology Document",
        "How every account's dollar value is computed, the reference for the quarterly refresh.",
        strategy.valuation,
        "valuation-methodology-document",
    ),
    _pdf(
        "icp-tier-matrix",
        "ICP Tier Matrix",
        "The T1/T2/T3 criteria, validated against existing customers.",
        strategy.icp,
        "icp-tier-matrix",
    ),
    _pdf(
        "definition-alignment",
        "Definition Alignment Document",
        "The stakeholder-approved definitions, with the evidence of each sign-off.",
        strategy.definitions,
        "definition-alignment-document",
        complete=_all_definitions_approved,
    ),
    _pdf(
        "territory-update-guide",
        "Territory Update Guide",
        "Step by step: rep changes, new territories, boundary adjustments.",
        guides.update_guide,
        "territory-update-guide",
        complete=_has_object,
    ),
    _pdf(
        "routing-troubleshooting-guide",
        "Routing Troubleshooting Guide",
        "How to diagnose an incorrect assignment, with the routing order and real traces.",
        guides.troubleshooting,
        "routing-troubleshooting-guide",
        complete=_has_object,
    ),
    _pdf(
        "rules-of-engagement",
        "Rules of Engagement",
        "The dispute resolution process for contested account ownership and the holdover policy "
        "for territory transitions.",
        guides.rules_of_engagement,
        "rules-of-engagement",
    ),
    _pdf(
        "faq",
        "FAQ",
        "Answers to the questions every territory rollout raises, with this engagement's numbers.",
        guides.faq,
        "faq",
    ),
    _pdf(
        "maintenance-schedule",
        "Maintenance Schedule",
        "What to check monthly, quarterly, after the first sales cycle and annually, with red "
        "flags, the owner and dated occurrences for the next twelve months.",
        guides.maintenance,
        "maintenance-schedule",
        complete=_schedule_generated,
        also_delivers=guides.maintenance_also_delivers,
    ),
    _pdf(
        "tech-spec",
        "Tech Spec",
        "The territory object, the evaluation order, edge-case rules and the build sequence.",
        technical.tech_spec,
        "tech-spec",
    ),
    _pdf(
        "test-documentation",
        "Test Documentation",
        "The routing QA suite: test cases and their results across all scenarios.",
        technical.test_documentation,
        "test-documentation",
    ),
    Spreadsheet(
        "valued-account-list",
        "Valued Account List",
        "Every account with its dollar value, segment and ICP tier.",
        workbooks.valued_accounts,
        "valued-account-list",
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


def delivered(document: PdfDocument | Spreadsheet, context: Context | None) -> tuple[str, ...]:
    """The playbook documents a rendered file delivers (``context``: the PDF's, None for a
    spreadsheet): its ``playbook_slug`` unless the rendering only says what is still missing
    (no approved map, no territory object, a definition not yet signed …), and whatever else its
    context carries (the Maintenance Schedule's support contacts and training recordings)."""
    if isinstance(document, Spreadsheet):
        return (document.playbook_slug,) if document.playbook_slug else ()
    assert context is not None
    own = (document.playbook_slug,) if document.playbook_slug and document.complete(context) else ()
    return own + tuple(document.also_delivers(context))


def document(slug: str) -> PdfDocument | Spreadsheet:
    for doc in DOCUMENTS:
        if doc.slug == slug:
            return doc
    raise KeyError(slug)
