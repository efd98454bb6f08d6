"""The project's real-process fixtures (Celery worker, broker), shared with payments' tests."""

from collections.abc import Iterator

import pytest
from django.db import connections

from tests.conftest import broker, mail_dir, process_env, start_worker, worker  # noqa: F401


@pytest.fixture(scope="module")
def provider_connection_closed_after() -> Iterator[None]:
    """The "providers" alias is a second connection to the test database; close it when a
    module is done so that the test database can be dropped at the end of the run."""
    yield
    connections["providers"].close()
