from django.urls import path

from . import views

app_name = "usage"
urlpatterns = [
    path("report/", views.report, name="report"),
    path("report.csv", views.report_csv, name="report_csv"),
    path("me/", views.me, name="me"),
    path("me.csv", views.me_csv, name="me_csv"),
]
