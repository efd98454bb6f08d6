"""`manage.py chaos`: `run` drives the stack under `faults` until it converges and audits it;
`summary` is the readable report."""
