"""Benchmark the engagements pages: dashboards, phase board, registers, sign-off and the chain.

    DATABASE_URL=postgres://… .venv/bin/python bench/engagements.py [--engagements 60] [--repeat 7]

Builds a throw-away test database (``test_<name>``, destroyed at the end), fills it with
``--engagements`` engagements that each carry a realistic lifecycle (every checklist item of
Strategy ticked in half of them, 30 assumptions, 6 meetings with feedback, the Definition
Alignment Document published and signed, 40 hours entries), then times full page requests
through Django's test client (session, middleware, templates — everything but the network) and
counts their queries (DEBUG off, the cached template loader, no test instrumentation). Prints one line per page: median of ``--repeat`` runs after a warm-up.
Results go in docs/benchmarks.md under "Engagements".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402


def build(n: int):
    from engagements import services
    from engagements.models import CustomerOrganization, Engagement, Role, User

    architect = User.objects.create_user(
        "bench-architect", password="x", first_name="Ava", last_name="Architect"
    )
    manager = User.objects.create_user("bench-manager", password="x", staff_role="manager")
    evidence = services.SignoffEvidence("127.0.0.1", "bench", "bench")
    engagements = []
    start = time.perf_counter()
    for i in range(n):
        org = CustomerOrganization.objects.create(name=f"Customer {i:03d}")
        customer = User.objects.create_user(
            f"bench-customer-{i}", password="x", organization=org, first_name="C", last_name=f"{i}"
        )
        engagement = Engagement.objects.create(
            organization=org, name=f"Territory design {i:03d}", hour_budget=100 + i % 100
        )
        services.membership_set(engagement=engagement, user=architect, role=Role.ARCHITECT)
        services.membership_set(engagement=engagement, user=customer, role=Role.CUSTOMER_APPROVER)
        meetings = [
            services.meeting_create(
                engagement=engagement, kind=kind, scheduled_at=timezone.now(), actor=architect
            )
            for kind in (
                "kickoff",
                "icp_tam_workshop",
                "valuation_review",
                "hierarchy_review",
                "balancing_review",
                "balancing_review",
            )
        ]
        for m in meetings:
            services.meeting_update(meeting=m, actor=architect, changes={"status": "held"})
            for j in range(3):
                services.feedback_add(
                    meeting=m, text=f"Feedback {j}", actor=architect, owner=architect
                )
        for j in range(30):
            a = services.assumption_register(
                engagement=engagement,
                key=f"bench.a{j}",
                category="valuation",
                statement=f"Assumption {j}",
                value=j,
            )
            if j % 3 == 0:
                services.assumption_decide(
                    assumption=a, decision="confirm", meeting=meetings[j % 6], actor=architect
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
                signer_name=f"C {i}",
                comment="",
                evidence=evidence,
            )
        for _ in range(40):
            services.hours_log(
                engagement=engagement,
                user=architect,
                date=timezone.localdate(),
                hours=2,
                phase_number=1,
            )
        engagements.append((engagement, customer))
    print(f"built {n} engagements in {time.perf_counter() - start:.1f} s")
    return architect, manager, engagements


def timed(label: str, client: Client, url: str, repeat: int) -> None:
    response = client.get(url)  # warm-up
    assert response.status_code == 200, (url, response.status_code)
    runs = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url)
            runs.append(time.perf_counter() - start)
    print(
        f"{label:<52} median {statistics.median(runs) * 1000:7.1f} ms  "
        f"(min {min(runs) * 1000:.1f}, max {max(runs) * 1000:.1f})  {len(ctx.captured_queries):3d} queries  "
        f"{len(response.content) // 1024} KiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engagements", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    # Not setup_test_environment(): its template instrumentation copies every context and would
    # be timed too. The test client only needs its host allowed.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from engagements.services import signoff_verify

        architect, manager, engagements = build(args.engagements)
        engagement, customer = engagements[0]
        e = engagement.pk
        print(
            f"database: {connection.vendor}, {args.engagements} engagements; median of {args.repeat}"
        )
        client = Client()
        client.force_login(manager)
        timed(f"manager dashboard ({args.engagements} engagements)", client, "/", args.repeat)
        timed("manager dashboard as CSV", client, "/?format=csv", args.repeat)
        client.force_login(architect)
        timed(f"architect home ({args.engagements} engagements)", client, "/", args.repeat)
        timed("engagement overview", client, f"/engagements/{e}/", args.repeat)
        timed("phase board, Strategy (55 items)", client, f"/engagements/{e}/phases/", args.repeat)
        timed(
            "assumptions register (31 rows)", client, f"/engagements/{e}/assumptions/", args.repeat
        )
        timed("meetings (6 held)", client, f"/engagements/{e}/meetings/", args.repeat)
        timed(
            "definitions (14 terms, signed)", client, f"/engagements/{e}/definitions/", args.repeat
        )
        timed(
            "sign-offs with chain check (14 records)",
            client,
            f"/engagements/{e}/signoffs/",
            args.repeat,
        )
        client.force_login(customer)
        timed("customer portal home", client, "/", args.repeat)
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            count, problems = signoff_verify(engagement=engagement)
            runs.append(time.perf_counter() - start)
        print(
            f"{'verify_signoffs, one engagement (' + str(count) + ' records)':<52} median {statistics.median(runs) * 1000:7.1f} ms"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
