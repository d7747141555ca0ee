"""Seed a scratch database for the load benchmark (``bench/load.py``): 200 engagements and
100,000 accounts in total.

    DATABASE_URL=postgres://…/bench_load REDIS_URL=redis://… \\
        .venv/bin/python bench/load_data.py [--engagements 200] [--accounts 100000]

1. ``manage.py migrate`` and ``manage.py demo --accounts 15000``: the two demo customers with
   their whole lifecycle — balancing runs (one approved and signed), a territory object with a
   passing QA suite, so the routing API has a real approved configuration to route with.
2. ``--engagements`` − 2 more engagements (``Load customer NNN``), each with its own customer
   organization and approver, one of ten architects (``load-architect-K``, about 20
   engagements each — a consultant's realistic book is far smaller, the dashboards are the
   stress), two held meetings with feedback, ten assumptions (a third confirmed), Strategy
   ticked in half of them, the definitions published and signed, hours logged.
3. Accounts (``territories.synthetic.generate_accounts``, upserted and valued through the
   services): six big engagements of 8,000 and the rest of the ``--accounts`` spread over the
   small ones, so the total is exactly ``--accounts`` with the demo's two 15,000.

The manager and architects of the demo see every engagement / their own; ``bench/load.py``
finds the users by name and logs in with sessions of its own. The database must be a scratch
one: the demo replaces its engagements, and a second run of this script refuses to add more.
Password of every user: ``bench-pass-123``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

PASSWORD = "bench-pass-123"
DEMO_ACCOUNTS = 15_000
BIG = (8_000,) * 6
ARCHITECTS = 10


def run_demo() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    for command in (
        ["migrate", "--no-input", "-v", "0"],
        ["demo", "--accounts", str(DEMO_ACCOUNTS), "--password", PASSWORD],
    ):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)


def engagement_with_lifecycle(i: int, architect, evidence):
    from django.utils import timezone

    from engagements import services
    from engagements.models import CustomerOrganization, Engagement, Role, User

    org = CustomerOrganization.objects.create(name=f"Load customer {i:03d}")
    customer = User.objects.create_user(
        f"load-customer-{i}",
        password=PASSWORD,
        organization=org,
        first_name="Casey",
        last_name=f"Customer {i}",
    )
    engagement = Engagement.objects.create(
        organization=org, name=f"Territory design {i:03d}", hour_budget=120 + i % 80
    )
    services.membership_set(engagement=engagement, user=architect, role=Role.ARCHITECT)
    services.membership_set(engagement=engagement, user=customer, role=Role.CUSTOMER_APPROVER)
    meetings = []
    for kind in ("kickoff", "icp_tam_workshop"):
        meeting = services.meeting_create(
            engagement=engagement, kind=kind, scheduled_at=timezone.now(), actor=architect
        )
        services.meeting_update(meeting=meeting, actor=architect, changes={"status": "held"})
        for j in range(3):
            services.feedback_add(
                meeting=meeting, text=f"Feedback {j} on {kind}", actor=architect, owner=architect
            )
        meetings.append(meeting)
    for j in range(10):
        assumption = services.assumption_register(
            engagement=engagement,
            key=f"load.a{j}",
            category="valuation",
            statement=f"Assumption {j} of engagement {i}",
            value=j,
        )
        if j % 3 == 0:
            services.assumption_decide(
                assumption=assumption, decision="confirm", meeting=meetings[j % 2], actor=architect
            )
    if i % 2 == 0:
        for item in engagement.checklist_items.filter(
            subphase__phase__number=1, signoff_subject=""
        ):
            if item.applies_to(engagement):
                services.checklist_toggle(item=item, done=True, actor=architect)
    for version in services.definitions_publish(engagement=engagement, actor=architect):
        services.signoff_decide(
            version=version,
            decision="approved",
            signer=customer,
            signer_name=f"Casey Customer {i}",
            comment="",
            evidence=evidence,
        )
    for _ in range(10):
        services.hours_log(
            engagement=engagement,
            user=architect,
            date=timezone.localdate(),
            hours=3,
            phase_number=1,
        )
    return engagement


def add_accounts(engagement, n: int, seed: int) -> None:
    from territories import services
    from territories.demo import THREE_SEGMENTS
    from territories.synthetic import generate_accounts

    services.segment_definition_update(engagement=engagement, scheme=THREE_SEGMENTS, actor=None)
    services.accounts_upsert(
        engagement=engagement, frame=generate_accounts(n, seed=seed, id_prefix=f"L{seed}-")
    )
    services.accounts_revalue(engagement=engagement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engagements", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("Set DATABASE_URL (a scratch database) and REDIS_URL.")
    extra = args.engagements - 2
    small = extra - len(BIG)
    rest = args.accounts - 2 * DEMO_ACCOUNTS - sum(BIG)
    if extra < len(BIG) or rest < small:
        raise SystemExit("Too few engagements or accounts for the demo plus six big engagements.")

    started = time.perf_counter()
    run_demo()
    import django

    django.setup()
    from engagements import services
    from engagements.models import Engagement, User
    from territories.models import Account

    if Engagement.objects.filter(organization__name__startswith="Load customer").exists():
        raise SystemExit("This database is already seeded; use a fresh one.")
    architects = [
        User.objects.create_user(
            f"load-architect-{k}", password=PASSWORD, first_name="Ari", last_name=f"Architect {k}"
        )
        for k in range(ARCHITECTS)
    ]
    evidence = services.SignoffEvidence("127.0.0.1", "load bench", "load bench")
    sizes = list(BIG) + [rest // small + (1 if k < rest % small else 0) for k in range(small)]
    for i, size in enumerate(sizes):
        engagement = engagement_with_lifecycle(i, architects[i % ARCHITECTS], evidence)
        add_accounts(engagement, size, seed=1000 + i)
        if i % 20 == 19:
            print(f"{i + 1} engagements, {time.perf_counter() - started:.0f} s", flush=True)
    print(
        f"seeded {Engagement.objects.count()} engagements, {Account.objects.count():,} accounts "
        f"in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
