from django.urls import path

from territories import design_views as views

app_name = "design"

urlpatterns = [
    # /engagements/<engagement_pk>/territories/hierarchy/...
    path("hierarchy/", views.hierarchy, name="hierarchy"),
    path("hierarchy/roster/", views.hierarchy_roster, name="hierarchy_roster"),
    path("hierarchy/split/", views.hierarchy_split, name="hierarchy_split"),
    path("hierarchy/publish/", views.hierarchy_publish, name="hierarchy_publish"),
    path("hierarchy/diagram.svg", views.hierarchy_diagram, name="hierarchy_diagram"),
    # .../territories/runs/...
    path("", views.run_list, name="run_list"),
    path("runs/compare/", views.runs_compare, name="runs_compare"),
    path("runs/<int:run_pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_pk>/approve/", views.run_approve, name="run_approve"),
    path("runs/<int:run_pk>/withdraw/", views.run_withdraw, name="run_withdraw"),
    path("runs/<int:run_pk>/meetings/", views.run_meeting, name="run_meeting"),
    path("runs/<int:run_pk>/map.svg", views.run_map_svg, name="run_map_svg"),
    path("runs/<int:run_pk>/assignment.csv", views.run_assignment_csv, name="run_assignment_csv"),
    path("runs/<int:run_pk>/atoms/<int:atom_pk>/move/", views.atom_move, name="atom_move"),
    path("runs/<int:run_pk>/atoms/<int:atom_pk>/lock/", views.atom_lock, name="atom_lock"),
    path("runs/<int:run_pk>/growth/", views.growth, name="growth"),
    path("runs/<int:run_pk>/equity/", views.equity, name="equity"),
    # .../territories/map/ and plan/
    path("map/", views.approved_map, name="approved_map"),
    path("plan/", views.plan_settings, name="plan_settings"),
]
