"""Contexts of the strategy documents: valuation methodology, ICP tier matrix, definitions."""

from __future__ import annotations

from typing import Any

from handoff.documents.sources import Sources

VALUATION_CATEGORIES = ("valuation", "segments", "tam", "icp_tiers")


def _assumption_rows(src: Sources, categories: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for a in src.assumptions:
        if a.category not in categories:
            continue
        value = a.corrected_value if a.state == "corrected" else a.value
        rows.append(
            {
                "key": a.key,
                "category": a.get_category_display(),
                "statement": a.statement,
                "state": a.get_state_display(),
                "state_key": a.state,
                "value": value,
                "changed_at": a.changed_at,
            }
        )
    return rows


def valuation(src: Sources) -> dict[str, Any]:
    from territories import services, tiers
    from territories import valuation as valuation_lib

    inputs = src.model_inputs
    summary = src.valuation
    context: dict[str, Any] = {
        "sections": [
            ("method", "Methodology"),
            ("parameters", "Parameters and their assumption states"),
            ("summary", "Summary of the valued universe"),
            ("benchmarks", "Benchmarks"),
            ("sensitivity", "Sensitivity to the hedge factor"),
            ("refresh", "Quarterly refresh"),
            ("approval", "Approval"),
        ],
        "lines": valuation_lib.methodology_lines(inputs["params"], inputs["scheme"]),
        "params": inputs["params"],
        "assumptions": _assumption_rows(src, VALUATION_CATEGORIES),
        "warnings": inputs.get("warnings", []),
        "signoff": src.signoff(services.METHODOLOGY_SUBJECT),
    }
    if summary is None:
        context["missing"] = src.missing_valuation
        return context
    hedge = float(inputs["params"].hedge_factor)
    context.update(
        computed_at=summary.computed_at,
        account_count=summary.account_count,
        total=summary.summary,
        by_tier=[
            dict(row, tier=tiers.TIER_LABELS.get(row["tier"], row["tier"]))
            for row in summary.summary.get("by_tier", [])
        ],
        basis_counts=summary.summary.get("basis_counts", {}),
        benchmarks=summary.benchmarks,
        ratios=summary.ratios,
        market=summary.market,
        sensitivity=[
            dict(row, current=abs(float(row.get("hedge", -1)) - hedge) < 1e-9)
            for row in summary.sensitivity
        ],
        sensitivity_segments=sorted(
            {s for row in summary.sensitivity for s in (row.get("segments") or {})}
        ),
    )
    return context


def icp(src: Sources) -> dict[str, Any]:
    from territories import services, tiers

    inputs = src.model_inputs
    rules = inputs["rules"]
    summary = src.valuation
    matches = (summary.inputs.get("rule_matches", []) if summary else []) or []
    rows = []
    for index, rule in enumerate(rules):
        rows.append(
            {
                "tier": tiers.TIER_LABELS.get(rule.tier, rule.tier),
                "name": rule.name,
                "describe": rule.describe(),
                "matches": matches[index] if index < len(matches) else None,
            }
        )
    context: dict[str, Any] = {
        "sections": [
            ("rules", "Tier rules"),
            ("distribution", "Distribution across the account universe"),
            ("validation", "Validation against existing customers"),
            ("approval", "Approval"),
        ],
        "rules": rows,
        "lines": tiers.matrix_lines(rules),
        "assumptions": _assumption_rows(src, ("icp_tiers",)),
        "signoff": src.signoff(services.ICP_SUBJECT),
    }
    if summary is None:
        context["missing"] = src.missing_valuation
        return context
    by_tier = {row["tier"]: row for row in summary.summary.get("by_tier", [])}
    context.update(
        distribution=[
            dict(row, total_value=by_tier.get(row["tier"], {}).get("total_value"))
            for row in summary.tier_distribution
        ],
        account_count=summary.account_count,
        warnings=tiers.matrix_warnings(summary.tier_distribution),
    )
    return context


def definitions(src: Sources) -> dict[str, Any]:
    from engagements.services import definitions_overview, signoff_verify

    terms = []
    for view in definitions_overview(engagement=src.engagement):
        evidence = src.signoff(view.term.subject)
        terms.append(
            {
                "term": view.term.term,
                "kind": view.term.get_kind_display(),
                "draft": view.text,
                "changed": view.changed,
                "evidence": evidence,
            }
        )
    approved = sum(1 for t in terms if t["evidence"]["state"] == "approved")
    records, problems = signoff_verify(engagement=src.engagement)
    return {
        "sections": [
            ("status", "Status"),
            ("terms", "Final definitions"),
            ("evidence", "Sign-off evidence"),
            ("chain", "Integrity of the sign-off record"),
        ],
        "terms": terms,
        "approved": approved,
        "pending": len(terms) - approved,
        "chain_records": records,
        "chain_problems": [str(p) for p in problems],
    }
