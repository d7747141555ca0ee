# The handoff app's first migration: empty, so enablement and package models can each add theirs.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = []
