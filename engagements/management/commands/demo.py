from django.core.management.base import BaseCommand, CommandError

from engagements.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Seed a realistic demo: users for every role, two customer organizations with an "
        "engagement each, and a synthetic account universe per engagement. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--accounts", type=int, default=5000, help="accounts per engagement (default 5000)"
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument(
            "--password", default="demo-pass-2026", help="password of every demo user"
        )

    def handle(self, *args, accounts: int, seed: int, password: str, **options):
        if accounts < 0 or accounts > 2_000_000:
            raise CommandError(f"--accounts must be between 0 and 2,000,000, got {accounts}")
        if len(password) < 8:
            raise CommandError("--password must have at least 8 characters")
        result = demo_seed(accounts=accounts, seed=seed, password=password, say=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("\nDemo ready. Log in at http://127.0.0.1:8000/ as:"))
        width = max(len(login.username) for login in result.logins)
        for login in result.logins:
            self.stdout.write(f"  {login.username:<{width}}  {login.role:<18} {login.sees}")
        self.stdout.write(f"  password for all: {password}")
