"""Test settings: the real settings with test-only overrides.

The database comes from DATABASE_URL like everywhere else (CI: PostgreSQL; a fresh machine:
SQLite). A SQLite test database is a file, not memory, so a real ``rqworker`` subprocess started
by a test sees the same data. A worker subprocess started by ``tests.jobs_support`` is told the
test database's name through PORTAL_TEST_DB_NAME and the test's MEDIA_ROOT through
PORTAL_TEST_MEDIA_ROOT.
"""

import os
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests change rows directly (factories) between requests: the dashboards' overview reuse is off
# except in the test of it (tests/engagements/test_dashboards.py).
DASHBOARD_CACHE_SECONDS = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "test-media"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEBUG = False

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

if os.environ.get("PORTAL_TEST_DB_NAME"):
    # Inside a worker subprocess: use the test database the test process created.
    DATABASES["default"]["NAME"] = os.environ["PORTAL_TEST_DB_NAME"]
if os.environ.get("PORTAL_TEST_MEDIA_ROOT"):
    # Inside a worker subprocess: the MEDIA_ROOT of the test that started it (a test may point
    # it at its tmp_path), so the worker reads the uploads and writes the files the pages serve.
    MEDIA_ROOT = Path(os.environ["PORTAL_TEST_MEDIA_ROOT"])
