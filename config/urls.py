from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views as config_views
from engagements.forms import PasswordResetForm
from engagements.views import dashboards
from handoff import views as handoff_views
from routing import api as routing_api

urlpatterns = [
    path("", dashboards.home, name="home"),
    path("healthz", config_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Login, logout, password change and reset (templates in templates/registration/).
    path(
        "auth/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"
    ),
    # The reset form also reaches invited people whose invitation link expired.
    path(
        "auth/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=PasswordResetForm),
        name="password_reset",
    ),
    path("auth/", include("django.contrib.auth.urls")),
    path("engagements/", include("engagements.urls")),
    path("engagements/<int:engagement_pk>/accounts/", include("territories.urls")),
    path("engagements/<int:engagement_pk>/territories/", include("territories.design_urls")),
    path("engagements/<int:engagement_pk>/routing/", include("routing.urls")),
    path("engagements/<int:engagement_pk>/handoff/", include("handoff.urls")),
    # Token-authenticated, not session: see routing/access.py.
    path("api/v1/route", routing_api.route, name="api_route"),
    # The maintenance calendar: the secret token in the URL is the credential (calendar
    # clients cannot log in); see handoff/views.py::calendar_feed.
    path("calendar/<str:token>.ics", handoff_views.calendar_feed, name="handoff_calendar_feed"),
]

handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
