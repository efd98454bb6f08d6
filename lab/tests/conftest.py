"""The project's test fixtures the lab's tests use (the real broker)."""

from tests.conftest import broker

__all__ = ["broker"]
