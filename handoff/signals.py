"""Signal receivers of the handoff app (connected in ``HandoffConfig.ready``)."""

from __future__ import annotations

from engagements.models import GateDecision


def extend_hypercare(sender, instance: GateDecision, created: bool, raw: bool = False, **kwargs):
    """An "extend hypercare" decision at the Enablement gate (``engagements.services.gate_decide``)
    extends the hypercare window by ``handoff.models.EXTENSION_DAYS``."""
    if created and not raw and instance.decision == GateDecision.Decision.EXTEND_HYPERCARE:
        from handoff.services import hypercare_extend

        hypercare_extend(decision=instance)
