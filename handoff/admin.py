from django.contrib import admin

from handoff.models import (
    AccuracyCheck,
    CalendarFeed,
    Debrief,
    HandoffNotes,
    Hypercare,
    HypercareExtension,
    HypercareIssue,
    MaintenanceOccurrence,
    OfficeHours,
    TrainingSession,
    TriggerEvaluation,
)


@admin.register(TrainingSession)
class TrainingSessionAdmin(admin.ModelAdmin):
    list_display = ("engagement", "audience", "state", "day", "minutes")
    list_filter = ("state",)
    list_select_related = ("engagement__organization",)


@admin.register(Hypercare)
class HypercareAdmin(admin.ModelAdmin):
    list_display = ("engagement", "rollout_date", "updated_at")
    list_select_related = ("engagement__organization",)


@admin.register(HypercareExtension)
class HypercareExtensionAdmin(admin.ModelAdmin):
    list_display = ("engagement", "days", "created_at")
    list_select_related = ("engagement__organization",)


@admin.register(OfficeHours)
class OfficeHoursAdmin(admin.ModelAdmin):
    list_display = ("engagement", "day", "topics")
    list_select_related = ("engagement__organization",)


@admin.register(HypercareIssue)
class HypercareIssueAdmin(admin.ModelAdmin):
    list_display = ("engagement", "kind", "severity", "state", "summary", "reported_on")
    list_filter = ("kind", "severity", "state")
    list_select_related = ("engagement__organization",)


@admin.register(AccuracyCheck)
class AccuracyCheckAdmin(admin.ModelAdmin):
    list_display = ("engagement", "day", "sampled", "correct")
    list_select_related = ("engagement__organization",)


@admin.register(MaintenanceOccurrence)
class MaintenanceOccurrenceAdmin(admin.ModelAdmin):
    list_display = ("engagement", "due", "task", "owner", "done", "red_flag_hit")
    list_filter = ("cadence", "done")
    list_select_related = ("engagement__organization",)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ("engagement", "created_at")
    exclude = ("token",)  # the secret stays out of admin pages
    list_select_related = ("engagement__organization",)


@admin.register(TriggerEvaluation)
class TriggerEvaluationAdmin(admin.ModelAdmin):
    list_display = ("engagement", "name", "fired", "value", "threshold", "evaluated_at")
    list_filter = ("fired", "slug")
    list_select_related = ("engagement__organization",)


@admin.register(HandoffNotes)
class HandoffNotesAdmin(admin.ModelAdmin):
    list_display = ("engagement", "updated_at")
    list_select_related = ("engagement__organization",)


@admin.register(Debrief)
class DebriefAdmin(admin.ModelAdmin):
    list_display = ("engagement", "updated_at")
    list_select_related = ("engagement__organization",)
