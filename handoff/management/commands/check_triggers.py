"""manage.py check_triggers [ENGAGEMENT]: evaluate the refinement triggers on live data.

Exit status like grep's, so cron or a monitor can act on it: 0 no trigger fired, 1 at least one
fired, 2 bad input (an unknown engagement, as argparse answers a bad option).
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from handoff import services
from routing.management.commands._common import engagement_arg


class Command(BaseCommand):
    help = (
        "Evaluate the refinement triggers (value drift 2x, count or value variance > 20 %, 3+ reps "
        "hired or gone in a quarter, routing accuracy < 90 %) and store the results. Without "
        "ENGAGEMENT, every engagement with an approved map or a rollout date. Exit status: 0 "
        "when no trigger fired, 1 when one fired, 2 on a bad ENGAGEMENT."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "engagement", nargs="?", help="Engagement id or exact name (default: all that apply)"
        )

    def handle(self, *args, **options) -> None:
        if options["engagement"]:
            try:
                engagements = [engagement_arg(options["engagement"])]
            except CommandError as exc:
                raise CommandError(str(exc), returncode=2) from None
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
        if fired:
            sys.exit(1)
