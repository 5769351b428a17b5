from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from accounts import my_usage
from accounts.views import SignInView
from usage import urls as usage_urls

from . import health
from .api import page_not_found
from .api import urls as api_urls

# Admin pages of models that moved to the app owning their domain: old bookmarks still land.
MOVED_ADMIN = (("chat", "provider|model|route", "gateways"), ("chat", "usagerecord", "usage"),
               ("usage", "price", "gateways"))

urlpatterns = [
    *(re_path(rf"^admin/{old}/(?P<name>{names})/(?P<rest>.*)$",
              RedirectView.as_view(url=f"/admin/{new}/%(name)s/%(rest)s", permanent=True, query_string=True))
      for old, names, new in MOVED_ADMIN),
    path("admin/", admin.site.urls),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("team/", include("accounts.team_urls")),
    path("api/", api_urls()),
    # The Team API: OpenAI-compatible, authenticated by personal access tokens (docs/api.md).
    path("v1/", include(("teamapi.urls", "teamapi"))),
    path("gateways/", include("gateways.urls")),
    # The usage pages, and My usage beside them (it shows the budget too: accounts.my_usage).
    path("usage/", include((usage_urls.urlpatterns + my_usage.urlpatterns, "usage"))),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("chat.urls")),
]

# Under /api/ a missing route is the JSON refusal too (docs/protocol.md, HTTP); elsewhere the usual page.
handler404 = page_not_found
