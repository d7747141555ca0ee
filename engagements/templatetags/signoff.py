"""``{% load signoff %}{% signoff_panel engagement "icp_matrix" %}``: where a sign-off stands.

Any app's page that has something for the customer to sign includes this panel. It needs only
the engagement as resolved by the access layer (``engagement.access`` decides whether the
"Review and sign" link is shown). Publishing is not part of the panel: each app publishes
through its own view calling ``engagements.services.signoff_publish``.
"""

from __future__ import annotations

from django import template

from engagements import services
from engagements.models import Engagement

register = template.Library()


@register.inclusion_tag("engagements/_signoff_panel.html")
def signoff_panel(engagement: Engagement, subject: str) -> dict:
    statuses = services.signoff_statuses(engagement=engagement, prefix=subject)
    own = statuses.get(subject)
    items = sorted(
        (s for key, s in statuses.items() if key.startswith(f"{subject}:")),
        key=lambda s: s.latest.title.casefold(),
    )
    access = getattr(engagement, "access", None)
    if own is not None:
        state = own.state
    else:
        state = services.signoff_aggregate_state(s.state for s in items)
    return {
        "engagement": engagement,
        "subject": subject,
        "status": own,
        "items": items,
        "state": state,
        "approved_count": sum(1 for s in items if s.state == "approved"),
        "can_sign": access is not None and access.can("sign"),
    }


@register.simple_tag
def gate_signoff_pages(engagement: Engagement, subjects) -> list[dict]:
    """The pages where the gate's sign-offs are published, for the gate panel:
    ``{% gate_signoff_pages engagement phase.gate_signoffs as pages %}``."""
    from django.urls import reverse

    pages = []
    for subject in subjects:
        page = services.signoff_page(subject=subject)
        if page is None:
            continue
        url = reverse(page.url_name, args=[engagement.pk])
        pages.append(
            {
                "subject": subject,
                "label": page.label,
                "url": f"{url}#{page.anchor}" if page.anchor else url,
            }
        )
    return pages
