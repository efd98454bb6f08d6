"""The real system as a measurement runs it.

- `database`: a scratch database (created, migrated, dropped), or the one in use;
- `processes`: gunicorn, Celery workers and beat as child processes, killable and restartable;
- `seed`: a catalogue and customers with API tokens;
- `clients`: concurrent HTTP clients placing (and sometimes cancelling) orders;
- `target`: a started stack (or an attached one) with its customers, stopped on the way out;
- `observe`: what the database says: sagas, backlog, latencies, corrections.
"""
