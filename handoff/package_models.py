"""Documentation package models (the package build, its documents and its manifest)."""
