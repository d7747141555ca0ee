"""Documentation package URLs (included from ``handoff/urls.py`` under
``engagements/<int:engagement_pk>/handoff/``, namespace ``handoff``)."""

from django.urls import path

from handoff import package_views

urlpatterns = [
    path("package/", package_views.package_list, name="package_list"),
    path(
        "package/v<int:version>/download/",
        package_views.package_download,
        name="package_download",
    ),
    path(
        "package/v<int:version>/files/<str:filename>",
        package_views.package_file,
        name="package_file",
    ),
]
