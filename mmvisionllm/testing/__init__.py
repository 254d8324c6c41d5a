"""Helpers for checks against external references (not imported by the models)."""
