from collections.abc import Iterator

import pytest
from django.db import connections


@pytest.fixture(scope="module", autouse=True)
def provider_connection_closed_after() -> Iterator[None]:
    """The "providers" alias is a second connection to the test database; close it when a
    module is done so that the test database can be dropped at the end of the run."""
    yield
    connections["providers"].close()
