"""Views of the engagements app, one module per subject (core, signoffs, …)."""
