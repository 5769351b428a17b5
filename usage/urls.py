from django.urls import path

from . import views

# Mounted by grokweb.urls in the `usage` namespace, with My usage (accounts.my_usage).
urlpatterns = [
    path("report/", views.report, name="report"),
    path("report.csv", views.report_csv, name="report_csv"),
    path("me.csv", views.me_csv, name="me_csv"),
]
