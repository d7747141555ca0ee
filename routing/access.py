"""Token access for the routing API: the one place outside ``engagements.access.engagement_view``.

The API (``POST /api/v1/route``) has no session user. It authenticates with a bearer token, and
the token's engagement scopes everything the request can touch: the view never reads an
engagement id from the request, so a token can only ever route against its own engagement's
territory object.

Tokens look like ``rt_<prefix>_<secret>``. Only the SHA-256 of the whole token is stored; the
prefix (unique, not secret) finds the row and the hash is compared in constant time. The
plaintext is shown once, when the token is created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from engagements.models import Engagement, User
from engagements.services import activity_record
from routing.models import RoutingSettings, RoutingToken

TOKEN_PREFIX = "rt"
# last_used_at is a hint for the token list, not an audit trail: one write a minute at most.
LAST_USED_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def token_create(
    *, engagement: Engagement, name: str, actor: User | None
) -> tuple[RoutingToken, str]:
    """A new token for ``engagement``; returns the row and the plaintext (shown once)."""
    name = (name or "").strip()[:120] or "API token"
    while True:
        prefix = secrets.token_hex(4)
        if not RoutingToken.objects.filter(prefix=prefix).exists():
            break
    plaintext = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = RoutingToken.objects.create(
        engagement=engagement,
        name=name,
        prefix=prefix,
        hash=_hash(plaintext),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    activity_record(
        engagement=engagement,
        actor=actor,
        verb="routing.token_created",
        summary=f"Routing API token “{name}” ({prefix}…) created",
        data={"token": token.pk},
    )
    return token, plaintext


@transaction.atomic
def token_revoke(*, token: RoutingToken, actor: User | None) -> RoutingToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = actor if actor is not None and actor.is_authenticated else None
        token.save(update_fields=["revoked_at", "revoked_by"])
        activity_record(
            engagement=token.engagement,
            actor=actor,
            verb="routing.token_revoked",
            summary=f"Routing API token “{token.name}” ({token.prefix}…) revoked",
            data={"token": token.pk},
        )
    return token


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_for_request(request: HttpRequest) -> RoutingToken | None:
    """The active token the request presents, with its engagement and the engagement's routing
    settings joined in (one query: the API's hot path), or None for a missing, malformed,
    unknown or revoked token."""
    plaintext = bearer_token(request)
    if plaintext is None:
        return None
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1]:
        return None
    token = (
        RoutingToken.objects.select_related("engagement__routing_settings")
        .filter(prefix=parts[1])
        .first()
    )
    if token is None or not hmac.compare_digest(token.hash, _hash(plaintext)):
        return None
    if token.revoked_at is not None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        RoutingToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def engagement_for_token(request: HttpRequest) -> tuple[Engagement, RoutingToken] | None:
    """The engagement a request's bearer token belongs to (and the token), or None."""
    token = token_for_request(request)
    if token is None:
        return None
    return token.engagement, token


def settings_for(engagement: Engagement) -> RoutingSettings:
    """The routing settings joined by ``token_for_request`` (created if the engagement has
    none yet)."""
    try:
        return engagement.routing_settings
    except RoutingSettings.DoesNotExist:
        from routing.services import routing_settings_get

        return routing_settings_get(engagement=engagement)
