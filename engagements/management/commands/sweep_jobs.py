from django.core.management.base import BaseCommand

from engagements.tracking import jobs_sweep


class Command(BaseCommand):
    help = "Mark background jobs whose worker died (or whose queue entry vanished) as failed."

    def handle(self, *args, **options):
        failed = jobs_sweep()
        for job in failed:
            self.stdout.write(
                f"failed: job {job.pk} ({job.title}) of engagement {job.engagement_id}: {job.error}"
            )
        self.stdout.write(f"{len(failed)} job(s) marked failed.")
