"""Contexts of the technical documents: the Tech Spec and the Test Documentation."""

from __future__ import annotations

from typing import Any

from handoff.documents.sources import Sources


def tech_spec(src: Sources) -> dict[str, Any]:
    context: dict[str, Any] = {
        "sections": [
            ("object", "Territory object"),
            ("order", "Evaluation order"),
            ("edge", "Edge-case rules"),
            ("granularity", "Geographic granularity"),
            ("build", "Build sequence"),
            ("territories", "Territory records"),
        ],
        "has_object": src.has_object,
        "missing": src.missing_object,
    }
    if src.tech_spec is None:
        context["sections"] = [("object", "Territory object")]
        return context
    context.update(spec=src.tech_spec, rows=src.territory_rows)
    return context


def test_documentation(src: Sources) -> dict[str, Any]:
    from routing import services

    qa = src.qa
    context: dict[str, Any] = {
        "sections": [
            ("summary", "Summary"),
            ("categories", "Results by category"),
            ("cases", "Test cases and results"),
            ("accuracy", "Routing accuracy audits"),
            ("approval", "Approval"),
        ],
        "checks": src.accuracy_checks,
        "accuracy": src.accuracy,
        "signoff": src.signoff(services.QA_SUBJECT),
    }
    if qa is None:
        context["missing"] = (
            f"No QA run has been recorded for {src.customer} yet: the routing engineer runs the "
            f"QA suite once the territory object is generated."
        )
        context["sections"] = [
            s for s in context["sections"] if s[0] not in ("categories", "cases")
        ]
        return context
    context.update(qa=qa, failed_cases=[c for c in qa["cases"] if not c["passed"]])
    return context
