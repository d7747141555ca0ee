from django.contrib import admin

from territories.models import Account


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "engagement", "state", "annual_revenue", "is_customer")
    list_filter = ("engagement", "is_customer", "state")
    search_fields = ("name", "external_id", "domain")
