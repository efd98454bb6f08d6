"""`manage.py bench_reconciler`: `run` times a reconciler pass over drifted sagas alone and
among many converged ones."""
