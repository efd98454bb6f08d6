"""`manage.py loadtest`: `run` places orders at a rate, samples backlog, CPU and memory, and
reports throughput and latencies (`manage.py bench` reuses its measurement)."""
