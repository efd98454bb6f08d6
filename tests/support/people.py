"""Users as the tests need them: an API token of theirs, and the job groups of
accounts/groups.py (made here when missing: a transactional test's flush empties the groups
the migration created, while Django re-creates the permissions)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, Permission

from accounts.groups import GROUPS
from accounts.tokens import issue_token

CATALOGUE, CUSTOMER_DATA = "catalogue and stock", "customer data"
SAGA_OPERATIONS, MONEY_APPROVALS = "saga operations", "money approvals"


def job_group(name: str) -> Group:
    """The group `name` of accounts/groups.py, with its permissions."""
    group, _ = Group.objects.get_or_create(name=name)
    for qualified in GROUPS[name]:
        app_label, codename = qualified.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                     codename=codename))
    return group


def give_jobs(user: AbstractBaseUser, *names: str) -> AbstractBaseUser:
    """Put `user` in the job groups `names`; returns the user."""
    user.groups.add(*(job_group(name) for name in names))  # type: ignore[attr-defined]
    return user


def token_for(user: AbstractBaseUser) -> str:
    """A new API token of `user`."""
    return issue_token(user)
