from django.urls import path

from engagements import views

app_name = "engagements"

urlpatterns = [
    path("", views.engagement_list, name="engagement_list"),
    # /engagements/<engagement_pk>/...
    path("<int:engagement_pk>/", views.engagement_detail, name="engagement_detail"),
    path("<int:engagement_pk>/jobs/", views.job_list, name="job_list"),
    path("<int:engagement_pk>/jobs/<int:job_pk>/", views.job_detail, name="job_detail"),
    path("<int:engagement_pk>/jobs/<int:job_pk>/status/", views.job_status, name="job_status"),
]
