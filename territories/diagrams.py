"""The hierarchy pyramid as SVG (seed 000: "Segmentation hierarchy diagram — visualize cut
priority order"; "Explain hierarchy: hierarchy pyramid"). Pure: no Django.

One band per cut, in evaluation order, narrow at the top (named accounts, the first and
smallest cut) and widening downwards, then the pods as boxes with their seats. Self-contained
(no external reference, presentation attributes only) so the page and WeasyPrint draw it alike.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from territories import geo
from territories.hierarchy import CUTS, HierarchySpec

BAND_HEIGHT = 44
BAND_GAP = 6
POD_HEIGHT = 92
FILL = ("#1f4e79", "#2e6da4", "#3f88c5", "#5ba3d9", "#8cc0e8")


def _t(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fit(text: str, width: float, size: float) -> str:
    """Cut ``text`` to roughly fit ``width`` px at font ``size`` (average glyph 0.56 em)."""
    room = max(4, int(width / (size * 0.56)))
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def _cut_text(spec: HierarchySpec, cut: str, named: int) -> str:
    if cut == "named_accounts":
        return (
            f"Named accounts: {named:,} to their owners first" if named else "Named accounts first"
        )
    if cut == "segment":
        return "Size segment: " + " · ".join(spec.scheme.describe())
    if cut == "region":
        used = sorted({r for p in spec.pods for r in p.regions if r})
        return "Region: " + (", ".join(used) if used else "any")
    if cut == "state":
        splits = [
            f"{geo.STATE_NAME[s]} by {g}"
            for s, g in sorted(
                {(s, g) for p in spec.pods if p.atom == "unit" for s, g in p.split_states.items()}
            )
        ]
        used = sorted({s for p in spec.pods for s in p.states if s})
        text = "State" + (f" ({', '.join(used)})" if used else "")
        return text + ("; split: " + ", ".join(splits) if splits else "")
    if cut == "industry":
        used = sorted({i for p in spec.pods for i in p.industries if i})
        return "Industry: " + (", ".join(used) if used else "any")
    return CUTS.get(cut, cut)


def hierarchy_diagram_svg(
    spec: HierarchySpec,
    *,
    pod_stats: Mapping[str, tuple[int, float]] | None = None,
    named: int = 0,
    width: int = 900,
    title: str = "Segmentation hierarchy",
) -> str:
    """The pyramid of ``spec``: cut bands then pod boxes. ``pod_stats`` maps pod key to
    (accounts, value) to print under each pod; ``named`` is the number of named accounts."""
    cuts = list(spec.cuts)
    levels = len(cuts)
    top = 40
    rows = []
    for i, cut in enumerate(cuts):
        y = top + i * (BAND_HEIGHT + BAND_GAP)
        share_top = 0.36 + 0.64 * i / max(levels, 1)
        share_bottom = 0.36 + 0.64 * (i + 1) / max(levels, 1)
        half_top, half_bottom = width * share_top / 2, width * share_bottom / 2
        cx = width / 2
        points = (
            f"{cx - half_top:.1f},{y} {cx + half_top:.1f},{y} "
            f"{cx + half_bottom:.1f},{y + BAND_HEIGHT} {cx - half_bottom:.1f},{y + BAND_HEIGHT}"
        )
        text = f"{i + 1}. {_cut_text(spec, cut, named)}"
        rows.append(
            f'<g><title>{_t(text)}</title><polygon points="{points}" fill="{FILL[min(i, len(FILL) - 1)]}"/>'
            f'<text x="{cx:.1f}" y="{y + BAND_HEIGHT / 2 + 5:.1f}" text-anchor="middle" fill="#ffffff" '
            f'font-size="14">{_t(_fit(text, 2 * half_top - 16, 14))}</text></g>'
        )
    y0 = top + levels * (BAND_HEIGHT + BAND_GAP) + 14
    n = max(len(spec.pods), 1)
    per_row = min(n, 5)
    box_w = (width - 20 - (per_row - 1) * 10) / per_row
    boxes = []
    for index, pod in enumerate(spec.pods):
        r, c = divmod(index, per_row)
        x = 10 + c * (box_w + 10)
        y = y0 + r * (POD_HEIGHT + 10)
        kind = "accounts" if pod.atom == "account" else "geographic units"
        lines = [
            (pod.label, 14, "bold"),
            (f"{pod.seats} seat{'s' if pod.seats != 1 else ''} · {kind}", 12, "normal"),
            (_fit(pod.criteria_text(), box_w - 12, 11), 11, "normal"),
        ]
        if pod_stats and pod.key in pod_stats:
            accounts, value = pod_stats[pod.key]
            lines.append((f"{accounts:,} accounts · {geo.format_usd(value)}", 11, "normal"))
        texts = "".join(
            f'<text x="{x + 8:.1f}" y="{y + 20 + j * 18:.1f}" font-size="{size}" font-weight="{weight}" '
            f'fill="#18181b">{_t(_fit(text, box_w - 12, size))}</text>'
            for j, (text, size, weight) in enumerate(lines)
        )
        boxes.append(
            f"<g><title>{_t(pod.label + ': ' + pod.criteria_text())}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w:.1f}" height="{POD_HEIGHT}" rx="6" '
            f'fill="#eef4fb" stroke="#2e6da4"/>{texts}</g>'
        )
    height = y0 + math.ceil(n / per_row) * (POD_HEIGHT + 10) + 10
    desc = "; ".join(spec.describe())
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="hierarchy-title hierarchy-desc" font-family="sans-serif" '
        f'style="max-width:100%;height:auto">'
        f'<title id="hierarchy-title">{_t(title)}</title><desc id="hierarchy-desc">{_t(desc)}</desc>'
        f'<text x="{width / 2:.1f}" y="24" text-anchor="middle" font-size="16" font-weight="bold" '
        f'fill="#18181b">{_t(title)}</text>' + "".join(rows) + "".join(boxes) + "</svg>"
    )


ROW_HEIGHT = 20
POD_HEADER = 24
LABEL_WIDTH = 170
VALUE_WIDTH = 70


def territory_value_bars_svg(
    pods: Sequence[tuple[str, Sequence[tuple[str, float, str]]]],
    *,
    tolerance: float,
    width: int = 700,
    title: str = "Value per territory",
) -> str:
    """A bar chart of territory values, one group per pod: a bar per territory in its map
    colour, the pod's mean as a dashed line and the balance band (mean ± ``tolerance``, a
    fraction) shaded, so a territory outside the band shows at a glance.

    ``pods`` is ``[(pod label, [(territory label, value in USD, "#rrggbb"), …]), …]``; bars of
    all pods share one scale (0 to the largest value or band edge). Self-contained SVG with
    presentation attributes only (WeasyPrint draws it like a browser)."""
    plot_x = LABEL_WIDTH
    plot_w = max(width - LABEL_WIDTH - VALUE_WIDTH, 50)
    top = 34
    scale_max = 0.0
    for _, rows in pods:
        if rows:
            mean = sum(v for _, v, _ in rows) / len(rows)
            scale_max = max(scale_max, mean * (1 + tolerance), *(v for _, v, _ in rows))
    scale_max = scale_max or 1.0

    def x(value: float) -> float:
        return plot_x + plot_w * max(value, 0.0) / scale_max

    parts = []
    y = top
    for pod_label, rows in pods:
        if not rows:
            continue
        mean = sum(v for _, v, _ in rows) / len(rows)
        group_h = len(rows) * ROW_HEIGHT
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="13" font-weight="bold" fill="#18181b">'
            f"{_t(pod_label)} · pod mean {_t(geo.format_usd(mean))}</text>"
        )
        y += POD_HEADER
        low, high = x(mean * (1 - tolerance)), x(mean * (1 + tolerance))
        parts.append(
            f'<rect x="{low:.1f}" y="{y - 2}" width="{high - low:.1f}" height="{group_h + 2}" '
            f'fill="#e4f1e4"/>'
        )
        for i, (label, value, color) in enumerate(rows):
            row_y = y + i * ROW_HEIGHT
            parts.append(
                f"<g><title>{_t(label)}: {_t(geo.format_usd(value))}</title>"
                f'<text x="{LABEL_WIDTH - 8}" y="{row_y + 13}" text-anchor="end" font-size="11" '
                f'fill="#18181b">{_t(_fit(label, LABEL_WIDTH - 12, 11))}</text>'
                f'<rect x="{plot_x}" y="{row_y + 3}" width="{x(value) - plot_x:.1f}" height="12" '
                f'fill="{_t(color)}"/>'
                f'<text x="{x(value) + 4:.1f}" y="{row_y + 13}" font-size="10" fill="#3f3f46">'
                f"{_t(geo.format_usd(value))}</text></g>"
            )
        mx = x(mean)
        parts.append(
            f'<line x1="{mx:.1f}" y1="{y - 2}" x2="{mx:.1f}" y2="{y + group_h}" stroke="#18181b" '
            f'stroke-width="1" stroke-dasharray="4 3"/>'
        )
        y += group_h + 10
    height = y + 20
    legend = (
        f'<text x="{plot_x}" y="{height - 6}" font-size="10" fill="#3f3f46">Dashed: pod mean; '
        f"shaded: the balance band (±{tolerance * 100:.0f} %).</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_t(title)}" font-family="sans-serif">'
        f'<text x="0" y="18" font-size="15" font-weight="bold" fill="#18181b">{_t(title)}</text>'
        + "".join(parts)
        + legend
        + "</svg>"
    )
