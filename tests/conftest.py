"""Shared fixtures: personas on two customers' engagements, and the service-requirement guard.

Tests marked ``needs_postgres``, ``needs_redis`` or ``browser`` skip when the service is absent
(a fresh machine has no PostgreSQL and no chromium). With ``REQUIRE_SERVICES=1`` (set by
``.ci/run``) any such skip fails the run, so CI cannot go green without really testing them:
that part is the plugin ``tests/require_services.py`` (tested by ``tests/test_require_services.py``).
"""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace

import pytest

from engagements.models import Role, User
from tests.factories import make_engagement, make_membership, make_org, make_user

pytest_plugins = ["tests.require_services"]


def _redis_available() -> bool:
    import django_rq
    from redis.exceptions import RedisError

    try:
        return bool(django_rq.get_connection("default").ping())
    except (RedisError, OSError):
        return False


def _browser_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return shutil.which("chromium") is not None or os.path.exists("/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    vendor_pg = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    redis_ok = None
    browser_ok = None
    for item in items:
        if item.get_closest_marker("needs_postgres") and not vendor_pg:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))
        if item.get_closest_marker("needs_redis"):
            if redis_ok is None:
                redis_ok = _redis_available()
            if not redis_ok:
                item.add_marker(
                    pytest.mark.skip(reason="needs Redis (set REDIS_URL or use make test)")
                )
        if item.get_closest_marker("browser"):
            if browser_ok is None:
                browser_ok = _browser_available()
            if not browser_ok:
                item.add_marker(pytest.mark.skip(reason="needs /usr/bin/chromium and playwright"))


@pytest.fixture
def world(db):
    """Two customers' engagements and a user for every role.

    ``world.engagement`` (customer A) has architect, engineer, customer (approver) and viewer;
    ``world.other`` (customer B) has its own approver ``customer2`` and a different architect.
    Manager and ops are consultancy-wide; ``outsider`` is a consultant on nothing.
    """
    org_a = make_org("Northwind Test")
    org_b = make_org("Bluepeak Test")
    engagement = make_engagement(org_a, name="Alpha design")
    other = make_engagement(org_b, name="Beta design")
    users = {
        "architect": make_user("architect"),
        "engineer": make_user("engineer"),
        "manager": make_user("manager", staff_role=User.StaffRole.MANAGER),
        "ops": make_user("ops", staff_role=User.StaffRole.OPS),
        "customer": make_user("customer", org=org_a),
        "viewer": make_user("viewer", org=org_a),
        "customer2": make_user("customer2", org=org_b),
        "architect2": make_user("architect2"),
        "outsider": make_user("outsider"),
    }
    make_membership(engagement, users["architect"], Role.ARCHITECT)
    make_membership(engagement, users["engineer"], Role.ENGINEER)
    make_membership(engagement, users["customer"], Role.CUSTOMER_APPROVER)
    make_membership(engagement, users["viewer"], Role.CUSTOMER_VIEWER)
    make_membership(other, users["customer2"], Role.CUSTOMER_APPROVER)
    make_membership(other, users["architect2"], Role.ARCHITECT)
    return SimpleNamespace(engagement=engagement, other=other, org_a=org_a, org_b=org_b, **users)


@pytest.fixture
def login(client):
    """``login(user)`` logs the test client in (force_login: django-axes guards real logins)."""

    def _login(user):
        client.force_login(user)
        return client

    return _login
