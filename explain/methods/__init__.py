"""Explainer plugins, one Captum method per file (registered in plugins/builtins.py)."""
