"""Accounts: a custom user from the first migration so later fields need no swap."""
from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A team member; `is_staff` marks the team's admins."""

    class Meta:
        db_table = "accounts_user"
