"""The invariant audit: DESIGN.md's six invariants checked against the data, one module per
invariant (`run.run_audit` runs them all). The checks read the contexts only through their
selectors, and the providers only through their ports, as the reconciler does.
"""
