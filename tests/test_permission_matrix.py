"""The permission matrix: every URL of the project, for every role, on the user's own engagement
and on another customer's, against the explicit tables below (issue 9, part 2).

How to read the tables: one row per URL name (namespaced, from the URL configuration), one
column per role. A cell of an engagement URL is ``own/other``: the status on the engagement the
role belongs to (``world.engagement``, customer A) and on another customer's (``world.other``,
customer B), each filled with objects of that engagement (``tests/matrix_support.py``), so a 404
on "other" is the access layer at work, never a missing object. A URL without an engagement has
one status per cell, except the calendar feed, whose token belongs to one engagement: own/other
there is A's token and B's (``CREDENTIAL_ROUTES``). ``a|b`` accepts either (only ``healthz``:
503 when Redis is away).

Roles: ``anonymous`` (no session), the four consultancy roles (architect and engineer are
members of A; manager and ops are consultancy-wide, so B answers like A — SPEC §1), the
customer approver and viewer of A, and ``outsider``, a consultant on no engagement.

Every 302 of an anonymous request must be "302 to login": its Location is the login page with
``next`` set to the URL asked for (``_Caller._check_sent_to_login``).

GET requests run as they are, and must change nothing stored. POSTs have an empty body: a role
refused (403, 404, 405, or anonymous) must change nothing stored — the whole database is
fingerprinted before and after — and an allowed POST (its answer is the form's 400, a redirect
after doing the action, or the page) runs in a savepoint rolled back afterwards, so every
request sees the same data.

A third check swaps one object of the URL for the other customer's object through the user's
own engagement (``/engagements/<A>/jobs/<job of B>/``): wherever the role reaches the view it
must answer 404.

Every URL name the resolver knows must have a row in both tables, and every row must name a
URL: a new view fails ``test_every_url_has_a_row`` with the line to add. The Django admin
(``admin:*``) is for staff superusers only and is checked by one rule for all its URLs:
``test_admin_is_for_staff_superusers_only``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url

from tests.matrix_support import (
    build_objects,
    data_fingerprint,
    fill,
    fingerprint_changes,
    kwarg_names,
    routes_by_name,
    url_patterns,
)

ROLES = ("anonymous", "architect", "engineer", "manager", "ops", "customer", "viewer", "outsider")
# URL kwargs that are not objects of the engagement (the phase number is a position, and the
# password-reset token a signed string: that view says "invalid link" to everyone).
NOT_OBJECTS = {"engagement_pk", "phase_number", "uidb64", "token"}
FIXED_KWARGS = {"uidb64": "MQ", "token": "set-password"}
# A kwarg name that means another thing on one route: the calendar feed's ``token`` is the
# engagement's calendar secret (``calendar_token`` from ``build_objects``), not a password-reset
# token.
ROUTE_KWARGS = {"handoff_calendar_feed": {"token": "calendar_token"}}
# URLs without ``engagement_pk`` whose credential belongs to one engagement: own/other cells like
# the engagement URLs. The calendar feed is for calendar clients, which cannot log in: the secret
# token in the URL is the credential, so whoever holds a valid token — anonymous, or a user of
# another customer — gets that engagement's calendar (200 on both sides, for every role), and the
# session plays no part. A wrong or regenerated token is 404: tests/handoff/test_core_views.py.
CREDENTIAL_ROUTES = {"handoff_calendar_feed"}
REFUSED = {403, 404, 405}

GET_TABLE = """
# url name                            anonymous architect engineer  manager   ops       customer  viewer    outsider
api_route                             405       405       405       405       405       405       405       405
design:approved_map                   302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:atom_lock                      302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:atom_move                      302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:equity                         302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:growth                         302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:hierarchy                      302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:hierarchy_diagram              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:hierarchy_publish              302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:hierarchy_roster               302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:hierarchy_split                302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:plan_settings                  302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:run_approve                    302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:run_assignment_csv             302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:run_detail                     302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:run_list                       302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:run_map_svg                    302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
design:run_meeting                    302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:run_withdraw                   302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
design:runs_compare                   302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:activity_list             302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:assumption_blocking       302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:assumption_detail         302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:assumption_list           302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:definition_edit           302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:definitions               302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:definitions_print         302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:engagement_create         302       200       403       403       403       403       403       403
engagements:engagement_detail         302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:engagement_edit           302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:engagement_list           302       200       200       200       200       200       200       200
engagements:feedback_add              302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:feedback_status           302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:gate_decide               302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:hours_list                302/302   200/404   200/404   200/200   200/200   403/404   403/404   404/404
engagements:intake                    302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:intake_autosave           302/302   405/404   403/404   403/403   403/403   405/404   403/404   404/404
engagements:intake_reopen             302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:intake_submit             302/302   405/404   403/404   403/403   403/403   405/404   403/404   404/404
engagements:intake_upload             302/302   405/404   403/404   403/403   403/403   405/404   403/404   404/404
engagements:intake_upload_download    302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:item_history              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:item_note                 302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:item_toggle               302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:job_detail                302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:job_list                  302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:job_status                302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:meeting_detail            302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:meeting_list              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:meeting_recap             302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:member_list               302/302   200/404   200/404   200/200   200/200   403/404   403/404   404/404
engagements:member_remove             302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:phase_board               302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:phase_reopen              302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:signoff_certificate       302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:signoff_list              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:signoff_sign              302/302   403/404   403/404   403/403   403/403   200/404   403/404   404/404
engagements:signoff_version           302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
engagements:stakeholder_edit          302/302   200/404   200/404   200/200   200/200   403/404   403/404   404/404
engagements:stakeholder_list          302/302   200/404   200/404   200/200   200/200   403/404   403/404   404/404
handoff:accuracy_add                  302/302   405/404   403/404   403/403   405/405   403/404   403/404   404/404
handoff:asset_toggle                  302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:calendar_regenerate           302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:debrief_save                  302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:enablement                    302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
handoff:enablement_publish            302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:handoff                       302/302   200/404   200/404   200/200   200/200   403/404   403/404   404/404
handoff:hypercare                     302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
handoff:hypercare_rollout             302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:issue_add                     302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
handoff:issue_resolve                 302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:maintenance                   302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
handoff:notes_save                    302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:occurrence_done               302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
handoff:office_hours_add              302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:package_download              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
handoff:package_file                  302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
handoff:package_list                  302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
handoff:project_close_publish         302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:training_save                 302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:trigger_list                  302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
handoff_calendar_feed                 200/200   200/200   200/200   200/200   200/200   200/200   200/200   200/200
healthz                               200|503   200|503   200|503   200|503   200|503   200|503   200|503   200|503
home                                  302       200       200       200       200       200       200       200
login                                 200       302       302       302       302       302       302       302
logout                                405       405       405       405       405       405       405       405
password_change                       302       200       200       200       200       200       200       200
password_change_done                  302       200       200       200       200       200       200       200
password_reset                        200       200       200       200       200       200       200       200
password_reset_complete               200       200       200       200       200       200       200       200
password_reset_confirm                200       200       200       200       200       200       200       200
password_reset_done                   200       200       200       200       200       200       200       200
routing:audit_detail                  302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:audit_list                    302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:batch_detail                  302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:batch_download                302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:batch_list                    302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:change_list                   302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:export_accounts               302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:export_fields                 302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:export_overrides              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:export_territories            302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:override_delete               302/302   405/404   405/404   403/403   403/403   403/404   403/404   404/404
routing:override_edit                 302/302   200/404   200/404   403/403   403/403   403/404   403/404   404/404
routing:override_list                 302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:overview                      302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:qa_case_create                302/302   200/404   200/404   403/403   403/403   403/404   403/404   404/404
routing:qa_case_delete                302/302   405/404   405/404   403/403   403/403   403/404   403/404   404/404
routing:qa_case_edit                  302/302   200/404   200/404   403/403   403/403   403/404   403/404   404/404
routing:qa_generate                   302/302   405/404   405/404   403/403   403/403   403/404   403/404   404/404
routing:qa_publish                    302/302   405/404   405/404   403/403   403/403   403/404   403/404   404/404
routing:qa_run                        302/302   405/404   405/404   403/403   403/403   403/404   403/404   404/404
routing:qa_run_detail                 302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:qa_suite                      302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:settings                      302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:tech_spec                     302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:territory_create              302/302   200/404   200/404   403/403   403/403   403/404   403/404   404/404
routing:territory_delete              302/302   405/404   405/404   403/403   403/403   403/404   403/404   404/404
routing:territory_edit                302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:test_record                   302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:token_list                    302/302   200/404   200/404   200/200   200/200   403/404   403/404   404/404
routing:token_revoke                  302/302   405/404   405/404   403/403   403/403   403/404   403/404   404/404
territories:account_export_csv        302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:account_export_download   302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:account_export_xlsx       302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
territories:account_list              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:coverage_detail           302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:data_quality              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:hire_create               302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:hire_delete               302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:hire_edit                 302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:import_detail             302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:import_errors_csv         302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:import_from_intake        302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:import_list               302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:rep_create                302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:rep_delete                302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:rep_edit                  302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:segment_list              302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:team                      302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:tier_matrix               302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:tier_matrix_publish       302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_create          302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_delete          302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_edit            302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_move            302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_preview         302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:valuation_detail          302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
territories:valuation_publish         302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:valuation_revalue         302/302   405/404   403/404   403/403   403/403   403/404   403/404   404/404
"""

POST_TABLE = """
# url name                            anonymous architect engineer  manager   ops       customer  viewer    outsider
api_route                             401       401       401       401       401       401       401       401
design:approved_map                   302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
design:atom_lock                      302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:atom_move                      302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:equity                         302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:growth                         302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:hierarchy                      302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
design:hierarchy_diagram              302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
design:hierarchy_publish              302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:hierarchy_roster               302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:hierarchy_split                302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:plan_settings                  302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:run_approve                    302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:run_assignment_csv             302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
design:run_detail                     302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
design:run_list                       302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
design:run_map_svg                    302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
design:run_meeting                    302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:run_withdraw                   302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
design:runs_compare                   302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:activity_list             302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:assumption_blocking       302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:assumption_detail         302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:assumption_list           302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:definition_edit           302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:definitions               302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:definitions_print         302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:engagement_create         302       200       403       403       403       403       403       403
engagements:engagement_detail         302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:engagement_edit           302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:engagement_list           302       405       405       405       405       405       405       405
engagements:feedback_add              302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:feedback_status           302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:gate_decide               302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:hours_list                302/302   200/404   200/404   403/403   403/403   403/404   403/404   404/404
engagements:intake                    302/302   302/404   403/404   403/403   403/403   302/404   403/404   404/404
engagements:intake_autosave           302/302   200/404   403/404   403/403   403/403   200/404   403/404   404/404
engagements:intake_reopen             302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:intake_submit             302/302   302/404   403/404   403/403   403/403   302/404   403/404   404/404
engagements:intake_upload             302/302   302/404   403/404   403/403   403/403   302/404   403/404   404/404
engagements:intake_upload_download    302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:item_history              302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:item_note                 302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:item_toggle               302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:job_detail                302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:job_list                  302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:job_status                302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:meeting_detail            302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:meeting_list              302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:meeting_recap             302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:member_list               302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:member_remove             302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:phase_board               302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:phase_reopen              302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:signoff_certificate       302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:signoff_list              302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:signoff_sign              302/302   403/404   403/404   403/403   403/403   200/404   403/404   404/404
engagements:signoff_version           302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
engagements:stakeholder_edit          302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
engagements:stakeholder_list          302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:accuracy_add                  302/302   400/404   403/404   403/403   400/400   403/404   403/404   404/404
handoff:asset_toggle                  302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:calendar_regenerate           302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:debrief_save                  302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:enablement                    302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:enablement_publish            302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:handoff                       302/302   405/404   405/404   405/405   405/405   403/404   403/404   404/404
handoff:hypercare                     302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
handoff:hypercare_rollout             302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:issue_add                     302/302   400/404   403/404   403/403   403/403   400/404   403/404   404/404
handoff:issue_resolve                 302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:maintenance                   302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:notes_save                    302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:occurrence_done               302/302   302/404   403/404   403/403   403/403   302/404   403/404   404/404
handoff:office_hours_add              302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:package_download              302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
handoff:package_file                  302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
handoff:package_list                  302/302   302/404   403/404   403/403   302/302   403/404   403/404   404/404
handoff:project_close_publish         302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:training_save                 302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
handoff:trigger_list                  302/302   302/404   302/404   302/302   302/302   403/404   403/404   404/404
handoff_calendar_feed                 405/405   405/405   405/405   405/405   405/405   405/405   405/405   405/405
healthz                               405       405       405       405       405       405       405       405
home                                  302       405       405       405       405       405       405       405
login                                 200       302       302       302       302       302       302       302
logout                                302       302       302       302       302       302       302       302
password_change                       302       200       200       200       200       200       200       200
password_change_done                  302       405       405       405       405       405       405       405
password_reset                        200       200       200       200       200       200       200       200
password_reset_complete               405       405       405       405       405       405       405       405
password_reset_confirm                200       200       200       200       200       200       200       200
password_reset_done                   405       405       405       405       405       405       405       405
routing:audit_detail                  302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:audit_list                    302/302   400/404   403/404   403/403   400/400   403/404   403/404   404/404
routing:batch_detail                  302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:batch_download                302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:batch_list                    302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:change_list                   302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:export_accounts               302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:export_fields                 302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:export_overrides              302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:export_territories            302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:override_delete               302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
routing:override_edit                 302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:override_list                 302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:overview                      302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
routing:qa_case_create                302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:qa_case_delete                302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
routing:qa_case_edit                  302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:qa_generate                   302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
routing:qa_publish                    302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
routing:qa_run                        302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
routing:qa_run_detail                 302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:qa_suite                      302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:settings                      302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:tech_spec                     302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
routing:territory_create              302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:territory_delete              302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
routing:territory_edit                302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:test_record                   302/302   200/404   200/404   200/200   200/200   200/404   200/404   404/404
routing:token_list                    302/302   400/404   400/404   403/403   403/403   403/404   403/404   404/404
routing:token_revoke                  302/302   302/404   302/404   403/403   403/403   403/404   403/404   404/404
territories:account_export_csv        302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
territories:account_export_download   302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
territories:account_export_xlsx       302/302   302/404   302/404   302/302   302/302   302/404   302/404   404/404
territories:account_list              302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
territories:coverage_detail           302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:data_quality              302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:hire_create               302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:hire_delete               302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:hire_edit                 302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:import_detail             302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:import_errors_csv         302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
territories:import_from_intake        302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:import_list               302/302   400/404   403/404   403/403   403/403   400/404   403/404   404/404
territories:rep_create                302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:rep_delete                302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:rep_edit                  302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:segment_list              302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:team                      302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
territories:tier_matrix               302/302   405/404   405/404   405/405   405/405   405/404   405/404   404/404
territories:tier_matrix_publish       302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_create          302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_delete          302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_edit            302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_move            302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:tier_rule_preview         302/302   200/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:valuation_detail          302/302   400/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:valuation_publish         302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
territories:valuation_revalue         302/302   302/404   403/404   403/403   403/403   403/404   403/404   404/404
"""


def _parse(table: str) -> dict[str, dict[str, list[set[int]]]]:
    rows: dict[str, dict[str, list[set[int]]]] = {}
    for line in table.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, *cells = line.split()
        assert len(cells) == len(ROLES), f"{name}: {len(cells)} cells for {len(ROLES)} roles"
        assert name not in rows, f"{name}: two rows"
        rows[name] = {
            role: [{int(s) for s in part.split("|")} for part in cell.split("/")]
            for role, cell in zip(ROLES, cells, strict=True)
        }
    return rows


GET = _parse(GET_TABLE)
POST = _parse(POST_TABLE)


def _project_routes():
    return routes_by_name(exclude_namespaces=("admin",))


def _is_engagement_route(route) -> bool:
    return "engagement_pk" in kwarg_names(route.route)


def _sides(name: str, route) -> tuple[str, ...]:
    if _is_engagement_route(route) or name in CREDENTIAL_ROUTES:
        return ("own", "other")
    return ("own",)


def _values(name: str, values: dict) -> dict:
    return {**values, **{k: values[v] for k, v in ROUTE_KWARGS.get(name, {}).items()}}


def test_every_url_has_a_row():
    routes = _project_routes()
    missing = []
    for name, route in sorted(routes.items()):
        for table_name, table in (("GET_TABLE", GET), ("POST_TABLE", POST)):
            if name not in table:
                missing.append(
                    f"add {name} (/{route.route}) to {table_name} in tests/test_permission_matrix.py"
                )
    stale = [
        f"{name} is in {table_name} but no URL has that name: remove the row"
        for table_name, table in (("GET_TABLE", GET), ("POST_TABLE", POST))
        for name in sorted(set(table) - set(routes))
    ]
    assert not missing + stale, "\n".join(missing + stale)


def test_rows_have_two_statuses_exactly_on_engagement_urls():
    routes = _project_routes()
    wrong = []
    for table_name, table in (("GET_TABLE", GET), ("POST_TABLE", POST)):
        for name, cells in table.items():
            if name not in routes:
                continue
            want = len(_sides(name, routes[name]))
            wrong += [
                f"{table_name} {name} {role}: {len(parts)} statuses, expected {want}"
                for role, parts in cells.items()
                if len(parts) != want
            ]
    assert not wrong, "\n".join(wrong)


def test_every_unnamed_project_url_is_reported():
    unnamed = [r.route for r in url_patterns() if "<unnamed" in r.name and ":" not in r.name]
    assert not unnamed, f"give these URL patterns a name so the matrix can list them: {unnamed}"


@pytest.fixture
def objects(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    own = build_objects(world.engagement, approver=world.customer, architect=world.architect)
    other = build_objects(world.other, approver=world.customer2, architect=world.architect2)
    return {"own": {**own, **FIXED_KWARGS}, "other": {**other, **FIXED_KWARGS}}


class _Caller:
    """Requests as one role; re-logs in after a POST to ``logout`` ends the session."""

    def __init__(self, client, user):
        self.client, self.user = client, user
        self.not_to_login: list[str] = []
        self._login()

    def _login(self):
        self.client.logout()
        if self.user is not None:
            self.client.force_login(self.user)

    def __call__(self, method: str, url: str, *, rollback: bool) -> int:
        if rollback:
            with transaction.atomic():
                response = getattr(self.client, method)(url)
                transaction.set_rollback(True)
        else:
            response = getattr(self.client, method)(url)
        if self.user is None and response.status_code == 302:
            self._check_sent_to_login(method, url, response["Location"])
        if method == "post" and url.rstrip("/").endswith("/logout"):
            self._login()
        return response.status_code

    # Every 302 an anonymous request gets is "302 to login": the login page, with ``next``
    # bringing the user back to what they asked for (logout has nowhere to come back to).
    def _check_sent_to_login(self, method: str, url: str, location: str) -> None:
        login = resolve_url(settings.LOGIN_URL)
        where = urlsplit(location)
        back = parse_qs(where.query).get("next", [])
        if url.rstrip("/").endswith("/logout"):
            back = [url]
        if where.path != login or back != [url]:
            self.not_to_login.append(f"{method.upper()} {url}: 302 to {location}, not {login}")


def _fmt(statuses: set[int]) -> str:
    return "|".join(str(s) for s in sorted(statuses))


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(role, world, objects, client):
    routes = _project_routes()
    call = _Caller(client, None if role == "anonymous" else getattr(world, role))
    refused_role = role == "anonymous"
    before = data_fingerprint()
    wrong: list[str] = []

    # GET and refused POSTs, run for real: nothing stored may change.
    for method, table in (("get", GET), ("post", POST)):
        for name, route in sorted(routes.items()):
            if name not in table:
                continue  # test_every_url_has_a_row names it
            sides = _sides(name, route)
            for side, expected in zip(sides, table[name][role], strict=True):
                if method == "post" and not (refused_role or expected <= REFUSED):
                    continue
                url = fill(route.route, _values(name, objects[side]))
                status = call(method, url, rollback=False)
                if status not in expected:
                    wrong.append(
                        f"{method.upper()} {name} ({side}) {url}: {status}, expected {_fmt(expected)}"
                    )
    changed = fingerprint_changes(before, data_fingerprint())
    assert not changed, f"{role}: GETs and refused POSTs changed stored data:\n" + "\n".join(
        changed
    )

    # Allowed POSTs, each rolled back.
    for name, route in sorted(routes.items()):
        if name not in POST:
            continue
        sides = _sides(name, route)
        for side, expected in zip(sides, POST[name][role], strict=True):
            if refused_role or expected <= REFUSED:
                continue
            url = fill(route.route, _values(name, objects[side]))
            status = call("post", url, rollback=True)
            if status not in expected:
                wrong.append(f"POST {name} ({side}) {url}: {status}, expected {_fmt(expected)}")

    # Another customer's object through the role's own engagement: 404 wherever the role
    # reaches the view (a refused role keeps its refusal, or gets 404).
    for method, table in (("get", GET), ("post", POST)):
        for name, route in sorted(routes.items()):
            if name not in table or not _is_engagement_route(route):
                continue
            foreign = [k for k in kwarg_names(route.route) if k not in NOT_OBJECTS]
            expected_own = table[name][role][0]
            for kwarg in foreign:
                own, other = _values(name, objects["own"]), _values(name, objects["other"])
                url = fill(route.route, {**own, kwarg: other[kwarg]})
                if refused_role:
                    want = expected_own
                elif expected_own <= REFUSED:
                    # A view may look the object up before it checks the capability (a
                    # checklist item decides who may toggle it): 404 is then as right as 403.
                    want = expected_own | {404}
                else:
                    want = {404}
                status = call(method, url, rollback=method == "post")
                if status not in want:
                    wrong.append(
                        f"{method.upper()} {name} with the other customer's {kwarg} {url}: "
                        f"{status}, expected {_fmt(want)}"
                    )
    assert not wrong, f"{role}: {len(wrong)} answers differ from the matrix:\n" + "\n".join(wrong)
    assert not call.not_to_login, "\n".join(call.not_to_login)


# --- The Django admin ---------------------------------------------------------------------------

ADMIN_KWARGS = {
    "object_id": "1",
    "id": "1",
    "content_type_id": "1",
    "app_label": "engagements",
    "queue_index": "0",
    "job_id": "x",
    "result_id": "x",
    "key": "x",
    "scheduler_index": "0",
    "connection_index": "0",
    "scheduler_name": "x",
    "cron_job_name": "x",
    "token": "x",
    "url": "engagements/nothing/",
}
# The admin's own login page answers everyone (it tells a logged-in non-staff user they are not
# authorized); its logout sends a GET back to the admin index (whose answer is the login page);
# django-rq's statistics JSON is for its API token (401 without one).
ADMIN_OWN_ANSWER = {
    "admin:login": (200, ""),
    "admin:logout": (302, "/admin/"),
    "admin:django_rq_home_json": (401, ""),
}


@pytest.mark.parametrize("role", ROLES)
def test_admin_is_for_staff_superusers_only(role, world, client):
    """Every admin URL (and django-rq's dashboard under it) sends anonymous users and every
    portal role — none of them is ``is_staff`` — to the admin login page."""
    user = None if role == "anonymous" else getattr(world, role)
    assert user is None or not user.is_staff
    if user is not None:
        client.force_login(user)
    wrong = []
    admin_routes = [r for r in url_patterns() if r.name.startswith("admin:")]
    assert len(admin_routes) > 20
    for route in admin_routes:
        url = fill(route.route, ADMIN_KWARGS)
        response = client.get(url)
        if route.name in ADMIN_OWN_ANSWER:
            status, location = ADMIN_OWN_ANSWER[route.name]
            ok = response.status_code == status and response.get("Location", "") == location
        else:
            ok = response.status_code == 302 and response.url.startswith("/admin/login/")
        if not ok:
            wrong.append(
                f"GET {route.name} {url}: {response.status_code} {response.get('Location', '')}"
            )
    assert not wrong, "\n".join(wrong)


def test_a_staff_superuser_reaches_the_admin(db, client):
    from tests.factories import make_user

    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/engagements/engagement/").status_code == 200
