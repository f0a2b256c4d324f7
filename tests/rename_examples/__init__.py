"""Processes the rename tests load and unload by hand (tests/test_names.py); never auto-loaded."""
