"""Work across rows of the engagements app. Views and jobs call these; they never see a request."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from engagements.models import (
    CUSTOMER_ROLES,
    ActivityEvent,
    Engagement,
    Membership,
    Role,
    User,
)


def activity_record(
    *,
    engagement: Engagement,
    actor: User | None,
    verb: str,
    summary: str,
    data: dict[str, Any] | None = None,
) -> ActivityEvent:
    """Append a line to the engagement's activity log."""
    return ActivityEvent.objects.create(
        engagement=engagement,
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        summary=summary[:500],
        data=data or {},
    )


@transaction.atomic
def membership_set(
    *, engagement: Engagement, user: User, role: Role, actor: User | None = None
) -> Membership:
    """Give ``user`` ``role`` on ``engagement`` (creating or changing the membership).

    Customer roles are only for users of the engagement's own organization, and customer users
    can hold nothing else: this is the rule that keeps one customer out of another's engagement.
    """
    role = Role(role)
    if role in CUSTOMER_ROLES:
        if user.organization_id != engagement.organization_id:
            raise ValidationError(
                f"{user.username} is not a user of {engagement.organization.name}; "
                "customer roles are for the engagement's own organization."
            )
    elif user.is_customer:
        raise ValidationError(f"{user.username} is a customer user and cannot be {role.label}.")
    if role not in (Role.ARCHITECT, Role.ENGINEER, *CUSTOMER_ROLES):
        raise ValidationError(f"{role.label} is a consultancy-wide role, not a membership.")
    membership, created = Membership.objects.update_or_create(
        engagement=engagement, user=user, defaults={"role": role}
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="membership.set",
        summary=f"{user.display_name()} {'added' if created else 'now'} as {role.label}",
        data={"user": user.pk, "role": role.value},
    )
    return membership
