"""Pages: sign-in, sign-up, invite acceptance (public), and the staff People and Invites pages."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.models import Group
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import invites, notices, people, signup
from .forms import BudgetForm, InviteAcceptForm, InviteForm, SignInForm, SignUpForm, SiteSettingsForm
from .models import Invite, SiteSettings, User
from .staff import staff_required

BACKEND = "accounts.backends.AccountBackend"


class SignInView(LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "signup_mode": signup.mode()}


def _closed(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_closed.html", status=403)


def signup_view(request: HttpRequest) -> HttpResponse:
    """Self sign-up: refused when closed; pending when approval is needed; signed in when open."""
    if request.user.is_authenticated:
        return redirect("chat:index")
    mode = signup.mode()
    if mode not in ("open", "approval"):
        return _closed(request)
    form = SignUpForm(request.POST or None, domains=signup.domains())
    if request.method == "POST" and form.is_valid():
        user = signup.register(username=form.cleaned_data["username"], email=form.cleaned_data["email"],
                               password=form.cleaned_data["password1"], signup_mode=mode)
        if user.status == User.Status.ACTIVE:
            login(request, user, backend=BACKEND)
            return redirect("chat:index")
        notices.signup_waiting(user, request.build_absolute_uri(reverse("team:people")))
        return redirect("signup_pending")
    return render(request, "registration/signup.html", {"form": form, "mode": mode})


def signup_pending(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_pending.html")


INVITE_REFUSALS = {
    "invalid": ("This invite link is not valid",
                "The link may have been copied incompletely. Ask the person who invited you for a new one.", 404),
    "expired": ("This invite has expired",
                "Invite links are valid for a limited time. Ask an administrator for a new one.", 410),
    "used": ("This invite has already been used",
             "Each invite link works a limited number of times. Ask an administrator for a new one.", 410),
    "revoked": ("This invite was withdrawn",
                "An administrator cancelled this invite. Ask them for a new one if you still need access.", 410),
}


def _invite_refused(request: HttpRequest, reason: str) -> HttpResponse:
    title, text, status = INVITE_REFUSALS[reason]
    return render(request, "registration/invite_refused.html", {"title": title, "text": text}, status=status)


def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invite = invites.find(token)
    except invites.InviteRefused as exc:
        return _invite_refused(request, exc.reason)
    if request.user.is_authenticated:
        return render(request, "registration/invite_signed_in.html", {"invite": invite})
    form = InviteAcceptForm(request.POST or None, invite=invite)
    if request.method == "POST" and form.is_valid():
        try:
            user = invites.accept(token, username=form.cleaned_data["username"], email=form.cleaned_data["email"],
                                  password=form.cleaned_data["password1"])
        except invites.InviteRefused as exc:  # used up by someone else a moment ago
            return _invite_refused(request, exc.reason)
        login(request, user, backend=BACKEND)
        return redirect("chat:index")
    return render(request, "registration/invite_accept.html", {"form": form, "invite": invite})


# Staff pages -------------------------------------------------------------


@staff_required
def people_page(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in User.Status.values:
        status = ""
    site = SiteSettings.load()
    settings_form = SiteSettingsForm(instance=site)
    rows = people.people(status)
    counts = {s: User.objects.filter(status=s).count() for s in User.Status.values}
    return render(request, "accounts/people.html", {
        "rows": rows, "status": status, "counts": counts, "groups": Group.objects.order_by("name"),
        "settings_form": settings_form, "site": site, "statuses": User.Status.choices,
    })


@staff_required
@require_POST
def signup_settings(request: HttpRequest) -> HttpResponse:
    form = SiteSettingsForm(request.POST, instance=SiteSettings.load())
    if form.is_valid():
        form.save()
        messages.success(request, "Sign-up settings saved.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("team:people")


ACTIONS = ("approve", "disable", "enable", "group", "reset_budget", "budget")


@staff_required
@require_POST
def person_action(request: HttpRequest, user_id: int, action: str) -> HttpResponse:
    """One change to one person; each answers with a message on the People page."""
    if action not in ACTIONS:
        raise Http404("No such action.")
    person = get_object_or_404(User, pk=user_id)
    name = person.username
    if action in ("disable",) and person.pk == request.user.pk:
        messages.error(request, "You cannot disable your own account.")
    elif action in ("approve", "enable"):
        was_pending = person.status == User.Status.PENDING
        person.status = User.Status.ACTIVE
        person.save(update_fields=["status"])
        told = was_pending and notices.approved(person, request.build_absolute_uri(reverse("login")))
        messages.success(request, f"{name} is active{' (approved)' if action == 'approve' else ''}"
                                  f"{'; they were told by e-mail' if told else ''}.")
    elif action == "disable":
        person.status = User.Status.DISABLED
        person.save(update_fields=["status"])  # closes their open tabs (User.save)
        messages.success(request, f"{name} is disabled; they can no longer sign in or chat.")
    elif action == "group":
        group_id = request.POST.get("group", "")
        if person.groups.count() > 1:
            messages.error(request, f"{name} is in several groups; change them under Admin → Users so none "
                                    "is dropped by mistake.")
            return redirect(_back(request))
        with transaction.atomic():
            if group_id:
                group = Group.objects.filter(pk=group_id).first()
                if group is None:
                    messages.error(request, "That group does not exist.")
                    return redirect(_back(request))
                person.groups.set([group])
                messages.success(request, f"{name} is now in the group {group.name}.")
            else:
                person.groups.clear()
                messages.success(request, f"{name} is in no group now.")
    elif action == "reset_budget":
        person.budget_reset_at = timezone.now()
        person.save(update_fields=["budget_reset_at"])
        messages.success(request, f"{name}'s budget was reset: spending counts from now on this month.")
    elif action == "budget":
        form = BudgetForm(request.POST)
        if not form.is_valid():
            messages.error(request, "A budget must be a positive number (or blank).")
        else:
            person.budget_usd = form.cleaned_data["budget_usd"]
            person.budget_tokens = form.cleaned_data["budget_tokens"]
            person.save(update_fields=["budget_usd", "budget_tokens"])
            messages.success(request, f"{name}'s own budget was saved.")
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    """Back to the People page, keeping its status filter."""
    status = request.POST.get("status_filter", "")
    url = reverse("team:people")
    return f"{url}?status={status}" if status in User.Status.values else url


@staff_required
def invites_page(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _, token = invites.create(
            created_by=request.user, expires_at=form.expires_at(), email=data["email"] or "", group=data["group"],
            budget_usd=data["budget_usd"], budget_tokens=data["budget_tokens"], max_uses=data["max_uses"],
            note=data["note"] or "",
        )
        request.session["new_invite_link"] = request.build_absolute_uri(reverse("invite_accept", args=[token]))
        messages.success(request, "Invite created. Copy the link now: it is shown only once.")
        return redirect("team:invites")
    new_link = request.session.pop("new_invite_link", None)
    rows = Invite.objects.select_related("group", "created_by").order_by("-created_at")[:200]
    return render(request, "accounts/invites.html", {"form": form, "invites": rows, "new_link": new_link,
                                                     "now": timezone.now()})


@staff_required
@require_POST
def invite_revoke(request: HttpRequest, invite_id: int) -> HttpResponse:
    invite = get_object_or_404(Invite, pk=invite_id)
    invites.revoke(invite)
    messages.success(request, "Invite withdrawn; its link no longer works.")
    return redirect("team:invites")
