from django.urls import path

from engagements.views import core, signoffs

app_name = "engagements"

urlpatterns = [
    path("", core.engagement_list, name="engagement_list"),
    # /engagements/<engagement_pk>/...
    path("<int:engagement_pk>/", core.engagement_detail, name="engagement_detail"),
    path("<int:engagement_pk>/jobs/", core.job_list, name="job_list"),
    path("<int:engagement_pk>/jobs/<int:job_pk>/", core.job_detail, name="job_detail"),
    path("<int:engagement_pk>/jobs/<int:job_pk>/status/", core.job_status, name="job_status"),
    # /engagements/<engagement_pk>/signoffs/...
    path("<int:engagement_pk>/signoffs/", signoffs.signoff_list, name="signoff_list"),
    path(
        "<int:engagement_pk>/signoffs/versions/<int:version_pk>/",
        signoffs.signoff_version,
        name="signoff_version",
    ),
    path(
        "<int:engagement_pk>/signoffs/versions/<int:version_pk>/sign/",
        signoffs.signoff_sign,
        name="signoff_sign",
    ),
    path(
        "<int:engagement_pk>/signoffs/records/<int:record_pk>/certificate/",
        signoffs.signoff_certificate,
        name="signoff_certificate",
    ),
]
