from django.core.management.base import BaseCommand, CommandError

from engagements.models import Engagement
from engagements.services import signoff_verify


class Command(BaseCommand):
    help = (
        "Re-check an engagement's chain of sign-off records: every record's hash, every link to "
        "the previous record, the SHA-256 of every signed text, and the chain's head (records "
        "deleted from its end). Names each altered or missing record and exits with status 1 if "
        "any is found."
    )

    def add_arguments(self, parser):
        parser.add_argument("engagement", help="engagement id (a number)")

    def handle(self, *args, engagement: str, **options):
        if not engagement.isdigit():
            raise CommandError(
                f"ENGAGEMENT must be an engagement id (a number), got {engagement!r}"
            )
        found = Engagement.objects.select_related("organization").filter(pk=int(engagement)).first()
        if found is None:
            raise CommandError(f"No engagement with id {engagement}")
        count, problems = signoff_verify(engagement=found)
        if problems:
            for problem in problems:
                self.stderr.write(f"{problem.kind.upper()} {problem}")
            self.stderr.write(
                f"{found}: chain of {count} sign-off records is BROKEN ({len(problems)} problems)."
            )
            raise SystemExit(1)
        self.stdout.write(f"{found}: {count} sign-off records, chain intact.")
