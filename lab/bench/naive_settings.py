"""BASELINE ONLY: the project's settings, with the naive chain's URLconf (lab.bench.naive) and
its tasks imported by the Celery workers. Used by `manage.py bench` for the naive baseline's
own gunicorn and workers, never by the system."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "lab.bench.naive"
CELERY_IMPORTS = ["lab.bench.naive"]
