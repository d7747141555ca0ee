"""Small template helpers used across the portal's pages."""

from __future__ import annotations

import json
from typing import Any

from django import template

from engagements.access import can_tick as access_can_tick

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """``{{ cells|get_item:column.key }}``: a dict lookup with a variable key."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def as_value(value: Any) -> str:
    """An assumption value as people read it: numbers plainly, text as is, the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}" if abs(value) >= 10000 else f"{value:g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@register.filter
def as_input(value: Any) -> str:
    """An assumption value as it is typed back in a form (JSON unless plain text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@register.filter
def can_tick(item: Any, access: Any) -> bool:
    """Whether this user may tick the checklist item (``engagements.access.can_tick``)."""
    return access_can_tick(access, item)


@register.filter
def hours(value: Any) -> str:
    """Hours without needless zeros: 9.5, 6, 2.25."""
    from decimal import Decimal, InvalidOperation

    if value is None or value == "":
        return "0"
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{number.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return text or "0"
