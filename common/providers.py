"""The database alias of the simulated providers (payment gateway, carrier, mail guard).

Their books go through a connection of their own, so a record survives a rollback of the
caller's transaction, as a real provider's would (settings: `DATABASES["providers"]`).
"""

PROVIDERS_DB = "providers"
