"""A tiny bounded context used only by the outbox tests (installed when SAGA_TEST_APPS=1)."""
