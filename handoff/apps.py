from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    verbose_name = "Handoff"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from engagements import dashboard, tracking
        from engagements import services as engagement_services
        from engagements.models import GateDecision
        from handoff import services, signals
        from routing.models import RoutingAudit

        dashboard.provide("hypercare", services.hypercare_cells)
        dashboard.provide("refinement_triggers", services.trigger_cells)
        # The Enablement gate waits for the hypercare window and its critical issues (live
        # data, besides the 3d items ticked by hand); its and the Handoff gate's sign-offs are
        # published on the handoff pages.
        engagement_services.gate_conditions_provide(
            phase="enablement", provider=services.hypercare_gate_conditions
        )
        engagement_services.signoff_page_provide(
            subject=services.ENABLEMENT_SUBJECT,
            url_name="handoff:enablement",
            label="Enablement page",
            anchor="enablement-signoff",
        )
        engagement_services.signoff_page_provide(
            subject=services.PROJECT_CLOSE_SUBJECT,
            url_name="handoff:handoff",
            label="Handoff & close page",
            anchor="close-signoff",
        )
        # The documentation package: the latest one among the customer portal's downloads.
        from handoff import package, package_apps, package_jobs

        package_apps.register()
        # A build whose worker died: the sweep that fails the job removes what it left on disk.
        tracking.on_job_lost(package_jobs.package_build, package.package_build_lost)
        post_save.connect(
            signals.extend_hypercare,
            sender=GateDecision,
            dispatch_uid="handoff.extend_hypercare",
        )
        post_save.connect(
            signals.recheck_accuracy,
            sender=RoutingAudit,
            dispatch_uid="handoff.recheck_accuracy",
        )
        # A worker running RQ's scheduler keeps the daily refinement-trigger check scheduled: at
        # start-up and at every maintenance pass, so a flushed Redis gets it back. The job id
        # fixed by the day makes this idempotent.
        from engagements import worker
        from handoff.jobs import schedule_daily_check

        worker.on_upkeep(schedule_daily_check)
        # The refinement check-in to prepare, on the architect's "What is due" list.
        dashboard.provide_due(services.checkin_due_items)
