"""The "API tokens" page: everyone creates, sees and revokes their own; staff see and revoke anyone's."""
from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import tokens
from .access import models_for
from .forms import ApiTokenForm


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The list, the form, and after a POST the new token, shown this once (never stored, never in a session)."""
    form = ApiTokenForm(request.POST or None, models=list(models_for(request.user)))
    new_token = None
    refused = request.method == "POST" and not form.is_valid()
    if request.method == "POST" and not refused:
        token, new_token = tokens.create(request.user, form.cleaned_data["name"], expires_at=form.expires_at(),
                                         model_slugs=form.cleaned_data["models"], created_by=request.user)
        form = ApiTokenForm(models=list(models_for(request.user)))
        messages.success(request, f"Token “{token.name}” created. Copy it now: it is shown only once.")
    visible = list(tokens.visible_to(request.user))
    response = render(request, "accounts/api_tokens.html", {
        "form": form, "new_token": new_token, "api_base": request.build_absolute_uri("/v1"),
        "mine": [t for t in visible if t.user_id == request.user.pk],
        "others": [t for t in visible if t.user_id != request.user.pk],
    }, status=400 if refused else 200)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, token_id: UUID) -> HttpResponse:
    token = tokens.visible_to(request.user).filter(pk=token_id).first()
    if token is None:  # someone else's token looks exactly like one that does not exist
        raise Http404("No such token.")
    if tokens.revoke(token, by=request.user):
        whose = "" if token.user_id == request.user.pk else f" of {token.user.get_username()}"
        messages.success(request, f"Token “{token.name}”{whose} revoked: it stopped working at once.")
    return redirect("api_tokens")
