"""The job groups exist after `migrate`, with exactly the permissions accounts/groups.py
names, and a group is what lets staff do the job (plain staff get 403: see
tests/test_security_authorization.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.groups import GROUPS

pytestmark = pytest.mark.django_db


def test_the_migration_creates_the_four_job_groups_with_their_permissions():
    made = {group.name: {f"{p.content_type.app_label}.{p.codename}"
                         for p in group.permissions.select_related("content_type")}
            for group in Group.objects.filter(name__in=GROUPS)}
    assert made == {name: set(permissions) for name, permissions in GROUPS.items()}
    assert set(GROUPS) == {"catalogue and stock", "customer data", "saga operations",
                           "money approvals"}


def test_money_approvals_are_apart_from_saga_operations():
    assert "saga.decide_correction" not in GROUPS["saga operations"]
    assert "saga.decide_correction" in GROUPS["money approvals"]
