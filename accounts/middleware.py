"""Pending and disabled users keep no access: the API answers 403, pages sign them out."""
from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from .status import MESSAGES, refusal


class AccountStatusMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/v1/"):  # the Team API checks its token's owner itself (accounts.tokens)
            return self.get_response(request)
        reason = refusal(getattr(request, "user", None))
        if reason is not None:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": MESSAGES[reason], "code": f"account_{reason}"}, status=403)
            logout(request)
            messages.error(request, MESSAGES[reason])
            return redirect("login")
        return self.get_response(request)
