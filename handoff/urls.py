from django.urls import include, path

from handoff import views

app_name = "handoff"

urlpatterns = [
    # Enablement: /engagements/<pk>/handoff/enablement/
    path("enablement/", views.enablement, name="enablement"),
    path("enablement/training/<int:training_pk>/", views.training_save, name="training_save"),
    path("enablement/assets/<int:item_pk>/", views.asset_toggle, name="asset_toggle"),
    path("enablement/signoff/", views.enablement_publish, name="enablement_publish"),
    # Hypercare: /engagements/<pk>/handoff/hypercare/
    path("hypercare/", views.hypercare, name="hypercare"),
    path("hypercare/rollout/", views.hypercare_rollout, name="hypercare_rollout"),
    path("hypercare/office-hours/", views.office_hours_add, name="office_hours_add"),
    path("hypercare/issues/", views.issue_add, name="issue_add"),
    path("hypercare/issues/<int:issue_pk>/resolve/", views.issue_resolve, name="issue_resolve"),
    path("hypercare/accuracy/", views.accuracy_add, name="accuracy_add"),
    # Maintenance schedule: /engagements/<pk>/handoff/maintenance/
    path("maintenance/", views.maintenance, name="maintenance"),
    path("maintenance/<int:occurrence_pk>/done/", views.occurrence_done, name="occurrence_done"),
    path("maintenance/calendar/", views.calendar_regenerate, name="calendar_regenerate"),
    # Refinement triggers and the handoff page
    path("triggers/", views.trigger_list, name="trigger_list"),
    path("close/", views.handoff_page, name="handoff"),
    path("close/notes/", views.notes_save, name="notes_save"),
    path("close/debrief/", views.debrief_save, name="debrief_save"),
    path("close/signoff/", views.project_close_publish, name="project_close_publish"),
    path("", include("handoff.package_urls")),
]
