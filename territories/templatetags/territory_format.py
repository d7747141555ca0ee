"""Number formats of the territories pages: dollars, counts, shares."""

from __future__ import annotations

import math

from django import template

register = template.Library()


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def usd(value) -> str:
    """$1,234,567 (whole dollars); an em dash when there is no number."""
    number = _finite(value)
    if number is None:
        return "—"
    return f"-${-number:,.0f}" if number < 0 else f"${number:,.0f}"


@register.filter
def usd_short(value) -> str:
    """$1.2B, $3.4M, $56K: for dense tables."""
    number = _finite(value)
    if number is None:
        return "—"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(number) >= limit:
            return f"${number / limit:,.1f}{suffix}"
    return f"${number:,.0f}"


@register.filter
def number(value, digits: int = 0) -> str:
    """1,234 or 1,234.5 with ``digits`` decimals; an em dash for nothing."""
    figure = _finite(value)
    return "—" if figure is None else f"{figure:,.{int(digits)}f}"


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def get_item_index(sequence, index):
    try:
        return sequence[int(index)]
    except (IndexError, TypeError, ValueError):
        return ""


@register.filter
def multiply(value, factor):
    try:
        return float(value) * float(factor)
    except (TypeError, ValueError):
        return None


@register.filter
def pct(value, digits: int = 0) -> str:
    """A fraction as a percentage: 0.5 -> "50 %"; an em dash for nothing."""
    figure = _finite(value)
    return "—" if figure is None else f"{100 * figure:,.{int(digits)}f} %"


@register.filter
def signed(value, digits: int = 1) -> str:
    """+3.2 / −4.0 (percent figures that are already in percent)."""
    figure = _finite(value)
    if figure is None:
        return "—"
    text = f"{abs(figure):,.{int(digits)}f}"
    return f"+{text}" if figure > 0 else f"−{text}" if figure < 0 else text
