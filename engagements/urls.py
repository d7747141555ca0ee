from django.urls import path

from engagements.views import (
    assumptions,
    core,
    definitions,
    intake,
    manage,
    meetings,
    phases,
    signoffs,
)

app_name = "engagements"

E = "<int:engagement_pk>/"

urlpatterns = [
    path("", core.engagement_list, name="engagement_list"),
    path("new/", manage.engagement_create, name="engagement_create"),
    # /engagements/<engagement_pk>/...
    path(E, core.engagement_detail, name="engagement_detail"),
    path(E + "edit/", manage.engagement_edit, name="engagement_edit"),
    path(E + "activity/", core.activity_list, name="activity_list"),
    path(E + "team/", manage.member_list, name="member_list"),
    path(E + "team/<int:membership_pk>/remove/", manage.member_remove, name="member_remove"),
    path(E + "hours/", manage.hours_list, name="hours_list"),
    path(E + "stakeholders/", manage.stakeholder_list, name="stakeholder_list"),
    path(
        E + "stakeholders/<int:stakeholder_pk>/", manage.stakeholder_edit, name="stakeholder_edit"
    ),
    path(E + "jobs/", core.job_list, name="job_list"),
    path(E + "jobs/<int:job_pk>/", core.job_detail, name="job_detail"),
    path(E + "jobs/<int:job_pk>/status/", core.job_status, name="job_status"),
    # /engagements/<engagement_pk>/phases/...
    path(E + "phases/", phases.phase_board, name="phase_board"),
    path(E + "phases/items/<int:item_pk>/toggle/", phases.item_toggle, name="item_toggle"),
    path(E + "phases/items/<int:item_pk>/note/", phases.item_note, name="item_note"),
    path(E + "phases/items/<int:item_pk>/history/", phases.item_history, name="item_history"),
    path(E + "phases/<int:phase_number>/gate/", phases.gate_decide, name="gate_decide"),
    path(E + "phases/<int:phase_number>/reopen/", phases.phase_reopen, name="phase_reopen"),
    # /engagements/<engagement_pk>/assumptions/...
    path(E + "assumptions/", assumptions.assumption_list, name="assumption_list"),
    path(
        E + "assumptions/<int:assumption_pk>/",
        assumptions.assumption_detail,
        name="assumption_detail",
    ),
    path(
        E + "assumptions/<int:assumption_pk>/blocking/",
        assumptions.assumption_blocking,
        name="assumption_blocking",
    ),
    # /engagements/<engagement_pk>/meetings/...
    path(E + "meetings/", meetings.meeting_list, name="meeting_list"),
    path(E + "meetings/<int:meeting_pk>/", meetings.meeting_detail, name="meeting_detail"),
    path(E + "meetings/<int:meeting_pk>/after/", meetings.meeting_recap, name="meeting_recap"),
    path(E + "meetings/<int:meeting_pk>/feedback/", meetings.feedback_add, name="feedback_add"),
    path(
        E + "feedback/<int:feedback_pk>/status/", meetings.feedback_status, name="feedback_status"
    ),
    # /engagements/<engagement_pk>/intake/...
    path(E + "intake/", intake.intake, name="intake"),
    path(E + "intake/autosave/", intake.intake_autosave, name="intake_autosave"),
    path(E + "intake/upload/", intake.intake_upload, name="intake_upload"),
    path(E + "intake/submit/", intake.intake_submit, name="intake_submit"),
    path(E + "intake/reopen/", intake.intake_reopen, name="intake_reopen"),
    path(
        E + "intake/uploads/<int:upload_pk>/",
        intake.intake_upload_download,
        name="intake_upload_download",
    ),
    # /engagements/<engagement_pk>/definitions/...
    path(E + "definitions/", definitions.definitions, name="definitions"),
    path(E + "definitions/print/", definitions.definitions_print, name="definitions_print"),
    path(
        E + "definitions/<int:term_pk>/edit/", definitions.definition_edit, name="definition_edit"
    ),
    # /engagements/<engagement_pk>/signoffs/...
    path(E + "signoffs/", signoffs.signoff_list, name="signoff_list"),
    path(
        E + "signoffs/versions/<int:version_pk>/", signoffs.signoff_version, name="signoff_version"
    ),
    path(
        E + "signoffs/versions/<int:version_pk>/sign/", signoffs.signoff_sign, name="signoff_sign"
    ),
    path(
        E + "signoffs/records/<int:record_pk>/certificate/",
        signoffs.signoff_certificate,
        name="signoff_certificate",
    ),
]
