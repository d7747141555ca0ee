"""Signal receivers of the handoff app (connected in ``HandoffConfig.ready``)."""

from __future__ import annotations

from engagements.models import GateDecision


def extend_hypercare(sender, instance: GateDecision, created: bool, raw: bool = False, **kwargs):
    """An "extend hypercare" decision at the Enablement gate (``engagements.services.gate_decide``)
    extends the hypercare window by ``handoff.models.EXTENSION_DAYS``."""
    if created and not raw and instance.decision == GateDecision.Decision.EXTEND_HYPERCARE:
        from handoff.services import hypercare_extend

        hypercare_extend(decision=instance)


def recheck_accuracy(sender, instance, created: bool = False, raw: bool = False, **kwargs):
    """A routing audit that finished re-evaluates the routing-accuracy trigger once its
    transaction commits (two queries; the other triggers wait for the daily check)."""
    if raw or instance.finished_at is None or instance.accuracy is None:
        return
    from django.db import transaction

    from handoff.services import trigger_accuracy_refresh

    engagement = instance.engagement
    transaction.on_commit(lambda: trigger_accuracy_refresh(engagement=engagement))
