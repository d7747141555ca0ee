"""Handoff models: enablement, hypercare, maintenance, triggers, handoff and close (this file),
and the documentation package (``handoff.package_models``)."""

from handoff.package_models import *  # noqa: F401,F403  (one app, two files of models)
