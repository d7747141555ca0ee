"""Signal receivers of the engagements app (connected in ``EngagementsConfig.ready``)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from engagements.models import Engagement

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


@receiver(post_save, sender=Engagement, dispatch_uid="engagements.instantiate_playbook")
def instantiate_playbook(sender, instance: Engagement, created: bool, raw: bool = False, **kwargs):
    """Every engagement gets its phases, checklists and definitions from the active playbook,
    whichever way it is created (the portal's form, the admin, the demo, a test factory)."""
    if created and not raw:
        from engagements.services import playbook_instantiate

        playbook_instantiate(engagement=instance)
