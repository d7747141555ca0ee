"""manage.py check_triggers [ENGAGEMENT]: evaluate the refinement triggers on live data."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from handoff import services
from routing.management.commands._common import engagement_arg


class Command(BaseCommand):
    help = (
        "Evaluate the refinement triggers (value drift 2x, balance variance > 20 %, 3+ reps "
        "hired or gone in a quarter, routing accuracy < 90 %) and store the results. Without "
        "ENGAGEMENT, every engagement with an approved map or a rollout date. Exit status 2 "
        "when a trigger fired."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "engagement", nargs="?", help="Engagement id or exact name (default: all that apply)"
        )

    def handle(self, *args, **options) -> None:
        if options["engagement"]:
            engagements = [engagement_arg(options["engagement"])]
        else:
            engagements = services.engagements_to_check()
            if not engagements:
                self.stdout.write("No engagement has an approved map or a rollout date yet.")
                return
        fired = 0
        for engagement in engagements:
            self.stdout.write(self.style.MIGRATE_HEADING(f"{engagement} (id {engagement.pk})"))
            for row in services.triggers_check(engagement=engagement):
                mark = self.style.ERROR("FIRED") if row.fired else self.style.SUCCESS("ok   ")
                self.stdout.write(f"  {mark} {row.name}: {row.detail}")
                fired += int(row.fired)
        self.stdout.write(
            f"{fired} trigger(s) fired across {len(engagements)} engagement(s)."
            if fired
            else f"No trigger fired across {len(engagements)} engagement(s)."
        )
