"""What the documents read, loaded once per package build and shared by every document.

Each property reads one source through the owning app's plain-data entry point and caches it,
so the thirteen documents of a package do not repeat the same queries. A source that does not
exist yet (no approved run, no territory object, no QA run) is ``None``; the documents then say
so in words built from the engagement's own data (``missing_*`` texts below).
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import Any

from django.utils import timezone

from engagements.models import Engagement, Membership, Role

# Who the Maintenance Schedule lists as support contacts (the consultancy's people on it).
SUPPORT_ROLES = (Role.ARCHITECT, Role.ENGINEER)


class Sources:
    def __init__(self, engagement: Engagement) -> None:
        self.engagement = engagement
        self.customer = engagement.organization.name

    # --- People ---------------------------------------------------------------------------------

    @cached_property
    def members(self) -> dict[str, list[str]]:
        rows = (
            Membership.objects.filter(engagement=self.engagement)
            .select_related("user")
            .order_by("role", "user__last_name", "user__username")
        )
        out: dict[str, list[str]] = {}
        for m in rows:
            out.setdefault(m.role, []).append(m.user.get_full_name() or m.user.username)
        return out

    @cached_property
    def contacts(self) -> list[dict[str, str]]:
        """The consultancy's people on the engagement, architects first, then engineers, with
        the email address their portal account has ("" when it has none)."""
        rows = (
            Membership.objects.filter(engagement=self.engagement, role__in=SUPPORT_ROLES)
            .select_related("user")
            .order_by("user__last_name", "user__first_name", "user__username")
        )
        order = {Role.ARCHITECT: 0, Role.ENGINEER: 1}
        return [
            {
                "role": Role(m.role).label,
                "name": m.user.get_full_name() or m.user.username,
                "email": m.user.email,
            }
            for m in sorted(rows, key=lambda m: order[m.role])
        ]

    def names(self, role: Role) -> str:
        people = self.members.get(role, [])
        return ", ".join(people)

    @property
    def architects(self) -> str:
        return self.names(Role.ARCHITECT) or "the consultancy's architect"

    @property
    def approvers(self) -> str:
        return self.names(Role.CUSTOMER_APPROVER) or f"{self.customer}'s approver"

    @cached_property
    def playbook(self):
        from engagements.services import playbook_for

        return playbook_for(self.engagement)

    @cached_property
    def maintenance_owner(self) -> dict[str, str]:
        """Who runs the maintenance schedule (seed 000: single project = customer, dedicated =
        architect), as a role and as the people's names."""
        role = self.playbook.maintenance_owner_for(self.engagement.type) or "customer"
        if role == "architect":
            label = f"{self.architects} (architect)"
        else:
            label = f"{self.customer} RevOps ({self.approvers})"
        return {"role": role, "label": label, "type": self.engagement.get_type_display()}

    # --- Territory design -----------------------------------------------------------------------

    @cached_property
    def run(self):
        from territories import design

        return design.approved_run(engagement=self.engagement)

    @cached_property
    def report(self) -> dict[str, Any] | None:
        from territories import design

        return design.run_report(run=self.run) if self.run is not None else None

    @property
    def missing_run(self) -> str:
        return (
            f"No balancing run has been approved for {self.customer} yet, so there is no "
            f"balanced territory map to document. This document is complete once the architect "
            f"approves a run and {self.approvers} signs the map."
        )

    @cached_property
    def maps(self) -> list[dict[str, Any]]:
        """The approved run's maps as SVG drawn at print width (the stored page maps are fluid
        and have no intrinsic size, which a PDF needs)."""
        from territories import design, geo

        if self.run is None:
            return []
        out = []
        for layer in design.map_layers_data(run=self.run):
            out.append(
                {
                    "title": layer["title"],
                    "territories": len(layer["legend"]),
                    "svg": geo.render_us_map_svg(
                        assignment=layer["assignment"],
                        legend=layer["legend"],
                        title=layer["title"],
                        description=f"{self.customer}: {layer['title']}",
                        width=700,
                        svg_id=f"map-{len(out)}",
                    ),
                }
            )
        return out

    @cached_property
    def territories(self) -> list[dict[str, Any]]:
        if self.report is None:
            return []
        return [
            dict(t, pod_label=p["label"]) for p in self.report["pods"] for t in p["territories"]
        ]

    @cached_property
    def hierarchy(self):
        from territories import design

        return design.hierarchy_get(engagement=self.engagement)

    @cached_property
    def hierarchy_spec(self):
        from territories import design

        return design.hierarchy_spec(engagement=self.engagement, hierarchy=self.hierarchy)

    @cached_property
    def hierarchy_overview(self) -> dict[str, Any]:
        from territories import design

        return design.hierarchy_overview(
            engagement=self.engagement,
            spec=self.hierarchy_spec,
            named=self.hierarchy.named_accounts,
            share=self.hierarchy.split_share,
        )

    @cached_property
    def hierarchy_svg(self) -> str:
        from territories import design

        return design.hierarchy_diagram(
            engagement=self.engagement, overview=self.hierarchy_overview
        )

    @cached_property
    def growth(self) -> dict[str, Any] | None:
        from territories import design

        return design.growth_plan(run=self.run) if self.run is not None else None

    @cached_property
    def data_version(self) -> str:
        from territories import design

        return design.data_version(engagement=self.engagement)

    # --- Accounts, tiers, valuation -------------------------------------------------------------

    @cached_property
    def valuation(self):
        from territories.models import ValuationSummary

        return ValuationSummary.objects.filter(engagement=self.engagement).first()

    @property
    def missing_valuation(self) -> str:
        return (
            f"{self.customer}'s accounts have not been valued yet: no account list has been "
            f"imported and valued for this engagement."
        )

    @cached_property
    def model_inputs(self) -> dict[str, Any]:
        from territories import services

        return services.model_inputs(engagement=self.engagement)

    @cached_property
    def assumptions(self) -> list:
        from engagements.models import Assumption

        return list(
            Assumption.objects.filter(engagement=self.engagement).order_by("category", "key")
        )

    @cached_property
    def definition_drafts(self) -> dict[str, str]:
        """Each definition term's current text as the customer would sign it, by slug."""
        from engagements.services import definitions_overview

        return {
            view.term.slug: view.text for view in definitions_overview(engagement=self.engagement)
        }

    @cached_property
    def signoffs(self) -> dict[str, Any]:
        from engagements.services import signoff_statuses

        return signoff_statuses(engagement=self.engagement)

    def signoff(self, subject: str) -> dict[str, Any]:
        """Plain evidence of a subject's sign-off: state, the approved version and its record."""
        status = self.signoffs.get(subject)
        if status is None:
            return {"state": "none", "subject": subject}
        out: dict[str, Any] = {
            "subject": subject,
            "state": status.state,
            "latest_version": status.latest.version,
            "latest_sha256": status.latest.text_sha256,
            "latest_published_at": status.latest.published_at,
            "stale": status.stale,
        }
        if status.last_approved is not None and status.last_approved_record is not None:
            record = status.last_approved_record
            out.update(
                approved_version=status.last_approved.version,
                approved_text=status.last_approved.text,
                text_sha256=record.text_sha256,
                signer=record.signer_name,
                signer_username=record.signer_username,
                signed_at=record.signed_at,
                record_hash=record.record_hash,
                sequence=record.sequence,
                auth_method=record.auth_method,
                comment=record.comment,
            )
        return out

    # --- Routing --------------------------------------------------------------------------------

    @cached_property
    def routing_settings(self):
        from routing import services

        return services.routing_settings_get(engagement=self.engagement)

    @cached_property
    def has_object(self) -> bool:
        return bool(self.routing_settings.hierarchy) and bool(self.territory_rows)

    @cached_property
    def territory_rows(self) -> list[dict[str, Any]]:
        from routing import services

        return services.territory_rows(engagement=self.engagement)

    @property
    def missing_object(self) -> str:
        return (
            f"No territory object has been generated for {self.customer} yet: the routing "
            f"engineer generates it from the approved territory map."
        )

    @cached_property
    def tech_spec(self) -> dict[str, Any] | None:
        from routing import services

        if not self.has_object:
            return None
        return services.tech_spec(engagement=self.engagement)

    @cached_property
    def qa(self) -> dict[str, Any] | None:
        from routing import services

        return services.qa_latest(engagement=self.engagement)

    @cached_property
    def accuracy(self) -> float | None:
        from routing import services

        return services.routing_accuracy_latest(engagement=self.engagement)

    @cached_property
    def accuracy_checks(self) -> list:
        from routing import services

        return services.routing_accuracy_checks(engagement=self.engagement)

    # --- Handoff ---------------------------------------------------------------------------------

    @cached_property
    def maintenance_start(self) -> tuple[date, str]:
        from handoff.documents.schedule_start import maintenance_start

        return maintenance_start(self.engagement)

    @cached_property
    def today(self) -> date:
        return timezone.localdate()
