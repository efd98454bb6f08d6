"""Test settings: the environment the test run (and the workers it starts) sees, then the
project's settings unchanged. Everything stays real: PostgreSQL, Redis, Celery workers."""

import os

_TEST_ENV = {
    "DJANGO_SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdef",
    "SAGA_TEST_APPS": "1",
    # Short timings so recovery paths run within a test's patience.
    "OUTBOX_SWEEP_GRACE_SECONDS": "2",
    "OUTBOX_LEASE_SECONDS": "5",
    "OUTBOX_BACKOFF_BASE_SECONDS": "0.1",
    "OUTBOX_BACKOFF_CAP_SECONDS": "2",
    "OUTBOX_SWEEP_INTERVAL_SECONDS": "1",
    # A broker database of its own, so a test run never eats a developer's queue.
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}
for _key, _value in _TEST_ENV.items():
    os.environ.setdefault(_key, _value)

from config.settings import *  # noqa: E402,F403

# A deliberately slow hash protects stored passwords, not test users: the fast one keeps a
# sign-in (and every create_user with a password) from costing a second of CPU.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Templates name static files without a `collectstatic` run first; production's hashed,
# compressed storage (WhiteNoise) is tested as deployed in tests/test_project_static.py.
STORAGES = {**STORAGES, "staticfiles": {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
}}
# Nothing is collected for the tests, so WhiteNoise gets no folder to warn about.
STATIC_ROOT = None
