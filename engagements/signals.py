"""Signal receivers of the engagements app (connected in ``EngagementsConfig.ready``)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

# Session keys read by the sign-off page: a sign-off records how and when the signer's session
# was authenticated (SPEC §3, "how they authenticated").
SESSION_LOGIN_AT = "portal_login_at"
SESSION_LOGIN_BACKEND = "portal_login_backend"


@receiver(user_logged_in, dispatch_uid="engagements.remember_login_time")
def remember_login_time(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    request.session[SESSION_LOGIN_AT] = timezone.now().isoformat()
    request.session[SESSION_LOGIN_BACKEND] = getattr(user, "backend", "") or ""
