"""Benchmark POST /api/v1/route against gunicorn on loopback, one record per request.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        .venv/bin/python bench/routing_api.py [--accounts 3000] [--rate 50] [--seconds 30]
            [--workers 2] [--concurrency 4,8,16] [--saturation-seconds 15] [--skip-seed]

1. Seeds the database with ``manage.py demo`` (a territory object generated from an approved
   balancing run, named accounts, split states) and takes the API token the demo prints.
   The database must be a scratch one: the demo replaces its engagements.
2. Starts ``gunicorn config.wsgi`` on 127.0.0.1 (sync workers, --workers) with the rate limit
   raised so it counts but never refuses (it still costs its cache round trip per request).
3. Open loop at ``--rate`` requests/s for ``--seconds``: request i is due at t0 + i/rate and its
   latency runs from that due time to the end of the response (so a slow server cannot hide
   queueing by delaying the client). Each request opens its own connection, as a CRM's
   outbound call does. Prints p50/p95/p99/max and the error count.
4. Saturation: closed loops with each ``--concurrency`` level for ``--saturation-seconds``;
   prints throughput and latency percentiles.

Records are drawn from the demo's accounts (with a share of blanks and garbage). Standard library
client (asyncio streams), no load tool to install. Stops gunicorn (its own process group) at the
end. Results go in docs/benchmarks.md under "Routing".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LOG = Path("/tmp/routing_api_bench_gunicorn.log")


def seed_database(accounts: int) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    done = subprocess.run(
        [PY, "manage.py", "demo", "--accounts", str(accounts), "--password", "bench-pass-123"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"(rt_[0-9a-f]+_[A-Za-z0-9_\-]+)", done.stdout)
    if not match:
        raise SystemExit("The demo printed no API token:\n" + done.stdout[-2000:])
    return match.group(1)


def sample_records(n: int, seed: int, token: str) -> list[bytes]:
    """Bodies from the accounts of the token's engagement, with blanks and garbage as a CRM
    sends them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from routing.models import RoutingToken
    from territories.models import Account

    engagement = RoutingToken.objects.get(prefix=token.split("_")[1]).engagement_id
    rows = list(
        Account.objects.filter(engagement_id=engagement).values(
            "external_id",
            "name",
            "domain",
            "industry",
            "annual_revenue",
            "employees",
            "state",
            "city",
            "postal_code",
        )[:5000]
    )
    rng = random.Random(seed)
    bodies = []
    for _ in range(n):
        row = dict(rng.choice(rows))
        row["external_id"] = (
            f"NEW-{rng.randrange(10**9)}" if rng.random() < 0.8 else row["external_id"]
        )
        roll = rng.random()
        if roll < 0.03:
            row["annual_revenue"] = "unknown"
        elif roll < 0.06:
            row["postal_code"] = ""
        bodies.append(json.dumps(row).encode())
    return bodies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ROUTING_API_RATE_LIMIT": "100000000",
        "DEBUG": "false",
    }
    # The floor measurement makes Django log a 401 warning per request: keep the server's
    # output out of the report, in a file.
    log = open(LOG, "w")  # noqa: SIM115 (lives as long as the server)
    process = subprocess.Popen(
        [PY, "-m", "gunicorn", "config.wsgi", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


async def one(port: int, token: str, body: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /api/v1/route HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    return f"p50 {pct(50):.1f} ms, p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, max {ordered[-1] * 1000:.1f} ms"


async def open_loop(
    port: int, token: str, bodies: list[bytes], rate: float, seconds: float
) -> None:
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    start = time.perf_counter() + 0.5

    async def fire(i: int) -> None:
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            status = await one(port, token, bodies[i % len(bodies)])
        except OSError:
            status = -1
        latencies.append(time.perf_counter() - due)
        if status != 200:
            errors[status] = errors.get(status, 0) + 1

    await asyncio.gather(*(fire(i) for i in range(total)))
    print(
        f"open loop {rate:g} req/s for {seconds:g} s ({total} requests): {percentiles(latencies)}; "
        f"errors {errors or 'none'}"
    )


async def closed_loop(
    port: int, token: str, bodies: list[bytes], concurrency: int, seconds: float
) -> None:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        i = k
        while time.perf_counter() < stop:
            begin = time.perf_counter()
            try:
                status = await one(port, token, bodies[i % len(bodies)])
            except OSError:
                status = -1
            latencies.append(time.perf_counter() - begin)
            errors += status != 200
            i += concurrency

    began = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - began
    print(
        f"saturation, {concurrency} concurrent clients, {seconds:g} s: "
        f"{len(latencies) / elapsed:,.0f} req/s; {percentiles(latencies)}; errors {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", default="4,8,16")
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--token", help="use this token and skip seeding (with --skip-seed)")
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("Set DATABASE_URL (a scratch database) and REDIS_URL.")

    token = args.token if args.skip_seed else seed_database(args.accounts)
    bodies = sample_records(2000, seed=11, token=token)
    port = free_port()
    server = start_gunicorn(port, args.workers)
    try:
        print(
            f"gunicorn config.wsgi, {args.workers} sync workers, 127.0.0.1:{port}; load average {os.getloadavg()[0]:.2f}"
        )
        asyncio.run(one_warmup(port, token, bodies))
        asyncio.run(open_loop(port, token, bodies, args.rate, args.seconds))
        for level in (int(c) for c in args.concurrency.split(",")):
            asyncio.run(closed_loop(port, token, bodies, level, args.saturation_seconds))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


async def one_warmup(port: int, token: str, bodies: list[bytes]) -> None:
    """A few requests so each worker has built its cached configuration (first request per
    process builds it: a few queries and the territory index)."""
    statuses = [await one(port, token, bodies[i]) for i in range(20)]
    if any(s != 200 for s in statuses):
        raise SystemExit(f"warm-up failed: {statuses}")
    latencies = []
    for i in range(200):
        begin = time.perf_counter()
        await one(port, token, bodies[i])
        latencies.append(time.perf_counter() - begin)
    print(
        f"sequential, one at a time, 200 requests: {percentiles(latencies)}; mean {statistics.mean(latencies) * 1000:.1f} ms"
    )
    # The harness's own floor: the same POST with a bad token is refused before any query, so
    # it costs the connection, gunicorn, Django's middleware and this client, not routing.
    latencies = []
    for i in range(200):
        begin = time.perf_counter()
        status = await one(port, "malformed", bodies[i])
        latencies.append(time.perf_counter() - begin)
    print(
        f"baseline, malformed token (401 before any query), 200 requests: {percentiles(latencies)} (status {status})"
    )


if __name__ == "__main__":
    main()
