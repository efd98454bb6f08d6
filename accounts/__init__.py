"""People and what they may do: API tokens (hashed, expiring, revoked when the password
changes), the permission groups of the operators' jobs, and the throttles of signing in."""
