"""Account pages under /accounts/: sign-up, invites, passwords, API tokens (sign-in and sign-out: grokweb/urls.py)."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import token_pages, views

urlpatterns = [
    path("signup/", views.signup_view, name="signup"),
    path("signup/pending/", views.signup_pending, name="signup_pending"),
    path("invite/<str:token>/", views.invite_accept, name="invite_accept"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("tokens/", token_pages.api_tokens, name="api_tokens"),
    path("tokens/<uuid:token_id>/revoke/", token_pages.api_token_revoke, name="api_token_revoke"),
]
