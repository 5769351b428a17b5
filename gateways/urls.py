from django.urls import path

from . import views

app_name = "gateways"

urlpatterns = [
    path("providers/", views.providers, name="providers"),
    path("providers/add/", views.provider_add, name="provider_add"),
    path("providers/discover/", views.providers_discover, name="discover_all"),
    path("providers/<int:pk>/", views.provider_edit, name="provider_edit"),
    path("providers/<int:pk>/toggle/", views.provider_toggle, name="provider_toggle"),
    path("providers/<int:pk>/test/", views.provider_test, name="provider_test"),
    path("providers/<int:pk>/discover/", views.provider_discover, name="provider_discover"),
    path("providers/listed/<int:pk>/map/", views.listed_map, name="listed_map"),
    path("providers/listed/<int:pk>/ignore/", views.listed_ignore, name="listed_ignore"),
    path("routes/", views.routes, name="routes"),
    path("routes/<int:pk>/up/", views.route_up, name="route_up"),
    path("routes/<int:pk>/toggle/", views.route_toggle, name="route_toggle"),
    path("health/", views.health, name="health"),
]
