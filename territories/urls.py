from django.urls import path

from territories import views

app_name = "territories"

urlpatterns = [
    # /engagements/<engagement_pk>/accounts/...
    path("", views.account_list, name="account_list"),
    path("export.csv", views.account_export_csv, name="account_export_csv"),
    path("export.xlsx", views.account_export_xlsx, name="account_export_xlsx"),
    path(
        "exports/<int:export_pk>/download/",
        views.account_export_download,
        name="account_export_download",
    ),
    path("quality/", views.data_quality, name="data_quality"),
    # .../accounts/imports/...
    path("imports/", views.import_list, name="import_list"),
    path("imports/from-intake/", views.import_from_intake, name="import_from_intake"),
    path("imports/<int:import_pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:import_pk>/errors.csv", views.import_errors_csv, name="import_errors_csv"),
    # .../accounts/tiers/...
    path("tiers/", views.tier_matrix, name="tier_matrix"),
    path("tiers/new/", views.tier_rule_edit, name="tier_rule_create"),
    path("tiers/preview/", views.tier_rule_preview, name="tier_rule_preview"),
    path(
        "tiers/publish/",
        views.signoff_publish,
        {"subject": "icp_matrix"},
        name="tier_matrix_publish",
    ),
    path("tiers/<int:rule_pk>/", views.tier_rule_edit, name="tier_rule_edit"),
    path("tiers/<int:rule_pk>/delete/", views.tier_rule_delete, name="tier_rule_delete"),
    path("tiers/<int:rule_pk>/move/", views.tier_rule_move, name="tier_rule_move"),
    # .../accounts/segments/, valuation/, coverage/
    path("segments/", views.segment_list, name="segment_list"),
    path("valuation/", views.valuation_detail, name="valuation_detail"),
    path("valuation/revalue/", views.valuation_revalue, name="valuation_revalue"),
    path(
        "valuation/publish/",
        views.signoff_publish,
        {"subject": "valuation_methodology"},
        name="valuation_publish",
    ),
    path("coverage/", views.coverage_detail, name="coverage_detail"),
    # .../accounts/team/...
    path("team/", views.team, name="team"),
    path("team/reps/new/", views.rep_edit, name="rep_create"),
    path("team/reps/<int:rep_pk>/", views.rep_edit, name="rep_edit"),
    path("team/reps/<int:rep_pk>/delete/", views.rep_delete, name="rep_delete"),
    path("team/hires/new/", views.hire_edit, name="hire_create"),
    path("team/hires/<int:hire_pk>/", views.hire_edit, name="hire_edit"),
    path("team/hires/<int:hire_pk>/delete/", views.hire_delete, name="hire_delete"),
]
