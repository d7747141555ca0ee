from django.urls import path

from territories import views

app_name = "territories"

urlpatterns = [
    # /engagements/<engagement_pk>/accounts/...
    path("quality/", views.data_quality, name="data_quality"),
]
