"""The one access layer every view goes through.

A user's reach is decided here and nowhere else:

* ``role_for(user, engagement)`` — the user's role on an engagement, or ``None``.
* ``engagements_for(user)`` — the queryset of engagements a user may see (for lists).
* ``get_engagement_for_user(request, pk, need=...)`` — 404 when the engagement is outside the
  user's reach (strangers must not learn it exists), ``PermissionDenied`` (403) when the user can
  see it but the role lacks the capability.
* ``engagement_view(need=..., post=...)`` — the decorator views use; it resolves the URL's
  ``engagement_pk`` through the function above and passes the engagement to the view.

Objects inside an engagement are then looked up *through* the engagement
(``get_object_or_404(engagement.jobs, pk=...)``), so an id from another engagement answers 404.

The one request path without a session user is the routing API (``POST /api/v1/route``): it is
authenticated by a per-engagement bearer token in ``routing/access.py``
(``engagement_for_token``), and the token's engagement scopes everything that request touches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from engagements.models import ChecklistItem, Engagement, Membership, Role, User


class Capability(StrEnum):
    VIEW = "view"  # read the engagement's pages and deliverables
    INTERNAL = "internal"  # consultancy-only pages: hours, internal notes, stakeholder influence
    EDIT = "edit"  # engagement data: phases, assumptions, accounts, tiers, valuation, territories
    ROUTING = "routing"  # territory object, routing rules, QA suite
    DOCUMENTS = "documents"  # build, rebuild and deliver documentation packages
    AUDIT = "audit"  # run routing accuracy audits
    CUSTOMER_INPUT = "customer_input"  # intake form, uploads, comments
    SIGN = "sign"  # customer sign-offs


C = Capability
ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.ARCHITECT: frozenset(
        {C.VIEW, C.INTERNAL, C.EDIT, C.ROUTING, C.DOCUMENTS, C.AUDIT, C.CUSTOMER_INPUT}
    ),
    Role.ENGINEER: frozenset({C.VIEW, C.INTERNAL, C.ROUTING}),
    Role.MANAGER: frozenset({C.VIEW, C.INTERNAL}),
    Role.OPS: frozenset({C.VIEW, C.INTERNAL, C.DOCUMENTS, C.AUDIT}),
    Role.CUSTOMER_APPROVER: frozenset({C.VIEW, C.CUSTOMER_INPUT, C.SIGN}),
    Role.CUSTOMER_VIEWER: frozenset({C.VIEW}),
}


@dataclass(frozen=True)
class Access:
    """A user's standing on one engagement; templates test ``"edit" in access.caps``."""

    role: Role
    caps: frozenset[str]

    def can(self, capability: Capability) -> bool:
        return capability in self.caps

    def can_any(self, capabilities: Iterable[Capability]) -> bool:
        return any(c in self.caps for c in capabilities)

    @property
    def is_customer(self) -> bool:
        return self.role in (Role.CUSTOMER_APPROVER, Role.CUSTOMER_VIEWER)


def access_for_role(role: Role) -> Access:
    return Access(role=role, caps=frozenset(str(c) for c in ROLE_CAPABILITIES[role]))


def global_role(user: User) -> Role | None:
    """Manager and ops read every engagement; superusers read like managers."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_customer:
        return None
    if user.staff_role == User.StaffRole.OPS:
        return Role.OPS
    if user.staff_role == User.StaffRole.MANAGER or user.is_superuser:
        return Role.MANAGER
    return None


def role_for(user: User, engagement: Engagement) -> Role | None:
    """The user's role on ``engagement``: a membership wins over a global role."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_customer and user.organization_id != engagement.organization_id:
        # Belt and braces: a customer is never placed on another organization's engagement.
        return None
    membership_role = (
        Membership.objects.filter(engagement=engagement, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if membership_role:
        return Role(membership_role)
    return global_role(user)


def can_create_engagement(user: User, *, membership_roles: Iterable[str] | None = None) -> bool:
    """Architects create engagements (and staff superusers, who run the admin).

    Architect is a role per engagement (SPEC §1), so an architect is a consultant who is one on
    some engagement — or who was given the ``engagements.add_engagement`` permission in the
    admin, which is how a newly hired architect starts their first engagement. Engineers,
    managers, ops, customers and consultants on no engagement are refused.
    ``membership_roles``: the user's membership roles when the caller already has them (saves
    the query).
    """
    if not user.is_authenticated or not user.is_active or user.is_customer:
        return False
    if user.is_superuser and user.is_staff:
        return True
    if global_role(user) is not None:
        return False  # manager and ops read every engagement; they do not run one
    if membership_roles is None:
        if Membership.objects.filter(user=user, role=Role.ARCHITECT).exists():
            return True
    elif Role.ARCHITECT in set(membership_roles):
        return True
    return user.has_perm("engagements.add_engagement")


def engagements_for(user: User) -> QuerySet[Engagement]:
    """Every engagement ``user`` may see."""
    base = Engagement.objects.select_related("organization")
    if not user.is_authenticated or not user.is_active:
        return base.none()
    if global_role(user) is not None:
        return base.all()
    qs = base.filter(memberships__user=user)
    if user.is_customer:
        qs = qs.filter(organization_id=user.organization_id)
    return qs.distinct()


def get_engagement_for_user(
    request: HttpRequest, pk: int, *, need: Capability = Capability.VIEW
) -> Engagement:
    """The engagement with ``pk`` if the user may ``need`` on it; 404 for strangers, else 403.

    The returned engagement carries ``engagement.access`` (an ``Access``).
    """
    engagement = Engagement.objects.select_related("organization").filter(pk=pk).first()
    if engagement is None:
        raise Http404("No such engagement.")
    role = role_for(request.user, engagement)
    if role is None:
        raise Http404("No such engagement.")
    access = access_for_role(role)
    if not access.can(need):
        raise PermissionDenied(f"Your role ({role.label}) cannot do this.")
    engagement.access = access
    return engagement


ViewFunc = Callable[..., HttpResponse]


def engagement_view(
    need: Capability = Capability.VIEW, *, post: Capability | None = None
) -> Callable[[ViewFunc], ViewFunc]:
    """Guard a view whose URL has ``engagement_pk``.

    ``need`` applies to every method; ``post`` (if given) additionally applies to POST, so one
    view can show a page to readers and accept a change from editors. The view receives
    ``(request, engagement, **other_kwargs)``.
    """

    def decorator(view: ViewFunc) -> ViewFunc:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, engagement_pk: int, *args: Any, **kwargs: Any):
            required = post if (post is not None and request.method == "POST") else need
            engagement = get_engagement_for_user(request, engagement_pk, need=required)
            return view(request, engagement, *args, **kwargs)

        return wrapper

    return decorator


def require(engagement: Engagement, capability: Capability | Iterable[Capability]) -> None:
    """Raise 403 unless the already-resolved engagement's access allows ``capability`` (or, given
    several, any one of them)."""
    wanted = (capability,) if isinstance(capability, Capability) else tuple(capability)
    if not engagement.access.can_any(wanted):
        raise PermissionDenied(f"Your role ({engagement.access.role.label}) cannot do this.")


# --- Who does which piece of work inside an engagement ----------------------------------------

# The Engineering phase is the routing build (territory object, flows, QA, engineering handoff):
# the engineer who builds it ticks its items, as the architect does.
ROUTING_PHASE = "engineering"


def tick_capabilities(item: ChecklistItem) -> tuple[Capability, ...]:
    """What lets a user tick ``item`` (any one of them): customer homework the customer approver
    (and the architect); the Engineering phase's items the architect or the engineer; every other
    item the architect. ``item.subphase.phase`` should be loaded (``select_related``)."""
    if item.owner == ChecklistItem.Owner.CUSTOMER:
        return (C.CUSTOMER_INPUT,)
    if item.subphase.phase.slug == ROUTING_PHASE:
        return (C.EDIT, C.ROUTING)
    return (C.EDIT,)


def can_tick(access: Access | None, item: ChecklistItem) -> bool:
    return access is not None and access.can_any(tick_capabilities(item))


def maintenance_capabilities(owner: str) -> tuple[Capability, ...]:
    """What lets a user mark a maintenance check done: the architect always; the customer
    approver too when the customer owns maintenance (a single-project engagement, seed 000)."""
    return (C.EDIT, C.CUSTOMER_INPUT) if owner == "customer" else (C.EDIT,)
