"""`manage.py bench`: this system side by side with what a user would otherwise pick, in one
run, on one machine, with the same PostgreSQL and Redis.

- `system`: the real stack end to end (API -> confirmed), driven by the harness's load test;
- `naive`, `naive_run`: BASELINE, the same four steps as a plain Celery chain (no outbox, no
  inbox, no reconciler), behind a plain view with the same clients;
- `dbos_flow`, `dbos_run`: PEER, DBOS Transact running the four steps as a durable workflow
  (optional dependency: the `lab` extra);
- `flow_sql`: the four steps' SQL that both baselines share;
- `side`: the outbox alone (lab.outbox_bench.run) and the reconciler beside many converged sagas;
- `ramp`: increasing client counts, the maximum, half of it, idle; `results`: JSON, Markdown,
  ratios and targets.
"""
