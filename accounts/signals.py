"""What accounts tells the apps above it, which it must not import.

`account_closed` is sent (on commit) when someone is disabled, wherever it happens (People,
Admin → Users, a script): the chat app closes every open socket of theirs, on every web
process, with the websocket close code given (chat.receivers).
"""
from __future__ import annotations

from django.dispatch import Signal

# Sent with `user_id` and `code` (a websocket close code from accounts.status).
account_closed = Signal()
