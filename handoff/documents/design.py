"""Contexts of the territory-design documents: the map, the hierarchy, the growth plan."""

from __future__ import annotations

from typing import Any

from handoff.documents.sources import Sources

MAP_SUBJECT = "territory_map"
HIERARCHY_SUBJECT = "hierarchy"


def territory_map(src: Sources) -> dict[str, Any]:
    from territories.diagrams import territory_value_bars_svg

    if src.report is None:
        return {
            "sections": [("status", "Status of the territory map")],
            "missing": src.missing_run,
        }
    report = src.report
    territories = src.territories
    total_count = sum(t["count"] for t in territories)
    total_value = sum(t["value"] for t in territories)
    pods = [
        {
            "label": p["label"],
            "seats": p["seats"],
            "accounts": p["accounts"],
            "value": p["value"],
            "atom": p["atom"],
            "count_dev": p["metrics"].get("count", {}).get("max_dev_pct"),
            "value_dev": p["metrics"].get("value", {}).get("max_dev_pct"),
            "within": p["metrics"].get("within_tolerance"),
            "territories": len(p["territories"]),
            "flags": p["flags"],
        }
        for p in report["pods"]
    ]
    flagged = [
        {"label": t["label"], "rep": t["rep"], "flags": t["flags"]}
        for t in territories
        if t["flags"]
    ]
    return {
        "sections": [
            ("summary", "Summary"),
            ("maps", "Territory maps"),
            ("territories", "Territories: accounts and value"),
            ("balance", "Balance by pod"),
            ("flags", "Territories to watch"),
            ("approval", "Approval"),
        ],
        "run": report["run"],
        "params": report["params"],
        "metrics": report["metrics"],
        "summary": report["summary"],
        "maps": src.maps,
        "territories": territories,
        "total_count": total_count,
        "total_value": total_value,
        "pods": pods,
        "flagged": flagged,
        "tolerance_pct": round(100 * float(report["params"].get("tolerance", 0) or 0), 1),
        "value_chart": territory_value_bars_svg(
            [
                (p["label"], [(t["label"], t["value"], t["color"]) for t in p["territories"]])
                for p in report["pods"]
            ],
            tolerance=float(report["params"].get("tolerance", 0) or 0),
        ),
        "signoff": src.signoff(MAP_SUBJECT),
    }


def hierarchy(src: Sources) -> dict[str, Any]:
    from territories.hierarchy import ATOMS, CUTS

    spec = src.hierarchy_spec
    overview = src.hierarchy_overview
    pods = [
        {
            "key": p.pod.key,
            "label": p.pod.label,
            "segments": ", ".join(p.pod.segments) or "any",
            "regions": ", ".join(p.pod.regions) or "any",
            "states": ", ".join(p.pod.states) or "any",
            "industries": ", ".join(p.pod.industries) or "any",
            "seats": p.pod.seats,
            "reps": list(p.pod.reps),
            "vacant": p.vacant,
            "atom": ATOMS.get(p.pod.atom, p.pod.atom),
            "splits": sorted(p.pod.granularity_by_state.items()),
            "accounts": p.accounts,
            "value": p.value,
            "target": p.target,
        }
        for p in overview["pods"]
    ]
    return {
        "sections": [
            ("pyramid", "The hierarchy pyramid"),
            ("cuts", "Cut order and why"),
            ("segments", "Segments"),
            ("pods", "Pods, seats and accounts"),
            ("named", "Named accounts"),
            ("approval", "Approval"),
        ],
        "svg": src.hierarchy_svg,
        "cuts": [{"key": c, "label": CUTS.get(c, c)} for c in spec.cuts],
        "describe": spec.describe(),
        "segments": spec.scheme.describe(),
        "pods": pods,
        "named": overview["named"],
        "named_list": list(src.hierarchy.named_accounts),
        "unassigned": overview["unassigned"],
        "total_accounts": sum(p["accounts"] for p in pods),
        "total_value": sum(p["value"] for p in pods),
        "signoff": src.signoff(HIERARCHY_SUBJECT),
    }


def growth(src: Sources) -> dict[str, Any]:
    from territories import design

    sections = [
        ("runway", "Runway"),
        ("cuts", "Pre-planned cuts in hiring order"),
        ("losses", "What each rep gives up"),
        ("hiring", "Planned hires"),
    ]
    runway = src.growth["runway"] if src.growth else design.runway(engagement=src.engagement)
    from territories.models import PlannedHire

    hires = list(PlannedHire.objects.filter(engagement=src.engagement).order_by("start_date", "id"))
    context: dict[str, Any] = {"sections": sections, "runway": runway, "hires": hires}
    if src.run is None:
        context["missing"] = src.missing_run
        return context
    plan = src.growth
    context.update(
        run=src.report["run"],
        has_plan=plan["plan"] is not None,
        steps=plan["steps"],
        losses=plan["losses"],
        statements=plan["statements"],
        unplaced=plan["unplaced"],
        notes=plan["notes"],
        computed_at=plan.get("computed_at"),
        stale=plan.get("stale", False),
        no_plan=(
            f"No growth plan has been computed for {src.customer}'s approved map "
            f"({src.report['run']['title']}) yet."
            if plan["plan"] is None
            else ""
        ),
    )
    return context
