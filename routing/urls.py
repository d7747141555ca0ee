from django.urls import path

from routing import views

app_name = "routing"

urlpatterns = [
    # /engagements/<engagement_pk>/routing/...
    path("", views.overview, name="overview"),
    path("territories/new/", views.territory_edit, name="territory_create"),
    path("territories/<int:territory_pk>/", views.territory_edit, name="territory_edit"),
    path("territories/<int:territory_pk>/delete/", views.territory_delete, name="territory_delete"),
    path("named-accounts/", views.override_list, name="override_list"),
    path("named-accounts/<int:override_pk>/", views.override_edit, name="override_edit"),
    path("named-accounts/<int:override_pk>/delete/", views.override_delete, name="override_delete"),
    path("settings/", views.routing_settings, name="settings"),
    path("changes/", views.change_list, name="change_list"),
    path("test/", views.test_record, name="test_record"),
    # .../routing/batches/
    path("batches/", views.batch_list, name="batch_list"),
    path("batches/<int:batch_pk>/", views.batch_detail, name="batch_detail"),
    path("batches/<int:batch_pk>/download/", views.batch_download, name="batch_download"),
    # .../routing/qa/
    path("qa/", views.qa_suite, name="qa_suite"),
    path("qa/generate/", views.qa_generate, name="qa_generate"),
    path("qa/run/", views.qa_run, name="qa_run"),
    path("qa/publish/", views.qa_publish, name="qa_publish"),
    path("qa/cases/new/", views.qa_case_edit, name="qa_case_create"),
    path("qa/cases/<int:case_pk>/", views.qa_case_edit, name="qa_case_edit"),
    path("qa/cases/<int:case_pk>/delete/", views.qa_case_delete, name="qa_case_delete"),
    path("qa/runs/<int:qa_run_pk>/", views.qa_run_detail, name="qa_run_detail"),
    # .../routing/audits/
    path("audits/", views.audit_list, name="audit_list"),
    path("audits/<int:audit_pk>/", views.audit_detail, name="audit_detail"),
    # .../routing/tokens/
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:token_pk>/revoke/", views.token_revoke, name="token_revoke"),
    # .../routing/spec/ and exports
    path("spec/", views.tech_spec, name="tech_spec"),
    path("exports/territories.csv", views.export_territories, name="export_territories"),
    path("exports/fields.csv", views.export_fields, name="export_fields"),
    path("exports/overrides.csv", views.export_overrides, name="export_overrides"),
    path("exports/accounts.csv", views.export_accounts, name="export_accounts"),
]
