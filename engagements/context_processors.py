"""Template context shared by every page: what the navigation shows for this user."""

from __future__ import annotations

from django.http import HttpRequest

from engagements.access import global_role


def portal(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_kind": "anonymous"}
    if user.is_customer:
        kind = "customer"
    elif global_role(user) is not None:
        kind = global_role(user).value
    else:
        kind = "consultant"
    return {"nav_kind": kind}
