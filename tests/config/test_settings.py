"""Production settings refuse unsafe configuration and pass Django's deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "a-very-long-production-secret-key-with-enough-entropy-1234567890-xyz",
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:secret@db.example.com:5432/portal",
    "REDIS_URL": "redis://redis.example.com:6379/0",
}


def _run(args: list[str], **env_overrides: str | None) -> subprocess.CompletedProcess:
    # Start from this environment minus what the test sets (the browser tests' conftest sets
    # DJANGO_ALLOW_ASYNC_UNSAFE for this process, which check --deploy rightly refuses).
    dropped = {*GOOD_PRODUCTION_ENV, "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    for key, value in {**GOOD_PRODUCTION_ENV, **env_overrides}.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _import_settings(**env) -> subprocess.CompletedProcess:
    return _run(["-c", "import django; django.setup()"], **env)


def test_production_settings_load_with_everything_set():
    done = _import_settings()
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"DEBUG": "1"}, "DEBUG must be off"),
        ({"DATABASE_URL": None}, "DATABASE_URL must be set"),
        ({"DATABASE_URL": "sqlite:////tmp/portal.sqlite3"}, "SQLite is for local use only"),
        ({"REDIS_URL": None}, "REDIS_URL must be set"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set"),
    ],
)
def test_production_refuses_unsafe_configuration(overrides, message):
    done = _import_settings(**overrides)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert message in done.stderr


def test_bad_boolean_names_the_variable():
    done = _import_settings(DJANGO_ENV=None, SESSION_COOKIE_SECURE="maybe")
    assert done.returncode != 0
    assert "SESSION_COOKIE_SECURE must be a boolean" in done.stderr


def test_production_passes_check_deploy():
    done = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_development_defaults_need_nothing_installed():
    done = _run(
        [
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.DATABASES['default']['ENGINE'], s.REDIS_URL, s.DEBUG)",
        ],
        DJANGO_ENV=None,
        SECRET_KEY=None,
        DATABASE_URL=None,
        REDIS_URL=None,
        ALLOWED_HOSTS=None,
    )
    assert done.returncode == 0, done.stderr
    engine, redis_url, debug = done.stdout.split()
    assert engine.endswith("sqlite3")
    assert redis_url.startswith("unix://") and redis_url.endswith("var/redis.sock")
    assert debug == "True"
