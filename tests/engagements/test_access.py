"""The access layer: roles, visibility, capabilities, and the customer isolation rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import RequestFactory

from engagements.access import Capability, engagements_for, get_engagement_for_user, role_for
from engagements.models import Role
from engagements.services import membership_set


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_roles_come_from_membership_or_global_role(world):
    e = world.engagement
    assert role_for(world.architect, e) == Role.ARCHITECT
    assert role_for(world.engineer, e) == Role.ENGINEER
    assert role_for(world.customer, e) == Role.CUSTOMER_APPROVER
    assert role_for(world.viewer, e) == Role.CUSTOMER_VIEWER
    assert role_for(world.manager, e) == Role.MANAGER
    assert role_for(world.ops, e) == Role.OPS
    assert role_for(world.outsider, e) is None
    assert role_for(world.customer2, e) is None


def test_membership_is_per_engagement(world):
    assert role_for(world.architect, world.other) is None
    assert role_for(world.architect2, world.other) == Role.ARCHITECT


def test_customers_see_only_their_own_engagements(world):
    assert list(engagements_for(world.customer)) == [world.engagement]
    assert list(engagements_for(world.customer2)) == [world.other]
    assert set(engagements_for(world.manager)) == {world.engagement, world.other}
    assert list(engagements_for(world.outsider)) == []


def test_strangers_get_404_not_403(world):
    with pytest.raises(Http404):
        get_engagement_for_user(_request(world.customer2), world.engagement.pk)
    with pytest.raises(Http404):
        get_engagement_for_user(_request(world.outsider), world.engagement.pk, need=Capability.EDIT)
    with pytest.raises(Http404):
        get_engagement_for_user(_request(world.architect), 999_999)


def test_read_only_roles_get_403_on_writes(world):
    e = world.engagement
    for user in (world.viewer, world.manager, world.engineer):
        with pytest.raises(PermissionDenied):
            get_engagement_for_user(_request(user), e.pk, need=Capability.EDIT)
    assert get_engagement_for_user(_request(world.architect), e.pk, need=Capability.EDIT) == e


def test_only_the_customer_approver_signs(world):
    e = world.engagement
    assert get_engagement_for_user(_request(world.customer), e.pk, need=Capability.SIGN) == e
    for user in (world.architect, world.viewer, world.manager, world.ops):
        with pytest.raises(PermissionDenied):
            get_engagement_for_user(_request(user), e.pk, need=Capability.SIGN)


def test_customers_cannot_see_internal_pages(world):
    with pytest.raises(PermissionDenied):
        get_engagement_for_user(
            _request(world.customer), world.engagement.pk, need=Capability.INTERNAL
        )


def test_a_customer_cannot_be_placed_on_another_customers_engagement(world):
    with pytest.raises(ValidationError, match="not a user of"):
        membership_set(engagement=world.engagement, user=world.customer2, role=Role.CUSTOMER_VIEWER)
    with pytest.raises(ValidationError, match="customer user"):
        membership_set(engagement=world.other, user=world.customer2, role=Role.ARCHITECT)
    assert role_for(world.customer2, world.engagement) is None


def test_membership_set_logs_the_change(world):
    membership_set(
        engagement=world.engagement, user=world.outsider, role=Role.ENGINEER, actor=world.architect
    )
    assert role_for(world.outsider, world.engagement) == Role.ENGINEER
    event = world.engagement.activity.get(verb="membership.set")
    assert event.actor == world.architect
    assert event.data == {"user": world.outsider.pk, "role": "engineer"}


def test_inactive_users_reach_nothing(world):
    world.architect.is_active = False
    world.architect.save()
    assert role_for(world.architect, world.engagement) is None
    assert list(engagements_for(world.architect)) == []
