"""`manage.py bench_outbox`: `run` measures the outbox alone with no-op deliveries (fast path and
backlog); `workers` starts the Celery workers it measures."""
