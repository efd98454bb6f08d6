"""Structured logging: every line carries the correlation and causation ids in force.

One configuration serves Django (settings.LOGGING), gunicorn (gunicorn.conf.py) and Celery's
worker and beat (`configure_celery_logging`, connected in config/celery.py), so a line looks
the same whichever process wrote it: JSON lines in production, readable text in development.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from common.message_context import actor, causation_id, correlation_id

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [corr=%(correlation_id)s cause=%(causation_id)s] "
    "%(message)s"
)


class CorrelationFilter(logging.Filter):
    """Stamps the ids of the request or delivery being handled on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get() or "-"
        record.causation_id = causation_id.get() or "-"
        record.actor = actor.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `extra=` fields kept."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary: one console handler on the root logger with
    the correlation filter and the `fmt` formatter ("json" or "text")."""
    if fmt not in {"json", "text"}:
        raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logging.CorrelationFilter"}},
        "formatters": {
            "json": {"()": "config.logging.JsonFormatter"},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["context"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default handlers (a DEBUG-only console, runserver's own) would write a
            # second, unformatted copy of these lines: everything goes to the root's handler.
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.server": {"handlers": [], "level": level, "propagate": True},
            "django.db.backends": {"level": "INFO"},  # SQL at DEBUG is too much, even then
            "celery": {"level": level},
        },
    }


def configure_celery_logging(**kwargs: object) -> None:
    """Receiver of Celery's `setup_logging` signal. While a receiver is connected, Celery
    configures no logging of its own, so worker and beat lines (Celery's included) go through
    the project's handler, filter and formatter."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
