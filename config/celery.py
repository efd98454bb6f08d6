"""The Celery app. The broker is only a doorbell: PostgreSQL holds every delivery."""

import os

from celery import Celery
from celery.signals import setup_logging

from config.logging import configure_celery_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Worker and beat log through the project's handler and formatter, not Celery's own.
setup_logging.connect(configure_celery_logging)
