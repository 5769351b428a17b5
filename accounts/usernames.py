"""The usernames people may choose: Django's letters, digits and @ . + - _, starting with a letter, digit or _.

A username shows up in the usage CSVs, and a spreadsheet runs a cell that starts with
= + - @ as a formula. The CSVs escape such cells (usage.exports.safe_cell); this keeps
new names from needing it. The model's field uses it, so sign-up, invites, the admin's
forms and createsuperuser all check it.
"""
from __future__ import annotations

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.deconstruct import deconstructible


@deconstructible
class SafeUsernameValidator(UnicodeUsernameValidator):
    regex = r"^\w[\w.@+-]*\Z"
    message = ("Enter a username of letters, digits and @ . + - _ only, starting with a letter, a digit or _ "
               "(not with = + - @).")
