"""Shared helpers of the routing commands."""

from __future__ import annotations

from django.core.management.base import CommandError

from engagements.models import Engagement


def engagement_arg(value: str) -> Engagement:
    """An engagement by id or exact name; CommandError with a one-line reason otherwise."""
    if value.isdigit():
        found = Engagement.objects.filter(pk=int(value)).first()
        if found is None:
            raise CommandError(f"No engagement with id {value}.")
        return found
    matches = list(Engagement.objects.filter(name=value)[:2])
    if not matches:
        raise CommandError(f"No engagement named {value!r}.")
    if len(matches) > 1:
        raise CommandError(f"More than one engagement is named {value!r}: give its id.")
    return matches[0]
