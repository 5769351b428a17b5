from django.urls import path

from . import pages

app_name = "chat"
urlpatterns = [
    path("", pages.index, name="index"),
    path("c/<uuid:conversation_id>/", pages.index, name="conversation"),
    path("s/<str:token>/", pages.shared, name="shared"),
]
