"""The lab: measurement tooling that runs the real system and measures it (chaos harness, load
test, `manage.py bench` and its baselines, the outbox and reconciler benchmarks). Development
only: no production package imports it, and neither `pip install .` nor the image ships it."""
