"""The harness that runs the real system and measures it: `manage.py chaos` and
`manage.py loadtest` share it.

- `database`: a scratch database (created, migrated, dropped), or the one in use;
- `stack`: gunicorn, Celery workers and beat as child processes, killable and restartable;
- `seed`: a catalogue and customers with API tokens;
- `clients`: concurrent HTTP clients placing (and sometimes cancelling) orders;
- `faults`: what a chaos run injects, on a schedule and at random, and what it counted;
- `observe`: what the database says: sagas, backlog, latencies, corrections;
- `resources`: CPU and memory of the processes, from /proc;
- `chaos`, `loadtest`: the two runs; `report`: their JSON and readable summaries.
"""
