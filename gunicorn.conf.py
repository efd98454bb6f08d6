"""Gunicorn for a 2-core machine: two processes (one per core) of four threads each, so a
request waiting on PostgreSQL or Redis does not hold a core. Environment overrides:
WEB_HOST (127.0.0.1; 0.0.0.0 in a container), PORT (8000), WEB_WORKERS, WEB_THREADS."""

import os

from config.logging import logging_config

bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# No runtime control socket (one fixed path per user: two servers on a machine would clash).
control_socket_disable = True
# Recycle workers now and then so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200

# Gunicorn's own lines go through the project's formatter; the access log is written by
# config.middleware instead, inside the request's context, so it carries the request id.
_debug = os.environ.get("DJANGO_DEBUG", "").lower() in {"1", "true", "yes", "y", "on", "ok"}
logconfig_dict = logging_config(
    os.environ.get("LOG_FORMAT", "text" if _debug else "json"), os.environ.get("LOG_LEVEL", "INFO")
)
# Named here so their own handlers (gunicorn adds some) are dropped: lines go to the root's.
logconfig_dict["loggers"]["gunicorn.error"] = {"level": "INFO", "handlers": [], "propagate": True}
logconfig_dict["loggers"]["gunicorn.access"] = {
    "level": "WARNING", "handlers": [], "propagate": True
}
