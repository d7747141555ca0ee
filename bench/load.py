"""Load benchmark: 20 concurrent users on gunicorn over loopback, driving the dashboards (manager,
architect, customer portal), the engagement pages, the account list, a balancing run's results,
the handoff pages (enablement, hypercare, maintenance, close, package) and the routing API.

    DATABASE_URL=postgres://…/bench_load REDIS_URL=redis://… \\
        .venv/bin/python bench/load.py [--users 20] [--think 1.0] [--seconds 60]
            [--workers 4] [--threads 1] [--saturation-seconds 20]

The database is the one ``bench/load_data.py`` seeded (200 engagements, 100,000 accounts).

1. Signs the personas in by creating their sessions directly (``SessionStore``, as the login
   form would) and makes a routing API token for the demo engagement whose territory object is
   approved.
2. Starts ``gunicorn config.wsgi`` on 127.0.0.1 (``--workers`` processes × ``--threads``;
   DEBUG off, the cached template loader; the routing API's rate limit raised so it counts but
   never refuses). Its log goes to /tmp/load_bench_gunicorn.log.
3. Warm-up: each URL (up to eight per kind) ``--workers`` times; then each URL (up to six per
   kind) five times, one request at a time — the floor, what a request costs with no queueing —
   with the CPU time gunicorn's workers spent per request of each kind (from /proc).
4. ``--users`` virtual users for ``--seconds``: each picks a request by weight (``plan()``),
   sends it on a new connection with its persona's session cookie, reads the whole response,
   then thinks for an exponentially distributed time of mean ``--think`` seconds. Latency is
   from sending to the last byte. An error is any status other than 200 (a redirect to the
   login page counts) or a failed connection.
5. Saturation: the same users with no think time for ``--saturation-seconds`` (throughput).

Prints per request kind: count, p50/p95/p99/max, errors, and the server CPU each phase used.
Takes about 95 s with the defaults. Results go in docs/benchmarks.md under
"Load". Standard library client (asyncio streams), no load tool to install.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
LOG = Path("/tmp/load_bench_gunicorn.log")
CSRF = "loadbenchcsrfsecret0123456789abc"  # 32 characters: a CSRF secret as the cookie holds it


@dataclass
class Request:
    kind: str
    method: str
    path: str
    cookie: str = ""
    body: bytes = b""
    token: str = ""
    # A form POST as htmx sends it (the CSRF secret both in the cookie and the header).
    form: bool = False


@dataclass
class Kind:
    name: str
    weight: float
    requests: list[Request]


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        if status != 200:
            bucket = self.errors.setdefault(kind, {})
            bucket[str(status)] = bucket.get(str(status), 0) + 1


def session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def plan() -> tuple[list[Kind], str]:
    """The request kinds with their URLs and sessions, from the seeded database."""
    import django

    django.setup()
    from django.db.models import Count

    from engagements.models import ChecklistItem, Engagement, User
    from routing.access import token_create
    from routing.models import RoutingToken
    from territories.models import Account, BalancingRun

    def user(username: str) -> User:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise SystemExit(f"No user {username!r}: seed with bench/load_data.py first.") from None

    manager, architect, demo_architect = (
        user("manager"),
        user("load-architect-0"),
        user("architect"),
    )
    customer = user("customer2")
    cookies = {
        u.username: session_cookie(u) for u in (manager, architect, demo_architect, customer)
    }
    mine = list(
        Engagement.objects.filter(memberships__user=architect)
        .annotate(n_accounts=Count("accounts"))
        .order_by("-n_accounts", "pk")
    )
    big = mine[0]  # 8,000 accounts
    routed = RoutingToken.objects.select_related("engagement").order_by("pk").first()
    if routed is None:
        raise SystemExit("The demo made no routing token: seed with bench/load_data.py first.")
    demo = routed.engagement
    run = BalancingRun.objects.filter(engagement=demo, approved_at__isnull=False).get()
    _, token = token_create(engagement=demo, name="load bench", actor=None)
    totals = (
        Engagement.objects.count(),
        Account.objects.count(),
        Account.objects.filter(engagement=demo).count(),
        Account.objects.filter(engagement=big).count(),
    )

    def pages(kind: str, cookie: str, paths: list[str]) -> list[Request]:
        return [Request(kind, "GET", p, cookie=cookie) for p in paths]

    arch = cookies[architect.username]
    # Consultancy-owned required items of Strategy (the open phase) ticked by hand.
    ticks = list(
        ChecklistItem.objects.filter(
            engagement__in=mine,
            required=True,
            owner=ChecklistItem.Owner.CONSULTANCY,
            subphase__phase__number=1,
            signoff_subject="",  # ticked by a sign-off, not by hand
            condition="",  # applies to every engagement
        ).order_by("engagement_id", "pk")[:200]
    )
    if not ticks:
        raise SystemExit("No Strategy checklist items to tick: seed with bench/load_data.py first.")
    sample = mine[:: max(1, len(mine) // 5)][:5]  # the big one and four small ones
    kinds = [
        Kind("manager dashboard", 1, pages("manager dashboard", cookies["manager"], ["/"])),
        Kind("architect home", 1.5, pages("architect home", arch, ["/"])),
        Kind(
            "engagement overview",
            2,
            pages("engagement overview", arch, [f"/engagements/{e.pk}/" for e in sample])
            + pages("engagement overview", cookies["customer2"], [f"/engagements/{demo.pk}/"]),
        ),
        Kind(
            "phase board",
            1.5,
            pages("phase board", arch, [f"/engagements/{e.pk}/phases/" for e in sample]),
        ),
        Kind(
            "account list",
            1.5,
            pages("account list", arch, [f"/engagements/{e.pk}/accounts/" for e in sample])
            + pages(
                "account list",
                cookies["architect"],
                [f"/engagements/{demo.pk}/accounts/", f"/engagements/{demo.pk}/accounts/?page=7"],
            ),
        ),
        Kind(
            "run results",
            1,
            pages(
                "run results",
                cookies["architect"],
                [f"/engagements/{demo.pk}/territories/runs/{run.pk}/"],
            ),
        ),
        Kind(
            "customer portal home",
            1,
            pages("customer portal home", cookies["customer2"], ["/"]),
        ),
        Kind(
            "handoff pages",
            1,
            pages(
                "handoff pages",
                cookies["architect"],
                [
                    f"/engagements/{demo.pk}/handoff/{page}/"
                    for page in ("enablement", "hypercare", "maintenance", "close", "package")
                ],
            ),
        ),
        Kind(
            # Architects tick checklist items: each records an activity event, so the
            # dashboards cannot simply reuse what they computed before.
            "checklist tick (write)",
            0.5,
            [
                Request(
                    "checklist tick (write)",
                    "POST",
                    f"/engagements/{item.engagement_id}/phases/items/{item.pk}/toggle/",
                    cookie=arch,
                    body=f"done={done}".encode(),
                    form=True,
                )
                for item in ticks
                for done in (1, 0)
            ],
        ),
        Kind(
            "routing API",
            1.5,
            [
                Request("routing API", "POST", "/api/v1/route", body=b, token=token)
                for b in route_bodies(demo.pk, 500)
            ],
        ),
    ]
    print(
        f"data: {totals[0]} engagements, {totals[1]:,} accounts; pages of {architect.username} "
        f"({len(mine)} engagements, the biggest {totals[3]:,} accounts) and of the demo "
        f"engagement ({totals[2]:,} accounts, run {run.number} approved, routing token)"
    )
    return kinds, token


def route_bodies(engagement_pk: int, n: int) -> list[bytes]:
    """Records as a CRM sends them: mostly new, a few with blanks or garbage."""
    from territories.models import Account

    rows = list(
        Account.objects.filter(engagement_id=engagement_pk).values(
            "external_id", "name", "domain", "industry", "annual_revenue", "employees",
            "state", "city", "postal_code",
        )[:5000]
    )  # fmt: skip
    rng = random.Random(7)
    bodies = []
    for _ in range(n):
        row = dict(rng.choice(rows))
        row["annual_revenue"] = float(row["annual_revenue"] or 0) or None
        if rng.random() < 0.8:
            row["external_id"] = f"NEW-{rng.randrange(10**9)}"
        if rng.random() < 0.05:
            row["postal_code"] = ""
        bodies.append(json.dumps(row).encode())
    return bodies


def server_cpu(server: subprocess.Popen) -> float:
    """CPU seconds (user + system) used so far by gunicorn's worker processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server.pid:  # ppid: a worker of this gunicorn
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ROUTING_API_RATE_LIMIT": "100000000",
        "DEBUG": "false",
    }
    log = open(LOG, "w")  # noqa: SIM115 (lives as long as the server)
    args = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", str(workers),
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "256"]  # fmt: skip
    if threads > 1:
        args += ["--worker-class", "gthread", "--threads", str(threads)]
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"gunicorn did not start; see {LOG}")


async def send(port: int, request: Request) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"{request.method} {request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if request.form:
        head += f"Cookie: {request.cookie}; csrftoken={CSRF}\r\n"
        head += f"X-CSRFToken: {CSRF}\r\nHX-Request: true\r\n"
        head += "Content-Type: application/x-www-form-urlencoded\r\n"
        head += f"Content-Length: {len(request.body)}\r\n"
    else:
        if request.cookie:
            head += f"Cookie: {request.cookie}\r\n"
        if request.token:
            head += f"Authorization: Bearer {request.token}\r\n"
        if request.body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(request.body)}\r\n"
    writer.write(head.encode() + b"\r\n" + request.body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


async def user_loop(
    k: int, port: int, kinds: list[Kind], stats: Stats, stop: float, think: float
) -> None:
    rng = random.Random(1000 + k)
    weights = [kind.weight for kind in kinds]
    if think:
        await asyncio.sleep(rng.uniform(0, think))  # users do not all start at once
    while time.perf_counter() < stop:
        kind = rng.choices(kinds, weights)[0]
        request = rng.choice(kind.requests)
        begin = time.perf_counter()
        try:
            status = await send(port, request)
        except OSError:
            status = -1
        stats.add(kind.name, time.perf_counter() - begin, status)
        if think:
            await asyncio.sleep(min(rng.expovariate(1 / think), max(0, stop - time.perf_counter())))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def report(title: str, stats: Stats, elapsed: float) -> None:
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(sum(e.values()) for e in stats.errors.values())
    print(f"\n{title}: {total} requests in {elapsed:.0f} s = {total / elapsed:.1f} req/s, "
          f"errors {errors}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'request':<22}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  errors")
    everything = [x for v in stats.latencies.values() for x in v]
    for name, values in [*stats.latencies.items(), ("all", everything)]:
        print(
            f"{name:<22}{len(values):>6}{pct(values, 50):>7.0f}ms{pct(values, 95):>7.0f}ms"
            f"{pct(values, 99):>7.0f}ms{max(values) * 1000:>7.0f}ms  "
            f"{stats.errors.get(name, {}) or ('-' if name != 'all' else errors)}"
        )


async def run_users(port, kinds, users, seconds, think) -> tuple[Stats, float]:
    stats = Stats()
    begin = time.perf_counter()
    stop = begin + seconds
    await asyncio.gather(*(user_loop(k, port, kinds, stats, stop, think) for k in range(users)))
    return stats, time.perf_counter() - begin


async def sequential(
    port: int, kinds: list[Kind], repeat: int, server: subprocess.Popen
) -> tuple[Stats, dict[str, float]]:
    """One request at a time: each URL ``repeat`` times (the floor under load), and the
    server's CPU time per request of each kind — what a request costs whatever else runs."""
    stats = Stats()
    cpu: dict[str, float] = {}
    for kind in kinds:
        before, n = server_cpu(server), 0
        for request in kind.requests[:6]:
            for _ in range(repeat):
                begin = time.perf_counter()
                status = await send(port, request)
                stats.add(kind.name, time.perf_counter() - begin, status)
                n += 1
        cpu[kind.name] = (server_cpu(server) - before) / n
    return stats, cpu


async def warm_up(port: int, kinds: list[Kind], workers: int) -> None:
    for kind in kinds:
        for request in kind.requests[:8]:
            for _ in range(workers):
                status = await send(port, request)
                if status != 200:
                    raise SystemExit(f"warm-up: {request.method} {request.path} → {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--saturation-seconds", type=float, default=20)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("Set DATABASE_URL (the database bench/load_data.py seeded) and REDIS_URL.")

    kinds, _ = plan()
    port = free_port()
    server = start_gunicorn(port, args.workers, args.threads)
    try:
        print(
            f"gunicorn config.wsgi, {args.workers} workers × {args.threads} threads, "
            f"127.0.0.1:{port}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}"
        )
        asyncio.run(warm_up(port, kinds, args.workers))
        begin = time.perf_counter()
        stats, cpu = asyncio.run(sequential(port, kinds, 5, server))
        report("one request at a time (no concurrency)", stats, time.perf_counter() - begin)
        weights = {kind.name: kind.weight for kind in kinds}
        mean_cpu = sum(weights[k] * cpu[k] for k in cpu) / sum(weights.values())
        print(
            "server CPU per request (gunicorn workers, not the database): "
            + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in cpu.items())
            + f"; weighted mean of the mix {1000 * mean_cpu:.0f} ms"
        )
        phases = [(f"{args.users} users, think time {args.think:g} s (exponential)", args.seconds,
                   args.think)]  # fmt: skip
        if args.saturation_seconds:
            phases.append((f"{args.users} users, no think time (saturation)",
                           args.saturation_seconds, 0))  # fmt: skip
        for title, seconds, think in phases:
            before = server_cpu(server)
            stats, elapsed = asyncio.run(run_users(port, kinds, args.users, seconds, think))
            report(f"{title}, {seconds:g} s", stats, elapsed)
            served = sum(len(v) for v in stats.latencies.values())
            used = server_cpu(server) - before
            print(
                f"server CPU {used:.1f} s over {elapsed:.0f} s ({used / elapsed:.2f} cores), "
                f"{1000 * used / max(1, served):.0f} ms per request"
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
