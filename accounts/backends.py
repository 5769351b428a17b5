"""Authentication: passwords as usual, but sessions of inactive users still resolve.

Django's ModelBackend turns an inactive user's session into an anonymous one,
which would make a disabled user indistinguishable from a signed-out one.
Resolving them lets the middleware, the API and the websocket say *why* they
are refused (see accounts.status). Signing in still requires status active:
the login form refuses pending and disabled accounts with their own message.
"""
from __future__ import annotations

from django.contrib.auth.backends import AllowAllUsersModelBackend


class AccountBackend(AllowAllUsersModelBackend):
    pass
