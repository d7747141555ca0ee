from django.urls import include, path

app_name = "handoff"

urlpatterns = [
    path("", include("handoff.package_urls")),
]
