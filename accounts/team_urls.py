"""Staff pages: People (statuses, groups, budgets, sign-up settings) and Invites."""
from django.urls import path

from . import views

app_name = "team"
urlpatterns = [
    path("people/", views.people_page, name="people"),
    path("people/signup/", views.signup_settings, name="signup_settings"),
    path("people/<int:user_id>/<str:action>/", views.person_action, name="person_action"),
    path("invites/", views.invites_page, name="invites"),
    path("invites/<int:invite_id>/revoke/", views.invite_revoke, name="invite_revoke"),
]
